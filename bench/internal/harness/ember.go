package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// listening finds the address in the line ember serve logs once it
// listens.
var listening = regexp.MustCompile(`msg="ember serve listening" address=(\S+)`)

// ServeEnv is the environment of an ember serve and of the ember
// commands a benchmark runs: the benchmark's own without the variables
// that configure a function or an AWS client.
func ServeEnv() []string { return Environ("AWS_", "_HANDLER=") }

// StartServe runs `ember serve` (the binary ember) on a free loopback
// port with its state in a fresh directory under dir, with --no-sandbox
// when noSandbox and the flags extra, and returns it once it listens. Its
// stdout and stderr go to files of dir named after name; should the
// benchmark die first, it gets SIGTERM, so that it still removes its
// cgroups.
func StartServe(ctx context.Context, procs *Children, ember, dir, name string, noSandbox bool, extra ...string) (Server, error) {
	data := filepath.Join(dir, name+"-data")
	args := []string{"serve", "--address", "127.0.0.1:0", "--data-dir", data}
	if noSandbox {
		args = append(args, "--no-sandbox")
	}
	args = append(args, extra...)
	cmd := exec.Command(ember, args...)
	cmd.Dir = dir
	cmd.Env = ServeEnv()
	out, err := os.Create(filepath.Join(dir, name+".stdout"))
	if err != nil {
		return Server{}, err
	}
	defer out.Close()
	cmd.Stdout = out
	addr := make(chan string, 1)
	c, err := procs.Start(name, cmd, filepath.Join(dir, name+".stderr"), StartOptions{DeathSignal: syscall.SIGTERM, Watch: func(line string) {
		if m := listening.FindStringSubmatch(line); m != nil {
			select {
			case addr <- m[1]:
			default:
			}
		}
	}})
	if err != nil {
		return Server{}, err
	}
	select {
	case a := <-addr:
		return Server{Name: name, Addr: a, URL: "http://" + a, Child: c}, nil
	case <-c.Done():
		return Server{}, fmt.Errorf("%s (ember %s) exited before it listened: %v%s", name, strings.Join(args, " "), c.WaitErr(), c.StderrTail())
	case <-time.After(procs.ReadyTimeout):
		return Server{}, fmt.Errorf("%s (ember %s) did not listen within %v%s", name, strings.Join(args, " "), procs.ReadyTimeout, c.StderrTail())
	case <-ctx.Done():
		return Server{}, ctx.Err()
	}
}

// StopServe stops an ember serve with SIGTERM, which has it end its
// functions and remove its cgroups, and passes note what went wrong and
// the first of the errors it logged.
func StopServe(em Server, note func(format string, a ...any)) {
	if err := em.Child.Stop(); err != nil {
		note("%v", err)
	}
	var errs []string
	for _, line := range em.Child.StderrLines() {
		if strings.Contains(line, "level=ERROR") {
			errs = append(errs, line)
		}
	}
	if len(errs) > 0 {
		note("%s logged %d errors; the first: %s", em.Name, len(errs), Clip(errs[0], 300))
	}
}
