package pidfd

import (
	"os"

	"golang.org/x/sys/unix"
)

// exited returns once process pid, a child of this process that has not
// been waited for, has ended, without reaping it; at once when it cannot
// watch it.
func exited(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	// Non-blocking, os.NewFile gives the pidfd to the poller, which
	// reports it readable once the process has ended.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, 0)
			if err == unix.EINTR {
				continue
			}
			// An error ends the watch: the caller's wait takes over.
			return err != nil || n > 0
		}
	})
}
