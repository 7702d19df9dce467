//go:build linux && !(386 || arm)

package sandbox

import "golang.org/x/sys/unix"

// The system calls that set 32-bit user and group IDs.
const (
	sysSetgroups = unix.SYS_SETGROUPS
	sysSetresuid = unix.SYS_SETRESUID
	sysSetresgid = unix.SYS_SETRESGID
)
