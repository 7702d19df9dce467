package main

import (
	"context"
	"net/http"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	invokePath = harness.RieInvokePath
	// readyTimeout bounds the wait for a child server to answer.
	readyTimeout = 10 * time.Second
	// stopGrace is how long a child has to exit after SIGTERM.
	stopGrace = 10 * time.Second
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
// returns it once it answers, as harness.StartRie does.
func startEmber(ctx context.Context, procs *harness.Children, client *http.Client, bins harness.Binaries, dir, name string, sandboxed bool, retried func(string), extra ...string) (*emberServer, error) {
	rie, err := harness.StartRie(ctx, procs, client, harness.RieOptions{
		Ember: bins.Ember, FnDir: bins.FnDir, Bootstrap: bins.Bootstrap,
		Dir: dir, Name: name, NoSandbox: !sandboxed, Extra: extra, Retried: retried,
	})
	if err != nil {
		return nil, err
	}
	return &emberServer{Server: rie.Server, log: &reportLog{tail: harness.LogTail{Path: rie.Stdout}}, sandboxed: sandboxed}, nil
}

// benchEnv is the benchmark's environment without the variables that
// configure a function, so that a caller's shell does not change what is
// measured.
func benchEnv() []string { return harness.Environ("AWS_LAMBDA_", "_HANDLER=") }
