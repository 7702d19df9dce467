package harness

import "syscall"

// ChildSysProcAttr makes a child get sig when the benchmark dies, even
// when it is killed before it can stop its children.
func ChildSysProcAttr(sig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: sig}
}
