// Command extensions measures what one external extension costs a warm
// invocation through ember rie, beside an ember rie without extensions and
// a plain HTTP echo server measured in the same run, in alternating
// turns, since shared machines are too noisy for figures from different
// runs to compare:
//
//   - warm invocations of the echo function (testdata/functions/echo,
//     aws-lambda-go, 1769 MB: one vCPU), 100-byte JSON, one after the
//     other, through an ember rie without extensions and through one whose
//     --opt directory holds one external extension (bench/extensions/ext,
//     which registers for INVOKE alone, asks for the next event at once
//     and prints nothing): p50, p90 and p99 from request to response, and
//     the difference at p50;
//   - the Duration of each ember's REPORT lines (p50): with an extension
//     the environment stays busy after the answer until the extension
//     asks for its next event, and the Duration shows that;
//   - how many environments each ember started (the REPORT lines with an
//     Init Duration, and the extension's EXTENSION lines): a request that
//     comes while the last environment still waits for the extension
//     takes another environment, which is a cold start.
//
// Ember runs its runtimes, and their extensions, in sandboxes by default
// as root; -no-sandbox starts both embers with --no-sandbox.
//
// It builds ember, the echo function and the extension into a temporary
// directory, runs the echo server and the embers as child processes on
// loopback ports, and stops them when it ends, also on error or
// interrupt. Run it from the module root, as root for ember's sandbox:
//
//	go run ./bench/extensions [-n 2000] [-warmup 200] [-no-sandbox] [-json FILE] [-keep]
//
// It prints tables of the figures and the target's verdict on stdout, and
// its progress on stderr; bench/README.md explains each figure. The exit
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

const (
	// readyTimeout bounds the wait for a child server to answer; a
	// sandboxed ember rie sets up its sandbox network first.
	readyTimeout = 30 * time.Second
	// stopGrace is how long a child has to exit after SIGTERM.
	stopGrace = 20 * time.Second
)

// config is the benchmark's command line.
type config struct {
	n         int
	warmup    int
	memory    int
	noSandbox bool
	jsonPath  string
	keep      bool
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == harness.EchoServerArg {
		if err := harness.ServeEcho(os.Stdout, "POST /"); err != nil {
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
	fs := harness.NewFlagSet("extensions", "what one external extension costs a warm invocation through ember rie", stderr)
	fs.IntVar(&cfg.n, "n", 2000, "sequential requests through each path, in blocks of 100 that take turns")
	fs.IntVar(&cfg.warmup, "warmup", 200, "sequential requests through each path before measuring")
	fs.IntVar(&cfg.memory, "memory", 1769, "memory of the echo function in MB: at 1769 MB it has one vCPU")
	fs.BoolVar(&cfg.noSandbox, "no-sandbox", false, "start both embers with --no-sandbox")
	fs.StringVar(&cfg.jsonPath, "json", "", "also write the figures as JSON to this file")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory: binaries, the /opt of the extension, each ember's stdout (the function log) and stderr")
	if err := harness.ParseFlags(fs, args); err != nil {
		return cfg, err
	}
	if cfg.n < 1 || cfg.warmup < 0 || cfg.memory < 128 {
		return cfg, errors.New("-n must be positive, -warmup not negative, -memory at least 128")
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	progress := harness.Progress(stderr)
	tmp, cleanup, err := harness.TempDir("ember-bench-extensions-", cfg.keep, progress)
	if err != nil {
		return err
	}
	defer cleanup()

	progress("building ember, the echo function and the extension")
	bins, err := build(ctx, tmp)
	if err != nil {
		return err
	}
	procs := &harness.Children{StopGrace: stopGrace, ReadyTimeout: readyTimeout}
	// On the way out after an error; a successful run has stopped every
	// child and noted what went wrong.
	defer procs.StopAll(func(err error) { progress("%v", err) })

	res := newResults(cfg)
	b := &bench{cfg: cfg, progress: progress, res: res, procs: procs, bins: bins, tmp: tmp,
		hc: harness.NewHTTPClient(0, 8, time.Minute)}
	if err := b.measure(ctx); err != nil {
		return err
	}
	res.judge()
	res.Summary = res.whereTimeGoes()
	return harness.Finish(stdout, res.print, cfg.jsonPath, res, res.failed(), progress)
}
