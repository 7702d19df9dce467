package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// errCancelled is the init stage's end when the host side went away
// instead of releasing it.
var errCancelled = errors.New("released by nobody: the sandbox was destroyed before exec")

// RunInit is the init stage of a sandbox: PID 1 of the new namespaces, run
// as root. It builds the sandbox from the spec it is sent, reports ready,
// waits to be released and executes the command. It returns only on
// failure, which it has reported to the host side too; the caller exits.
func RunInit() error {
	// Credentials, no_new_privs and the seccomp filter belong to a thread,
	// and exec keeps the calling thread's: everything happens on this one.
	runtime.LockOSThread()

	status := os.NewFile(fdStatus, "status")
	if status == nil {
		return errors.New("no status pipe: not started by a sandbox")
	}
	// Close-on-exec: the host side reads EOF once the exec has worked.
	syscall.CloseOnExec(fdStatus)
	defer status.Close()

	err := runInit(status)
	if errors.Is(err, errCancelled) {
		return err
	}
	if werr := writeMessage(status, errorMessage(err)); werr != nil {
		return fmt.Errorf("%w (and reporting it: %v)", err, werr)
	}
	return err
}

// runInit does RunInit's work and returns only on failure.
func runInit(status *os.File) error {
	// Everything that needs no spec comes first: a sandbox started ahead
	// does it while it waits for one. With loopback up, the host side can
	// open listeners on 127.0.0.1 in the namespace.
	filter, err := prepare()
	if err == io.EOF {
		return errCancelled
	}
	if err != nil {
		return err
	}
	// fdSpec stays open for /tmp's file system, which follows.
	spec, files, err := receiveSpec(fdSpec)
	switch {
	case err == io.EOF:
		return errCancelled
	case err != nil:
		return err
	case len(spec.Command) == 0:
		return errors.New("read spec: no command")
	}
	for role, fd := range map[fileRole]int{roleStdout: 1, roleStderr: 2} {
		if from, ok := files[role]; ok {
			if err := unix.Dup3(from, fd, 0); err != nil {
				return fmt.Errorf("%s: %w", role, err)
			}
			unix.Close(from)
		}
	}

	err = buildRoot(spec)
	unix.Close(fdSpec)
	if err != nil {
		return err
	}
	if err := configure(spec, filter); err != nil {
		return err
	}
	if err := writeMessage(status, initMessage{Ready: true}); err != nil {
		return fmt.Errorf("report ready: %w", err)
	}

	release := os.NewFile(fdGo, "go")
	var b [1]byte
	n, err := release.Read(b[:])
	release.Close()
	if n != 1 {
		if err == nil || err == io.EOF {
			return errCancelled
		}
		return fmt.Errorf("wait for release: %w", err)
	}

	// Nothing but the standard files and the status pipe reaches the
	// command. (fdSpec, fdGo and the files sent with the spec are closed
	// by now, or close on exec.)
	if err := unix.CloseRange(fdStatus+1, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close inherited files: %w", err)
	}
	err = syscall.Exec(spec.Command[0], spec.Command, spec.Env)
	return fmt.Errorf("exec %s: %w", spec.Command[0], err)
}

// prepare sets up what every sandbox has, before the spec: loopback, the
// network the blankMessage brings, the seccomp filter to load at the end.
func prepare() (*seccompFilter, error) {
	if err := loopbackUp(); err != nil {
		return nil, fmt.Errorf("bring loopback up: %w", err)
	}
	var blank blankMessage
	fds, err := receiveMessage(fdSpec, &blank)
	if err == io.EOF {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("read start message: %w", err)
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
	if blank.Net != nil {
		if err := outboundUp(blank.Net); err != nil {
			return nil, fmt.Errorf("outbound network: %w", err)
		}
	}
	filter, err := newSeccompFilter()
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	// The spec's decoding is then as quick in a sandbox started ahead as
	// the rest: its code is paged in and its type information built.
	var warm initSpec
	json.Unmarshal([]byte(`{"Command":["/"],"Binds":[{"Target":"/"}],"Etc":{"":""},"Files":["stdout"],"UID":1}`), &warm)
	return filter, nil
}

// configure sets up everything but the file system and the network, as
// the last steps before exec: host name, limits, user, seccomp.
func configure(spec *initSpec, filter *seccompFilter) error {
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("set host name: %w", err)
		}
	}
	// Every sandbox's limits. syscall.Setrlimit, not unix.Setrlimit: it
	// also stops the Go runtime from restoring its own NOFILE limit at exec.
	limits := []int{unix.RLIMIT_NOFILE, unix.RLIMIT_NPROC}
	if spec.NoProcRlimit {
		limits = limits[:1]
	}
	for _, res := range limits {
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: 1024, Max: 1024}); err != nil {
			return fmt.Errorf("set rlimit %d: %w", res, err)
		}
	}
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	if err := os.Chdir(dir); err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	if err := setUser(spec.UID, spec.GID); err != nil {
		return err
	}
	// A change of user clears the parent-death signal: set it again.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set parent-death signal: %w", err)
	}
	if err := filter.load(); err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	return nil
}

// setUser makes the calling thread's user uid and group gid, with no
// supplementary groups. Only this thread changes (the syscall package's
// Setuid would stop every thread of the process for it, a quarter of a
// millisecond): it is the one that executes the command, and the other
// threads end with that exec.
func setUser(uid, gid int) error {
	if _, _, errno := unix.RawSyscall(sysSetgroups, 0, 0, 0); errno != 0 {
		return fmt.Errorf("setgroups: %w", errno)
	}
	if _, _, errno := unix.RawSyscall(sysSetresgid, uintptr(gid), uintptr(gid), uintptr(gid)); errno != 0 {
		return fmt.Errorf("setgid %d: %w", gid, errno)
	}
	if _, _, errno := unix.RawSyscall(sysSetresuid, uintptr(uid), uintptr(uid), uintptr(uid)); errno != 0 {
		return fmt.Errorf("setuid %d: %w", uid, errno)
	}
	return nil
}
