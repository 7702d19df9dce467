package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// errCancelled is the init stage's end when the host side went away
// instead of releasing it.
var errCancelled = errors.New("released by nobody: the sandbox was destroyed before exec")

// RunInit is the init stage of a sandbox: PID 1 of the new namespaces, run
// as root. It builds the sandbox from the spec it is sent, reports ready,
// waits to be released, starts the command and stays as the sandbox's
// process 1 until the command ends; then it reports how and returns nil,
// and the caller exits, which ends every other process of the sandbox. On
// failure it returns the error, which it has reported to the host side
// too; the caller exits.
func RunInit() error {
	// no_new_privs and the seccomp filter belong to a thread, and the
	// command is started from this one, which it inherits them from.
	runtime.LockOSThread()

	status := os.NewFile(fdStatus, "status")
	if status == nil {
		return errors.New("no status pipe: not started by a sandbox")
	}
	// Nothing that the init stage starts inherits it.
	syscall.CloseOnExec(fdStatus)
	defer status.Close()

	err := runInit(status)
	if err == nil || errors.Is(err, errCancelled) {
		return err
	}
	if werr := writeMessage(status, errorMessage(err)); werr != nil {
		return fmt.Errorf("%w (and reporting it: %v)", err, werr)
	}
	return err
}

// runInit does RunInit's work.
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
			if err := unix.Dup3(from[0], fd, 0); err != nil {
				return fmt.Errorf("%s: %w", role, err)
			}
			unix.Close(from[0])
		}
	}

	spec.helperOutputs = files[roleHelperOutput]
	err = buildRoot(spec, files[roleBind])
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

	// Nothing but the standard files reaches the command. (fdSpec, fdGo
	// and the files sent with the spec are closed by now.)
	if err := unix.CloseRange(fdStatus+1, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close inherited files: %w", err)
	}
	return supervise(spec, status)
}

// forwarded are the signals that the init stage passes on to the
// command's processes.
var forwarded = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

// passSignalsOn passes the forwarded signals on to every process of the
// sandbox's PID namespace but the init stage. It starts before the spec
// comes: making signals go to a channel starts threads and makes the
// init stage's own thread wait for them, which the start of the command
// need not.
func passSignalsOn() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, forwarded...)
	go func() {
		for sig := range signals {
			unix.Kill(-1, sig.(syscall.Signal))
		}
	}()
}

// supervise starts the command as the init stage's child, as the
// sandbox's user, and
// stays as process 1 of the sandbox: it reaps the
// orphans the command leaves, passes on the signals the host side sends,
// and, when the command has ended, reports how; it returns nil once the
// command and every helper have ended, reporting each helper's end too. It
// returns an error if the command did not start.
//
// A child, not an exec of the init stage: an exec replaces a
// multi-threaded process with a large memory map, which takes a
// millisecond more than a vfork and exec.
func supervise(spec *initSpec, status *os.File) error {
	attr := &syscall.ProcAttr{
		Env:   spec.Env,
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(spec.UID), Gid: uint32(spec.GID), Groups: []uint32{}},
			Pdeathsig:  syscall.SIGKILL,
		},
	}
	// On this thread, the one with the seccomp filter, which the child
	// inherits.
	at := time.Now().UnixNano()
	pid, err := syscall.ForkExec(spec.Command[0], spec.Command, attr)
	if err != nil {
		return fmt.Errorf("exec %s: %w", spec.Command[0], err)
	}
	if err := writeMessage(status, initMessage{Started: true, At: at}); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		return fmt.Errorf("report start: %w", err)
	}
	// The helpers start after the command, so that the command is the
	// init stage's first child, as the host side finds it.
	helpers := make(map[int]int, len(spec.Helpers))
	outputs := spec.helperOutputs
	for i, h := range spec.Helpers {
		hattr := *attr
		hattr.Env = h.Env
		if i < len(spec.HelperOutputs) && spec.HelperOutputs[i] && len(outputs) > 0 {
			// Its own output, as its stdout and stderr; the init stage's
			// copy closes once every helper has started.
			out := uintptr(outputs[0])
			outputs = outputs[1:]
			hattr.Files = []uintptr{0, out, out}
		}
		hpid, err := syscall.ForkExec(h.Command[0], h.Command, &hattr)
		if err != nil {
			// As if it had exited at once with status 127, as a shell
			// reports a command it cannot run.
			exit := uint32(127 << 8)
			if werr := writeMessage(status, initMessage{HelperExit: &exit, Helper: i}); werr != nil {
				return fmt.Errorf("report helper %d: %w", i, werr)
			}
			continue
		}
		helpers[hpid] = i
	}
	for _, fd := range spec.helperOutputs {
		unix.Close(fd)
	}
	commandDone := false
	for !commandDone || len(helpers) > 0 {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for %s: %w", spec.Command[0], err)
		}
		exit := uint32(ws)
		if i, ok := helpers[got]; ok {
			delete(helpers, got)
			if err := writeMessage(status, initMessage{HelperExit: &exit, Helper: i}); err != nil {
				return fmt.Errorf("report helper %d: %w", i, err)
			}
			continue
		}
		if got != pid {
			continue
		}
		commandDone = true
		if err := writeMessage(status, initMessage{Exit: &exit}); err != nil {
			return err
		}
	}
	return nil
}

// prepare sets up what every sandbox has, before the spec: loopback, the
// root begun, the network the blankMessage brings, the seccomp filter to
// load at the end.
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
	if err := prebuild(blank.Root); err != nil {
		return nil, err
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
	passSignalsOn()
	// The spec's decoding is then as quick in a sandbox started ahead as
	// the rest: its code is paged in and its type information built.
	var warm initSpec
	json.Unmarshal([]byte(`{"Command":["/"],"Binds":[{"Target":"/"}],"Etc":{"":""},"Files":["stdout"],"UID":1}`), &warm)
	return filter, nil
}

// configure sets up everything but the file system and the network, as
// the last steps before the command starts: host name, limits, working
// directory and the seccomp filter, which the command inherits.
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
	if err := filter.load(); err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	return nil
}
