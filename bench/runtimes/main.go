// Command runtimes measures the managed runtimes of ember serve: a Python
// and a Node.js hello function, each beside the Go echo function
// (provided.al2023) and beside its interpreter started as a plain
// process, in the same run and in alternating turns, since shared machines
// are too noisy for figures from different runs to compare:
//
//   - cold starts, request → response (p50, p90), of python3.11 and
//     nodejs20.x hello functions and of the Go echo function, each
//     beside `python3.11 -c pass`, `node -e 0` and the echo's bootstrap
//     without a Runtime API, started and waited for as plain processes,
//     and ember's own Init Duration (p50) from the REPORT lines;
//   - warm Invokes of the same three functions, one after the other (p50,
//     p90, p99).
//
// Every Invoke is a plain net/http request to the Lambda API; every
// function has 1769 MB, which in ember's sandbox is one vCPU. A runtime
// that `ember runtimes` shows no interpreter for is skipped, with a note.
// Ember runs functions in sandboxes by default as root; -no-sandbox
// measures embers started with --no-sandbox instead.
//
// It builds ember and testdata/functions/echo into a temporary directory,
// writes the hello functions there, runs ember serve as a child process
// with its state there, one for the cold starts and a fresh one for the
// warm Invokes, and stops them when it ends, also on error or interrupt.
// Run it from the module root:
//
//	go run ./bench/runtimes [-cold 30] [-n 2000] [-json FILE] [-no-sandbox]
//
// It prints tables of the figures on stdout, and its progress on stderr;
// bench/README.md explains each figure. The exit status is 1 when the
// benchmark could not run or a request failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// config is the benchmark's command line.
type config struct {
	cold      int
	n         int
	warmup    int
	noSandbox bool
	jsonPath  string
	keep      bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errRequestsFailed):
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("runtimes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.cold, "cold", 30, "cold starts of each function, and runs of each baseline as a plain process")
	fs.IntVar(&cfg.n, "n", 2000, "warm Invokes of each function, one after the other")
	fs.IntVar(&cfg.warmup, "warmup", 200, "warm Invokes of each function before measuring")
	fs.BoolVar(&cfg.noSandbox, "no-sandbox", false, "start ember serve with --no-sandbox")
	fs.StringVar(&cfg.jsonPath, "json", "", "also write the figures as JSON to this file")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory with the binaries, the functions, ember's state and its stdout and stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: go run ./bench/runtimes [flags]")
		fmt.Fprintln(stderr, "Measures ember serve's managed runtimes against baselines measured in the same run; see bench/README.md.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.cold < 1 || cfg.n < 1 || cfg.warmup < 0 {
		return cfg, errors.New("-cold and -n must be positive; -warmup not negative")
	}
	return cfg, nil
}

// errRequestsFailed ends a run whose figures were printed but some of
// whose requests failed.
var errRequestsFailed = errors.New("some requests failed")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	progress := func(format string, a ...any) {
		fmt.Fprintf(stderr, "bench: "+format+"\n", a...)
	}

	tmp, err := os.MkdirTemp("", "ember-bench-runtimes-")
	if err != nil {
		return err
	}
	if cfg.keep {
		defer progress("kept %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	progress("building ember and the Go echo function")
	bins, err := build(ctx, tmp)
	if err != nil {
		return err
	}
	fns, skipped, err := makeFunctions(ctx, bins, tmp)
	if err != nil {
		return err
	}
	res := newResults(cfg)
	for _, s := range skipped {
		progress("%s", s)
		res.note("%s", s)
	}
	for _, f := range fns {
		res.Runtimes = append(res.Runtimes, runtimeInfo{Runtime: f.runtime, Column: f.column, Function: f.name, Baseline: f.shown})
	}

	procs := &children{}
	// On the way out after an error; a successful run has stopped every
	// child and noted what went wrong.
	defer procs.stopAll(func(err error) { progress("%v", err) })
	b := &bench{cfg: cfg, progress: progress, res: res, hc: newHTTPClient(), fns: fns}

	progress("starting ember serve --idle-timeout %s for the cold starts", coldIdleTimeout)
	cold, err := startEmber(ctx, procs, bins, tmp, "ember-cold", cfg.noSandbox, "--idle-timeout", coldIdleTimeout)
	if err != nil {
		return err
	}
	if err := b.cold(ctx, cold); err != nil {
		return err
	}
	b.stopEmber(cold)

	progress("starting a fresh ember serve for the warm Invokes")
	warm, err := startEmber(ctx, procs, bins, tmp, "ember-warm", cfg.noSandbox)
	if err != nil {
		return err
	}
	if err := b.warm(ctx, warm); err != nil {
		return err
	}
	b.stopEmber(warm)
	res.Summary = res.whereTimeGoes()

	if err := res.print(stdout); err != nil {
		return err
	}
	if cfg.jsonPath != "" {
		if err := res.writeJSON(cfg.jsonPath); err != nil {
			return err
		}
		progress("wrote %s", cfg.jsonPath)
	}
	if res.failed() {
		return errRequestsFailed
	}
	return nil
}

// stopEmber stops em with SIGTERM, which has it end its functions and
// remove its cgroups, and notes what went wrong, and the errors it
// logged.
func (b *bench) stopEmber(em server) {
	b.progress("stopping %s", em.name)
	if err := em.child.stop(); err != nil {
		b.res.note("%v", err)
	}
	var errs []string
	for _, line := range em.child.stderrLines() {
		if strings.Contains(line, "level=ERROR") {
			errs = append(errs, line)
		}
	}
	if len(errs) > 0 {
		b.res.note("%s logged %d errors; the first: %s", em.name, len(errs), clip(errs[0], 300))
	}
}
