package main

// int80Getpid calls getpid through the 32-bit x86 system call ABI.
func int80Getpid() int32

const haveInt80 = true
