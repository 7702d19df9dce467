package main

import "syscall"

// childSysProcAttr makes a child get sig when the benchmark dies, even
// when it is killed before it can stop its children: SIGTERM for ember,
// so that it still removes its cgroups, SIGKILL for a baseline.
func childSysProcAttr(sig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: sig}
}
