package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

const (
	modulePath = "github.com/emberfn/ember"
	// readyTimeout bounds the wait for a child server to listen; ember
	// starts its embedded NATS server and, as root, its sandbox network
	// first.
	readyTimeout = 30 * time.Second
	// stopGrace is how long a child has to exit after SIGTERM.
	stopGrace = 20 * time.Second
	// quitGrace is how long a child that ignored SIGTERM has to write its
	// goroutine dump after SIGQUIT before it is killed.
	quitGrace = 2 * time.Second
	// drainGrace is how long the copy of a child's stderr may go on after
	// the child exited, while a process it started still holds the pipe.
	drainGrace = time.Second
)

// binaries are what the benchmark builds.
type binaries struct {
	ember string
	// fnDir holds the echo function's bootstrap, and nothing else.
	fnDir     string
	bootstrap string
}

// build compiles ember and the echo function into dir, static and cgo-free
// as they ship.
func build(ctx context.Context, dir string) (binaries, error) {
	b := binaries{ember: filepath.Join(dir, "ember"), fnDir: filepath.Join(dir, "function")}
	b.bootstrap = filepath.Join(b.fnDir, "bootstrap")
	root, err := moduleRoot(ctx)
	if err != nil {
		return b, err
	}
	for _, t := range []struct{ out, pkg string }{
		{b.ember, "./cmd/ember"},
		{b.bootstrap, "./testdata/functions/echo"},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", t.out, t.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", t.pkg, err, out)
		}
	}
	return b, nil
}

// moduleRoot returns the directory of ember's go.mod, found from the
// working directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not in a Go module: run the benchmark from ember's module root")
	}
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			if strings.Trim(strings.TrimSpace(name), `"`) != modulePath {
				return "", fmt.Errorf("%s is module %s, not %s: run the benchmark from ember's module root", gomod, name, modulePath)
			}
			return filepath.Dir(gomod), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", gomod, err)
	}
	return "", fmt.Errorf("%s names no module", gomod)
}

// children are the processes the benchmark started.
type children struct {
	list []*child
}

// child is one process the benchmark started.
type child struct {
	name string
	cmd  *exec.Cmd
	// stderrPath is the file that holds its stderr.
	stderrPath string
	// done is closed when the process has exited; waitErr is then
	// Wait's result.
	done    chan struct{}
	waitErr error
	// stderrPipe, when set, is the read end of the pipe of the child's
	// stderr, which a goroutine copies to stderrPath; copied is closed
	// when that goroutine has ended.
	stderrPipe *os.File
	copied     chan struct{}

	// stopped says that stop was called; stopErr is its result. Only the
	// benchmark's main goroutine stops children.
	stopped bool
	stopErr error
}

