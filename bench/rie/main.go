// Command rie measures ember rie's invoke endpoint, each figure beside
// baselines measured in the same run, since shared machines are too noisy
// for figures from different runs to compare:
//
//   - warm sequential invocations of an echo function, 100-byte JSON
//     (p50, p99, invocations/s), against round trips to a plain net/http
//     echo server in a child process, and through a plain reverse proxy
//     in another child process in front of it;
//   - concurrent clients (8 by default) against ember rie with as many
//     environments, against the same clients on the echo server and the
//     proxy;
//   - the CPU time per request of each process in those two phases: the
//     client, ember, its runtimes, the echo server and the proxy (Linux);
//   - cold starts, from request to response on a fresh environment, with
//     the sandbox taken from those built ahead, built on demand from one
//     started ahead, and started from nothing, against a fork/exec/wait of
//     the same bootstrap;
//   - a 6 MB echo against the echo server with the same body.
//
// Ember runs its runtimes in sandboxes by default as root; each figure of
// ember is the sandboxed ember's, and the sequential, concurrent and
// cold-start phases also measure an ember started with --no-sandbox, in
// the same turns, to say what the sandbox costs.
//
// It builds ember and testdata/functions/echo into a temporary directory,
// runs ember rie and the baselines as child processes on loopback ports,
// and stops them when it ends, also on error or interrupt. Run it from the
// module root:
//
//	go run ./bench/rie [-n 2000] [-duration 5s] [-cold 30] [-big 20] [-json FILE]
//
// It prints tables of the figures and of the CPU time per request, and a
// paragraph computed from them on where the time goes, on stdout, and its
// progress on stderr; bench/README.md explains each figure. The exit
// status is 1 when the benchmark could not run or a request failed; a
// missed target does not change it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

// config is the benchmark's command line.
type config struct {
	n        int
	warmup   int
	clients  int
	duration time.Duration
	cold     int
	coldGap  time.Duration
	big      int
	jsonPath string
	keep     bool
}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == harness.EchoServerArg || os.Args[1] == proxyServerArg) {
		if err := serveBaseline(os.Args[1:], os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	if code := harness.Main(run); code != 0 {
		os.Exit(code)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := harness.NewFlagSet("rie", "ember rie", stderr)
	fs.IntVar(&cfg.n, "n", 2000, "sequential requests to each server")
	fs.IntVar(&cfg.warmup, "warmup", 200, "sequential requests to each server before measuring")
	fs.IntVar(&cfg.clients, "clients", 8, "concurrent clients, and ember's --max-concurrency")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "how long the concurrent clients run against each server")
	fs.IntVar(&cfg.cold, "cold", 30, "cold starts of each ember, and fork/execs of the bootstrap")
	fs.DurationVar(&cfg.coldGap, "cold-gap", 100*time.Millisecond, "pause after each cold start, for ember to reap the environment")
	fs.IntVar(&cfg.big, "big", 20, "6 MB requests to each server")
	fs.StringVar(&cfg.jsonPath, "json", "", "also write the figures as JSON to this file")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory with the binaries and ember's stdout and stderr")
	if err := harness.ParseFlags(fs, args); err != nil {
		return cfg, err
	}
	if cfg.n < 1 || cfg.warmup < 0 || cfg.clients < 1 || cfg.duration <= 0 || cfg.cold < 1 || cfg.coldGap < 0 || cfg.big < 1 {
		return cfg, errors.New("-n, -clients, -duration, -cold and -big must be positive; -warmup and -cold-gap not negative")
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	progress := harness.Progress(stderr)
	tmp, cleanup, err := harness.TempDir("ember-bench-", cfg.keep, progress)
	if err != nil {
		return err
	}
	defer cleanup()

	progress("building ember and the echo function")
	bins, err := harness.Build(ctx, tmp, "function")
	if err != nil {
		return err
	}

	conns := max(cfg.clients, 8)
	client := newClient(conns)
	procs := &harness.Children{StopGrace: stopGrace, ReadyTimeout: readyTimeout}
	// On the way out after an error; a successful run has stopped every
	// child and noted what went wrong.
	defer procs.StopAll(func(err error) { progress("%v", err) })

	echo, err := harness.StartBaseline(ctx, procs, tmp, "echo", harness.EchoServerArg)
	if err != nil {
		return err
	}
	echo.URL += invokePath
	proxy, err := harness.StartBaseline(ctx, procs, tmp, "proxy", proxyServerArg, echo.Addr, fmt.Sprint(conns))
	if err != nil {
		return err
	}
	proxy.URL += invokePath
	res := newResults(cfg)
	b := &bench{cfg: cfg, client: client, progress: progress, res: res, echo: echo, proxy: proxy}

	retried := func(msg string) { res.note("%s", msg) }
	// Two embers serve the warm phases: the sandboxed one, ember's default
	// as root, and one with --no-sandbox, whose figures say what the
	// sandbox costs.
	warmFlags := []string{"--max-concurrency", fmt.Sprint(cfg.clients), "--queue-timeout", "5s"}
	warm, err := startEmber(ctx, procs, client, bins, tmp, "ember-warm", true, retried, warmFlags...)
	if err != nil {
		return err
	}
	warmPlain, err := startEmber(ctx, procs, client, bins, tmp, "ember-warm-no-sandbox", false, retried, warmFlags...)
	if err != nil {
		return err
	}
	if err := b.sequential(ctx, warm, warmPlain); err != nil {
		return err
	}
	if err := b.concurrent(ctx, warm, warmPlain); err != nil {
		return err
	}
	if err := b.big(ctx, warm); err != nil {
		return err
	}
	b.stopEmber(warmPlain)
	b.stopEmber(warm)

	// Four embers serve the cold starts: three sandboxed ones, one that
	// builds the function's sandbox when a request needs it from one
	// started ahead, one that takes a sandbox built ahead (ember's
	// default) and one that starts each sandbox from nothing when a
	// request needs it, and one with --no-sandbox.
	coldOnDemand, err := startEmber(ctx, procs, client, bins, tmp, "ember-cold-on-demand", true, retried,
		"--idle-timeout", "1ms", "--prepared-sandboxes", "0")
	if err != nil {
		return err
	}
	coldOnDemand.kind = variantOnDemand
	coldNothing, err := startEmber(ctx, procs, client, bins, tmp, "ember-cold-nothing-ahead", true, retried,
		"--idle-timeout", "1ms", "--prepared-sandboxes", "0", "--started-sandboxes", "0")
	if err != nil {
		return err
	}
	coldNothing.kind = variantNothingAhead
	coldPrepared, err := startEmber(ctx, procs, client, bins, tmp, "ember-cold-prepared", true, retried,
		"--idle-timeout", "1ms", "--prepared-sandboxes", "1")
	if err != nil {
		return err
	}
	coldPrepared.kind = variantPrepared
	coldPlain, err := startEmber(ctx, procs, client, bins, tmp, "ember-cold-no-sandbox", false, retried, "--idle-timeout", "1ms")
	if err != nil {
		return err
	}
	if err := b.coldStarts(ctx, coldOnDemand, coldPrepared, coldNothing, coldPlain, bins); err != nil {
		return err
	}
	b.stopEmber(coldPlain)
	b.stopEmber(coldPrepared)
	b.stopEmber(coldNothing)
	b.stopEmber(coldOnDemand)
	for _, s := range []harness.Server{proxy, echo} {
		if err := s.Child.Stop(); err != nil {
			res.note("%v", err)
		}
	}
	res.Summary = res.whereTimeGoes()

	return harness.Finish(stdout, res.print, cfg.jsonPath, res, res.failed(), progress)
}
