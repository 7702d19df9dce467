package environment

import "syscall"

func sysProcAttr() *syscall.SysProcAttr {
	// The runtime dies with ember, never outlives it.
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
