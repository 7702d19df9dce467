//go:build linux && (386 || arm)

package sandbox

import "golang.org/x/sys/unix"

// The system calls that set 32-bit user and group IDs.
const (
	sysSetgroups = unix.SYS_SETGROUPS32
	sysSetresuid = unix.SYS_SETRESUID32
	sysSetresgid = unix.SYS_SETRESGID32
)