// start starts cmd with its stderr in stderrPath; its stdout is the
// caller's to set. With watch set, the stderr goes through a pipe and
// watch sees each line of it as it comes, on the goroutine that copies
// it. sig is the signal the child gets when the benchmark dies first.
func (cs *children) start(name string, cmd *exec.Cmd, stderrPath string, sig syscall.Signal, watch func(line string)) (*child, error) {
	f, err := os.Create(stderrPath)
	if err != nil {
		return nil, err
	}
	c := &child{name: name, cmd: cmd, stderrPath: stderrPath, done: make(chan struct{})}
	var w *os.File
	if watch == nil {
		cmd.Stderr = f
	} else {
		if c.stderrPipe, w, err = os.Pipe(); err != nil {
			f.Close()
			return nil, err
		}
		cmd.Stderr = w
	}
	cmd.SysProcAttr = childSysProcAttr(sig)
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
	if watch == nil {
		f.Close()
	} else {
		c.copied = make(chan struct{})
		go c.copyStderr(f, watch)
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
func (c *child) copyStderr(f *os.File, watch func(string)) {
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

// stopAll stops every child still running, the last started first, and
// passes report what went wrong.
func (cs *children) stopAll(report func(error)) {
	for i := len(cs.list) - 1; i >= 0; i-- {
		if c := cs.list[i]; !c.stopped {
			if err := c.stop(); err != nil {
				report(err)
			}
		}
	}
}

// stop sends SIGTERM and waits up to stopGrace, then sends SIGQUIT and
// kills if need be. It returns an error when the child had exited before,
// did not exit cleanly, or did not stop on SIGTERM. Calls after the first
// return the first one's result.
func (c *child) stop() error {
	if !c.stopped {
		c.stopped = true
		c.stopErr = c.terminate()
		c.endCopy()
	}
	return c.stopErr
}

// endCopy waits for the copy of the stderr of the exited child to end,
// and ends it after drainGrace.
func (c *child) endCopy() {
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

func (c *child) terminate() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited before it was stopped: %v%s", c.name, c.waitErr, c.stderrTail())
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.cmd.Process.Kill()
	}
	select {
	case <-c.done:
		if c.waitErr != nil {
			return fmt.Errorf("%s ended with %v after SIGTERM%s", c.name, c.waitErr, c.stderrTail())
		}
		return nil
	case <-time.After(stopGrace):
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
	return fmt.Errorf("%s still ran %v after SIGTERM and was stopped with SIGQUIT; its goroutines are in %s (kept with -keep)", c.name, stopGrace, c.stderrPath)
}

// stderrLines returns the child's stderr, one line an element, up to the
// goroutine dump a SIGQUIT made.
func (c *child) stderrLines() []string {
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

// stderrTail returns the last lines of the child's stderr, indented, for
// an error message.
func (c *child) stderrTail() string {
	lines := c.stderrLines()
	if len(lines) == 0 {
		return ""
	}
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return "\n\t" + strings.Join(lines, "\n\t")
}

// server is a child that serves HTTP on a loopback address.
type server struct {
	name  string
	url   string
	child *child
}

func (s server) pid() int { return s.child.cmd.Process.Pid }

// startBaseline runs the echo server as a child process (the benchmark's
// own binary started with echoServerArg), so that it has a process of its
// own as ember does, and returns it once it listens.
func startBaseline(ctx context.Context, procs *children, dir string) (server, error) {
	const name = "echo"
	exe, err := os.Executable()
	if err != nil {
		return server{}, fmt.Errorf("find the benchmark's binary: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return server{}, err
	}
	defer r.Close()
	cmd := exec.Command(exe, echoServerArg)
	cmd.Stdout = w
	long := "baseline " + name + " server"
	c, err := procs.start(long, cmd, filepath.Join(dir, "baseline-"+name+".stderr"), syscall.SIGKILL, nil)
	w.Close()
	if err != nil {
		return server{}, err
	}

	// The server writes its address as its first line once it listens.
	type result struct {
		addr string
		err  error
	}
	line := make(chan result, 1)
	go func() {
		s, err := bufio.NewReader(r).ReadString('\n')
		line <- result{strings.TrimSpace(s), err}
	}()
	select {
	case res := <-line:
		if res.err != nil {
			return server{}, fmt.Errorf("%s gave no address: %w%s", long, res.err, c.stderrTail())
		}
		return server{name: name, url: "http://" + res.addr, child: c}, nil
	case <-time.After(readyTimeout):
		return server{}, fmt.Errorf("%s gave no address within %v%s", long, readyTimeout, c.stderrTail())
	case <-ctx.Done():
		return server{}, ctx.Err()
	}
}

// listening finds the address in the line ember serve logs once it
// listens.
var listening = regexp.MustCompile(`msg="ember serve listening" address=(\S+)`)

// limitsOff starts the warning ember logs when it runs functions as plain
// processes or without cgroups.
const limitsOff = "LIMITS ARE NOT ENFORCED"

// startEmber runs `ember serve` on a free loopback port with its state in
// a fresh directory under dir, with --no-sandbox when noSandbox and the
// flags of extra, and returns it once it listens.
func startEmber(ctx context.Context, procs *children, bins binaries, dir, name string, noSandbox bool, extra ...string) (server, error) {
	data := filepath.Join(dir, name+"-data")
	args := []string{"serve", "--address", "127.0.0.1:0", "--data-dir", data}
	if noSandbox {
		args = append(args, "--no-sandbox")
	}
	args = append(args, extra...)
	cmd := exec.Command(bins.ember, args...)
	cmd.Dir = dir
	cmd.Env = benchEnv()
	out, err := os.Create(filepath.Join(dir, name+".stdout"))
	if err != nil {
		return server{}, err
	}
	defer out.Close()
	cmd.Stdout = out
	addr := make(chan string, 1)
	c, err := procs.start(name, cmd, filepath.Join(dir, name+".stderr"), syscall.SIGTERM, func(line string) {
		if m := listening.FindStringSubmatch(line); m != nil {
			select {
			case addr <- m[1]:
			default:
			}
		}
	})
	if err != nil {
		return server{}, err
	}
	select {
	case a := <-addr:
		return server{name: name, url: "http://" + a, child: c}, nil
	case <-c.done:
		return server{}, fmt.Errorf("%s (ember %s) exited before it listened: %v%s", name, strings.Join(args, " "), c.waitErr, c.stderrTail())
	case <-time.After(readyTimeout):
		return server{}, fmt.Errorf("%s (ember %s) did not listen within %v%s", name, strings.Join(args, " "), readyTimeout, c.stderrTail())
	case <-ctx.Done():
		return server{}, ctx.Err()
	}
}

// benchEnv is the benchmark's environment without the variables that
// configure a function or an AWS client, so that a caller's shell does not
// change what is measured.
func benchEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "_HANDLER=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
