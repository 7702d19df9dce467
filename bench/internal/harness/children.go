package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

const (
	// quitGrace is how long a child that ignored SIGTERM has to write its
	// goroutine dump after SIGQUIT before it is killed.
	quitGrace = 2 * time.Second
	// drainGrace is how long the copy of a child's stderr may go on after
	// the child exited, while a process it started still holds the pipe.
	drainGrace = time.Second
)

// Children are the processes a benchmark started. Only the benchmark's
// main goroutine starts and stops them.
type Children struct {
	// StopGrace is how long a child has to exit after SIGTERM.
	StopGrace time.Duration
	// ReadyTimeout bounds the wait for a child server to listen or
	// answer.
	ReadyTimeout time.Duration

	list []*Child
}

// Child is one process the benchmark started.
type Child struct {
	Name string
	cmd  *exec.Cmd
	// stderrPath is the file that holds its stderr.
	stderrPath string
	stopGrace  time.Duration
	// stderrPipe, when set, is the read end of the pipe of the child's
	// stderr, which a goroutine copies to stderrPath; copied is closed
	// when that goroutine has ended.
	stderrPipe *os.File
	copied     chan struct{}
	// done is closed when the process has exited; waitErr is then
	// Wait's result.
	done    chan struct{}
	waitErr error

	// stopped says that Stop was called; stopErr is its result.
	stopped bool
	stopErr error
}

// StartOptions say how Start runs a child.
type StartOptions struct {
	// DeathSignal is the signal the child gets when the benchmark dies
	// first (Linux only): SIGTERM for ember, so that it still removes its
	// cgroups, SIGKILL for a baseline. Zero is SIGKILL.
	DeathSignal syscall.Signal
	// Watch, when set, sees each line of the child's stderr as it comes,
	// on the goroutine that copies it through a pipe to the file.
	Watch func(line string)
}

// Start starts cmd with its stderr in stderrPath; its stdout is the
// caller's to set.
func (cs *Children) Start(name string, cmd *exec.Cmd, stderrPath string, opts StartOptions) (*Child, error) {
	f, err := os.Create(stderrPath)
	if err != nil {
		return nil, err
	}
	c := &Child{Name: name, cmd: cmd, stderrPath: stderrPath, stopGrace: cs.StopGrace, done: make(chan struct{})}
	var w *os.File
	if opts.Watch == nil {
		cmd.Stderr = f
	} else {
		if c.stderrPipe, w, err = os.Pipe(); err != nil {
			f.Close()
			return nil, err
		}
		cmd.Stderr = w
	}
	sig := opts.DeathSignal
	if sig == 0 {
		sig = syscall.SIGKILL
	}
	cmd.SysProcAttr = ChildSysProcAttr(sig)
	err = cmd.Start()
	if w != nil {
		w.Close()
	}
	if err != nil {
		f.Close()
		if c.stderrPipe != nil {
			c.stderrPipe.Close()
		}
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if opts.Watch == nil {
		f.Close()
	} else {
		c.copied = make(chan struct{})
		go c.copyStderr(f, opts.Watch)
	}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	cs.list = append(cs.list, c)
	return c, nil
}

// copyStderr copies the child's stderr, line by line, to f and to watch,
// until the pipe ends or is closed.
func (c *Child) copyStderr(f *os.File, watch func(string)) {
	defer close(c.copied)
	defer f.Close()
	sc := bufio.NewScanner(c.stderrPipe)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		// A write error loses only the copy of the line; the benchmark
		// reads the file for error messages alone.
		fmt.Fprintln(f, line)
		watch(line)
	}
}

// StopAll stops every child still running, the last started first, and
// passes report what went wrong.
func (cs *Children) StopAll(report func(error)) {
	for i := len(cs.list) - 1; i >= 0; i-- {
		if c := cs.list[i]; !c.stopped {
			if err := c.Stop(); err != nil {
				report(err)
			}
		}
	}
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Done is closed when the child has exited.
func (c *Child) Done() <-chan struct{} { return c.done }

// WaitErr is what the child's exit came to, once Done is closed.
func (c *Child) WaitErr() error { return c.waitErr }

// Stop sends SIGTERM and waits up to the Children's StopGrace, then sends
// SIGQUIT and kills if need be. It returns an error when the child had
// exited before, did not exit cleanly, or did not stop on SIGTERM. Calls
// after the first return the first one's result.
func (c *Child) Stop() error {
	if !c.stopped {
		c.stopped = true
		c.stopErr = c.terminate()
		c.endCopy()
	}
	return c.stopErr
}

func (c *Child) terminate() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited before it was stopped: %v%s", c.Name, c.waitErr, c.StderrTail())
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.cmd.Process.Kill()
	}
	select {
	case <-c.done:
		if c.waitErr != nil {
			return fmt.Errorf("%s ended with %v after SIGTERM%s", c.Name, c.waitErr, c.StderrTail())
		}
		return nil
	case <-time.After(c.stopGrace):
	}
	// A Go program dumps its goroutines on SIGQUIT: the dump, in the
	// child's stderr, shows where it hung.
	c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.done:
	case <-time.After(quitGrace):
		c.cmd.Process.Kill()
		<-c.done
	}
	return fmt.Errorf("%s still ran %v after SIGTERM and was stopped with SIGQUIT; its goroutines are in %s (kept with -keep)", c.Name, c.stopGrace, c.stderrPath)
}

// endCopy waits for the copy of the stderr of the exited child to end,
// and ends it after drainGrace.
func (c *Child) endCopy() {
	if c.copied == nil {
		return
	}
	select {
	case <-c.copied:
	case <-time.After(drainGrace):
		c.stderrPipe.Close()
		<-c.copied
		return
	}
	c.stderrPipe.Close()
}

// StderrLines returns the child's stderr, one line an element, up to the
// goroutine dump a SIGQUIT made.
func (c *Child) StderrLines() []string {
	b, err := os.ReadFile(c.stderrPath)
	if err != nil {
		return []string{fmt.Sprintf("(stderr unreadable: %v)", err)}
	}
	if i := bytes.Index(b, []byte("SIGQUIT: quit")); i >= 0 {
		b = b[:i]
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\n")
}

// StderrTail returns the last lines of the child's stderr, indented, for
// an error message.
func (c *Child) StderrTail() string {
	lines := c.StderrLines()
	if len(lines) == 0 {
		return ""
	}
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return "\n\t" + strings.Join(lines, "\n\t")
}
