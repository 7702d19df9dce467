package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const (
	modulePath = "github.com/emberfn/ember"
	invokePath = "/2015-03-31/functions/function/invocations"
	// readyTimeout bounds the wait for a child server to answer.
	readyTimeout = 10 * time.Second
	// stopGrace is how long a child has to exit after SIGTERM.
	stopGrace = 10 * time.Second
	// quitGrace is how long a child that ignored SIGTERM has to write its
	// goroutine dump after SIGQUIT before it is killed.
	quitGrace = 2 * time.Second
	// startAttempts bounds the retries when a free port was taken
	// between picking it and the child listening on it.
	startAttempts = 5
)

// binaries are what the benchmark builds.
type binaries struct {
	ember string
	// fnDir holds the echo function's bootstrap; ember runs in it, as
	// Lambda runs a function in its task root.
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

// server is an endpoint the benchmark posts to.
type server struct {
	name  string
	addr  string
	url   string
	child *child
}

// emberServer is an ember rie child and the file its stdout, the
// function's log, goes to.
type emberServer struct {
	server
	log *reportLog
	// sandboxed is false for an ember started with --no-sandbox. As root
	// on Linux the others run their runtimes in sandboxes, which their
	// REPORT lines confirm.
	sandboxed bool
	// kind, when set, names a sandboxed ember more precisely than
	// variantSandboxed: in the cold-start phase, how its sandboxes come.
	kind string
}

// The names of the kinds of ember in the tables and the JSON.
const (
	variantSandboxed = "sandboxed"
	variantNoSandbox = "--no-sandbox"
	// variantOnDemand builds each sandbox when a cold start needs it
	// (--prepared-sandboxes 0); variantPrepared takes one built ahead
	// (--prepared-sandboxes 1, ember's default).
	variantOnDemand = "sandboxed, on demand"
	variantPrepared = "sandboxed, prepared"
)

// variant names the kind of ember em is.
func (em *emberServer) variant() string {
	switch {
	case !em.sandboxed:
		return variantNoSandbox
	case em.kind != "":
		return em.kind
	}
	return variantSandboxed
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

	// stopped says that stop was called; stopErr is its result. Only the
	// benchmark's main goroutine stops children.
	stopped bool
	stopErr error
}

// start starts cmd with its stderr in stderrPath; its stdout is the
// caller's to set.
func (cs *children) start(name string, cmd *exec.Cmd, stderrPath string) (*child, error) {
	f, err := os.Create(stderrPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = f
	cmd.SysProcAttr = childSysProcAttr()
	err = cmd.Start()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, stderrPath: stderrPath, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	cs.list = append(cs.list, c)
	return c, nil
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
	}
	return c.stopErr
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

// startBaseline runs a baseline server as a child process (the
// benchmark's own binary started with args), so that it has a process of
// its own as ember does, and returns it once it listens.
func startBaseline(ctx context.Context, procs *children, dir, name string, args ...string) (server, error) {
	exe, err := os.Executable()
	if err != nil {
		return server{}, fmt.Errorf("find the benchmark's binary: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return server{}, err
	}
	defer r.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout = w
	long := "baseline " + name + " server"
	c, err := procs.start(long, cmd, filepath.Join(dir, "baseline-"+name+".stderr"))
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
		return server{name: name, addr: res.addr, url: "http://" + res.addr + invokePath, child: c}, nil
	case <-time.After(readyTimeout):
		return server{}, fmt.Errorf("%s gave no address within %v%s", long, readyTimeout, c.stderrTail())
	case <-ctx.Done():
		return server{}, ctx.Err()
	}
}

// startEmber runs `ember rie` on a free loopback port with extra flags,
// and with --no-sandbox unless sandboxed, its stdout in a file of dir, and
// returns it once it answers. When ember exits before it answers, most
// often because the port picked was taken before it listened, it passes
// retried why and tries another port.
func startEmber(ctx context.Context, procs *children, client *http.Client, bins binaries, dir, name string, sandboxed bool, retried func(string), extra ...string) (*emberServer, error) {
	for attempt := 1; ; attempt++ {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		args := []string{"rie",
			"--runtime-interface-emulator-address", addr,
			"--runtime-api-address", "127.0.0.1:0",
			"--log-level", "warn"}
		if !sandboxed {
			args = append(args, "--no-sandbox")
		}
		args = append(append(args, extra...), bins.bootstrap)
		cmd := exec.Command(bins.ember, args...)
		cmd.Dir = bins.fnDir
		cmd.Env = benchEnv()
		base := filepath.Join(dir, fmt.Sprintf("%s-%d", name, attempt))
		out, err := os.Create(base + ".stdout")
		if err != nil {
			return nil, err
		}
		cmd.Stdout = out
		c, err := procs.start(name, cmd, base+".stderr")
		out.Close()
		if err != nil {
			return nil, err
		}
		err = waitEmber(ctx, client, "http://"+addr+"/", c)
		if err == nil {
			return &emberServer{
				server:    server{name: name, addr: addr, url: "http://" + addr + invokePath, child: c},
				log:       &reportLog{path: base + ".stdout"},
				sandboxed: sandboxed,
			}, nil
		}
		c.stop()
		if !errors.Is(err, errExitedEarly) || attempt == startAttempts || ctx.Err() != nil {
			return nil, fmt.Errorf("start %s (ember %s): %w%s", name, strings.Join(args, " "), err, c.stderrTail())
		}
		retried(fmt.Sprintf("%s exited before it answered on %s (%v); started it again on another port%s", name, addr, c.waitErr, c.stderrTail()))
	}
}

var errExitedEarly = errors.New("exited before it answered")

// waitEmber polls url until ember answers it. Any path that is not the
// invoke endpoint answers without starting an environment; the request id
// header tells ember from another program that took the port.
func waitEmber(ctx context.Context, client *http.Client, url string, c *child) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		err := probe(ctx, client, url)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s within %v: %w", url, readyTimeout, err)
		}
		select {
		case <-c.done:
			return fmt.Errorf("%w: %v", errExitedEarly, c.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func probe(ctx context.Context, client *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.Header.Get("X-Amzn-RequestId") == "" {
		return fmt.Errorf("%s answered %s without a request id: not ember", url, resp.Status)
	}
	return nil
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", err
	}
	return addr, nil
}

// benchEnv is the benchmark's environment without the variables that
// configure a function, so that a caller's shell does not change what is
// measured.
func benchEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_LAMBDA_") || strings.HasPrefix(kv, "_HANDLER=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
