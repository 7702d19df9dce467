package main

import "syscall"

// childSysProcAttr makes a child die with the benchmark, even when the
// benchmark is killed before it can stop its children.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
