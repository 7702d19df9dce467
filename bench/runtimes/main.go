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
	"io"
	"os"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	// readyTimeout bounds the wait for ember serve to listen; it starts
	// its embedded NATS server and, as root, its sandbox network first.
	readyTimeout = 30 * time.Second
	// stopGrace is how long a child has to exit after SIGTERM.
	stopGrace = 20 * time.Second
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
	if code := harness.Main(run); code != 0 {
		os.Exit(code)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := harness.NewFlagSet("runtimes", "ember serve's managed runtimes", stderr)
	fs.IntVar(&cfg.cold, "cold", 30, "cold starts of each function, and runs of each baseline as a plain process")
	fs.IntVar(&cfg.n, "n", 2000, "warm Invokes of each function, one after the other")
	fs.IntVar(&cfg.warmup, "warmup", 200, "warm Invokes of each function before measuring")
	fs.BoolVar(&cfg.noSandbox, "no-sandbox", false, "start ember serve with --no-sandbox")
	fs.StringVar(&cfg.jsonPath, "json", "", "also write the figures as JSON to this file")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory with the binaries, the functions, ember's state and its stdout and stderr")
	if err := harness.ParseFlags(fs, args); err != nil {
		return cfg, err
	}
	if cfg.cold < 1 || cfg.n < 1 || cfg.warmup < 0 {
		return cfg, errors.New("-cold and -n must be positive; -warmup not negative")
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	progress := harness.Progress(stderr)
	tmp, cleanup, err := harness.TempDir("ember-bench-runtimes-", cfg.keep, progress)
	if err != nil {
		return err
	}
	defer cleanup()

	progress("building ember and the Go echo function")
	bins, err := harness.Build(ctx, tmp, "go-echo")
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

	procs := &harness.Children{StopGrace: stopGrace, ReadyTimeout: readyTimeout}
	// On the way out after an error; a successful run has stopped every
	// child and noted what went wrong.
	defer procs.StopAll(func(err error) { progress("%v", err) })
	// Every Invoke after ember's first reuses an idle connection.
	b := &bench{cfg: cfg, progress: progress, res: res, hc: harness.NewHTTPClient(8, 2, 5*time.Minute), fns: fns}

	progress("starting ember serve --idle-timeout %s for the cold starts", coldIdleTimeout)
	cold, err := harness.StartServe(ctx, procs, bins.Ember, tmp, "ember-cold", cfg.noSandbox, "--idle-timeout", coldIdleTimeout)
	if err != nil {
		return err
	}
	if err := b.cold(ctx, cold); err != nil {
		return err
	}
	b.stopEmber(cold)

	progress("starting a fresh ember serve for the warm Invokes")
	warm, err := harness.StartServe(ctx, procs, bins.Ember, tmp, "ember-warm", cfg.noSandbox)
	if err != nil {
		return err
	}
	if err := b.warm(ctx, warm); err != nil {
		return err
	}
	b.stopEmber(warm)
	res.Summary = res.whereTimeGoes()

	return harness.Finish(stdout, res.print, cfg.jsonPath, res, res.failed(), progress)
}

// stopEmber stops em with SIGTERM, which has it end its functions and
// remove its cgroups, and notes what went wrong, and the errors it
// logged.
func (b *bench) stopEmber(em harness.Server) {
	b.progress("stopping %s", em.Name)
	harness.StopServe(em, b.res.note)
}
