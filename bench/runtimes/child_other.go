//go:build !linux

package main

import "syscall"

// childSysProcAttr sets nothing: outside Linux the benchmark relies on
// stopping its children itself.
func childSysProcAttr(syscall.Signal) *syscall.SysProcAttr { return nil }
