// Command serve measures ember serve, the Lambda API, through the
// aws-sdk-go-v2 Lambda client, each figure beside a baseline measured in
// the same run, in alternating turns, since shared machines are too noisy
// for figures from different runs to compare:
//
//   - warm Invokes of an echo function, 100-byte JSON, one after the
//     other (p50, p90, p99, invocations/s), beside round trips of the same
//     body to a plain net/http echo server in a child process, with plain
//     net/http and through a second Lambda client pointed at the echo
//     server, which shows what the SDK itself costs;
//   - concurrent clients (8 by default) doing the same, invocations/s;
//   - what ember's record of each invocation and its metrics cost: the
//     same warm Invokes, sequential and concurrent, beside those of a
//     second ember started with --record=false (p50, p90, invocations/s,
//     ember's CPU per invocation, and the overhead in percent);
//   - CreateFunction of a 10 MiB zip, through the SDK and with the same
//     body through plain net/http, with code of its own each time and with
//     the same code each time, beside posting the body to the echo server;
//   - a fresh ember's memory (VmRSS, VmHWM) before and after 1,000
//     functions are created and after they are all listed, the time of
//     those creates, and of listing them all, 50 a page;
//   - the CPU time per request of the client, ember, its runtimes and the
//     echo server in each (Linux).
//
// Ember runs functions in sandboxes by default as root; -no-sandbox
// measures an ember started with --no-sandbox instead.
//
// It builds ember and testdata/functions/echo into a temporary directory,
// runs ember serve, with its state there, and the echo server as child
// processes on loopback ports, and stops them when it ends, also on error
// or interrupt. Run it from the module root:
//
//	go run ./bench/serve [-n 2000] [-clients 8] [-duration 3s] [-creates 10] [-functions 1000] [-json FILE]
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
	"time"
)

// config is the benchmark's command line.
type config struct {
	n         int
	warmup    int
	clients   int
	duration  time.Duration
	creates   int
	functions int
	noSandbox bool
	memory    int
	jsonPath  string
	keep      bool
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == echoServerArg {
		if err := serveEcho(os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
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
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.n, "n", 2000, "sequential Invokes through each path")
	fs.IntVar(&cfg.warmup, "warmup", 200, "sequential Invokes through each path before measuring")
	fs.IntVar(&cfg.clients, "clients", 8, "concurrent clients")
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "how long the concurrent clients run through each path")
	fs.IntVar(&cfg.memory, "memory", 1769, "memory of the echo function in MB: at 1769 MB it has one vCPU, as on Lambda; at 128 MB its CPU quota, 7% of one, throttles a fast stream of invocations")
	fs.IntVar(&cfg.creates, "creates", 10, "CreateFunction of the 10 MiB zip through each path")
	fs.IntVar(&cfg.functions, "functions", 1000, "small functions created in a fresh ember, whose memory is measured")
	fs.BoolVar(&cfg.noSandbox, "no-sandbox", false, "start ember serve with --no-sandbox")
	fs.StringVar(&cfg.jsonPath, "json", "", "also write the figures as JSON to this file")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory with the binaries, ember's state and its stdout and stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: go run ./bench/serve [flags]")
		fmt.Fprintln(stderr, "Measures ember serve against baselines measured in the same run; see bench/README.md.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.n < 1 || cfg.warmup < 0 || cfg.clients < 1 || cfg.duration <= 0 || cfg.creates < 1 || cfg.functions < 1 {
		return cfg, errors.New("-n, -clients, -duration, -creates and -functions must be positive; -warmup not negative")
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

	tmp, err := os.MkdirTemp("", "ember-bench-serve-")
	if err != nil {
		return err
	}
	if cfg.keep {
		defer progress("kept %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	progress("building ember and the echo function")
	bins, err := build(ctx, tmp)
	if err != nil {
		return err
	}
	code, err := makeCode(bins, tmp)
	if err != nil {
		return err
	}

	hc := newHTTPClient(max(cfg.clients, 8))
	procs := &children{}
	// On the way out after an error; a successful run has stopped every
	// child and noted what went wrong.
	defer procs.stopAll(func(err error) { progress("%v", err) })

	echo, err := startBaseline(ctx, procs, tmp)
	if err != nil {
		return err
	}
	res := newResults(cfg)
	b := &bench{cfg: cfg, progress: progress, res: res, hc: hc, echo: echo, echoSDK: newLambdaClient(echo.url, hc), code: code}

	progress("starting ember serve")
	em, err := startEmber(ctx, procs, bins, tmp, "ember", cfg.noSandbox)
	if err != nil {
		return err
	}
	if err := b.invoke(ctx, em); err != nil {
		return err
	}
	// Beside it, the same ember but for its records and metrics.
	progress("starting a second ember serve, with --record=false")
	bare, err := startEmber(ctx, procs, bins, tmp, "ember-no-record", cfg.noSandbox, "--record=false")
	if err != nil {
		return err
	}
	if err := b.recording(ctx, em, bare); err != nil {
		return err
	}
	b.stopEmber(bare)
	if err := b.create(ctx, em); err != nil {
		return err
	}
	b.stopEmber(em)

	// A fresh ember for the memory, with nothing of the other phases.
	progress("starting a fresh ember serve")
	fresh, err := startEmber(ctx, procs, bins, tmp, "ember-functions", cfg.noSandbox)
	if err != nil {
		return err
	}
	if err := b.functions(ctx, fresh); err != nil {
		return err
	}
	b.stopEmber(fresh)
	if err := echo.child.stop(); err != nil {
		res.note("%v", err)
	}
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
