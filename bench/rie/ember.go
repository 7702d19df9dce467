package main

import (
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

	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	invokePath = "/2015-03-31/functions/function/invocations"
	// readyTimeout bounds the wait for a child server to answer.
	readyTimeout = 10 * time.Second
	// stopGrace is how long a child has to exit after SIGTERM.
	stopGrace = 10 * time.Second
	// startAttempts bounds the retries when a free port was taken
	// between picking it and the child listening on it.
	startAttempts = 5
)

// emberServer is an ember rie child and the file its stdout, the
// function's log, goes to.
type emberServer struct {
	harness.Server
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
	// variantOnDemand builds the function's sandbox when a cold start
	// needs it, from a sandbox started ahead (--prepared-sandboxes 0, with
	// --started-sandboxes 1, the default); variantPrepared takes one built
	// ahead (--prepared-sandboxes 1, ember's default); variantNothingAhead
	// starts each sandbox from nothing when a cold start needs it
	// (--prepared-sandboxes 0 --started-sandboxes 0).
	variantOnDemand     = "sandboxed, on demand"
	variantPrepared     = "sandboxed, prepared"
	variantNothingAhead = "sandboxed, nothing ahead"
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

// startEmber runs `ember rie` on a free loopback port with extra flags,
// and with --no-sandbox unless sandboxed, its stdout in a file of dir, and
// returns it once it answers. When ember exits before it answers, most
// often because the port picked was taken before it listened, it passes
// retried why and tries another port.
func startEmber(ctx context.Context, procs *harness.Children, client *http.Client, bins harness.Binaries, dir, name string, sandboxed bool, retried func(string), extra ...string) (*emberServer, error) {
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
		args = append(append(args, extra...), bins.Bootstrap)
		cmd := exec.Command(bins.Ember, args...)
		cmd.Dir = bins.FnDir
		cmd.Env = benchEnv()
		base := filepath.Join(dir, fmt.Sprintf("%s-%d", name, attempt))
		out, err := os.Create(base + ".stdout")
		if err != nil {
			return nil, err
		}
		cmd.Stdout = out
		c, err := procs.Start(name, cmd, base+".stderr", harness.StartOptions{DeathSignal: syscall.SIGKILL})
		out.Close()
		if err != nil {
			return nil, err
		}
		err = waitEmber(ctx, client, "http://"+addr+"/", c)
		if err == nil {
			return &emberServer{
				Server:    harness.Server{Name: name, Addr: addr, URL: "http://" + addr + invokePath, Child: c},
				log:       &reportLog{path: base + ".stdout"},
				sandboxed: sandboxed,
			}, nil
		}
		c.Stop()
		if !errors.Is(err, errExitedEarly) || attempt == startAttempts || ctx.Err() != nil {
			return nil, fmt.Errorf("start %s (ember %s): %w%s", name, strings.Join(args, " "), err, c.StderrTail())
		}
		retried(fmt.Sprintf("%s exited before it answered on %s (%v); started it again on another port%s", name, addr, c.WaitErr(), c.StderrTail()))
	}
}

var errExitedEarly = errors.New("exited before it answered")

// waitEmber polls url until ember answers it. Any path that is not the
// invoke endpoint answers without starting an environment; the request id
// header tells ember from another program that took the port.
func waitEmber(ctx context.Context, client *http.Client, url string, c *harness.Child) error {
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
		case <-c.Done():
			return fmt.Errorf("%w: %v", errExitedEarly, c.WaitErr())
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
func benchEnv() []string { return harness.Environ("AWS_LAMBDA_", "_HANDLER=") }
