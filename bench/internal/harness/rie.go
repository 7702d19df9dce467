package harness

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
)

// RieInvokePath is the invoke endpoint of ember rie, as of AWS's
// emulator.
const RieInvokePath = "/2015-03-31/functions/function/invocations"

// rieStartAttempts bounds the retries of StartRie when a free port was
// taken between picking it and the child listening on it.
const rieStartAttempts = 5

// RieOptions say how StartRie runs `ember rie`.
type RieOptions struct {
	// Ember is the binary; Bootstrap the function's, run in FnDir, its
	// code directory, as Lambda runs a function in its task root.
	Ember, FnDir, Bootstrap string
	// Dir holds the child's stdout (the function's log) and stderr, in
	// files named after Name and the attempt.
	Dir, Name string
	// NoSandbox starts it with --no-sandbox.
	NoSandbox bool
	// Env is added to the benchmark's environment, from which the
	// variables that configure a function are left out.
	Env []string
	// Extra are more flags.
	Extra []string
	// Retried, when set, is told why a start was tried again.
	Retried func(msg string)
}

// RieServer is an ember rie child.
type RieServer struct {
	// Server's URL is the invoke endpoint.
	Server
	// Stdout is the file of its stdout: the function's log, with the
	// START, END and REPORT lines.
	Stdout string
}

// StartRie runs `ember rie` on a free loopback port, with --log-level
// warn, and returns it once it answers. When it exits before it answers,
// most often because the port picked was taken before it listened,
// StartRie tells o.Retried why and tries another port. Should the
// benchmark die first, it gets SIGKILL.
func StartRie(ctx context.Context, procs *Children, client *http.Client, o RieOptions) (RieServer, error) {
	for attempt := 1; ; attempt++ {
		addr, err := FreeAddr()
		if err != nil {
			return RieServer{}, err
		}
		args := []string{"rie",
			"--runtime-interface-emulator-address", addr,
			"--runtime-api-address", "127.0.0.1:0",
			"--log-level", "warn"}
		if o.NoSandbox {
			args = append(args, "--no-sandbox")
		}
		args = append(append(args, o.Extra...), o.Bootstrap)
		cmd := exec.Command(o.Ember, args...)
		cmd.Dir = o.FnDir
		cmd.Env = append(Environ("AWS_LAMBDA_", "_HANDLER="), o.Env...)
		base := filepath.Join(o.Dir, fmt.Sprintf("%s-%d", o.Name, attempt))
		out, err := os.Create(base + ".stdout")
		if err != nil {
			return RieServer{}, err
		}
		cmd.Stdout = out
		c, err := procs.Start(o.Name, cmd, base+".stderr", StartOptions{DeathSignal: syscall.SIGKILL})
		out.Close()
		if err != nil {
			return RieServer{}, err
		}
		err = waitRie(ctx, client, "http://"+addr+"/", c, procs.ReadyTimeout)
		if err == nil {
			return RieServer{
				Server: Server{Name: o.Name, Addr: addr, URL: "http://" + addr + RieInvokePath, Child: c},
				Stdout: base + ".stdout",
			}, nil
		}
		c.Stop()
		if !errors.Is(err, errExitedEarly) || attempt == rieStartAttempts || ctx.Err() != nil {
			return RieServer{}, fmt.Errorf("start %s (ember %s): %w%s", o.Name, strings.Join(args, " "), err, c.StderrTail())
		}
		if o.Retried != nil {
			o.Retried(fmt.Sprintf("%s exited before it answered on %s (%v); started it again on another port%s", o.Name, addr, c.WaitErr(), c.StderrTail()))
		}
	}
}

var errExitedEarly = errors.New("exited before it answered")

// waitRie polls url until ember answers it. Any path that is not the
// invoke endpoint answers without starting an environment; the request id
// header tells ember from another program that took the port.
func waitRie(ctx context.Context, client *http.Client, url string, c *Child, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := probeRie(ctx, client, url)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s within %v: %w", url, timeout, err)
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

func probeRie(ctx context.Context, client *http.Client, url string) error {
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

// FreeAddr returns a loopback address whose port was free a moment ago.
func FreeAddr() (string, error) {
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
