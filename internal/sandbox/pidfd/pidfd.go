// Package pidfd waits for the end of child processes in the Go runtime's
// poller, through pidfds (Linux 5.3), instead of in a wait system call
// that holds an OS thread for each process until it ends.
package pidfd

import "os/exec"

// Wait waits for cmd, which has been started, to end, and returns what
// cmd.Wait returns. While the process runs, it holds a goroutine and a
// pidfd, but no OS thread; where there is no pidfd it is cmd.Wait.
func Wait(cmd *exec.Cmd) error {
	exited(cmd.Process.Pid)
	return cmd.Wait()
}
