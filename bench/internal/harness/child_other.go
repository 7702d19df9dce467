//go:build !linux

package harness

import "syscall"

// ChildSysProcAttr sets nothing: outside Linux the benchmark relies on
// stopping its children itself.
func ChildSysProcAttr(syscall.Signal) *syscall.SysProcAttr { return nil }
