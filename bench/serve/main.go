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
	"fmt"
	"io"
	"os"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	// readyTimeout bounds the wait for a child server to listen; ember
	// starts its embedded NATS server and, as root, its sandbox network
	// first.
	readyTimeout = 30 * time.Second
	// stopGrace is how long a child has to exit after SIGTERM.
	stopGrace = 20 * time.Second
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
	if len(os.Args) == 2 && os.Args[1] == harness.EchoServerArg {
		if err := serveEcho(os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	if code := harness.Main(run); code != 0 {
		os.Exit(code)
	}
}

// serveEcho is the baseline: a plain net/http server that answers any
// POST with its body and a 200, and nothing more (no JSON check, no
// function). A Lambda client pointed at it gets an Invoke's payload back
// as its answer. It listens on a free loopback port, writes the address
// to stdout once it listens, and serves until SIGTERM or interrupt.
func serveEcho(stdout io.Writer) error { return harness.ServeEcho(stdout, "POST /") }

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := harness.NewFlagSet("serve", "ember serve", stderr)
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
	if err := harness.ParseFlags(fs, args); err != nil {
		return cfg, err
	}
	if cfg.n < 1 || cfg.warmup < 0 || cfg.clients < 1 || cfg.duration <= 0 || cfg.creates < 1 || cfg.functions < 1 {
		return cfg, errors.New("-n, -clients, -duration, -creates and -functions must be positive; -warmup not negative")
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	progress := harness.Progress(stderr)
	tmp, cleanup, err := harness.TempDir("ember-bench-serve-", cfg.keep, progress)
	if err != nil {
		return err
	}
	defer cleanup()

	progress("building ember and the echo function")
	bins, err := harness.Build(ctx, tmp, "function")
	if err != nil {
		return err
	}
	code, err := makeCode(bins, tmp)
	if err != nil {
		return err
	}

	// The Lambda clients use it too, so that the plain and the SDK paths
	// differ by the SDK alone.
	conns := max(cfg.clients, 8)
	hc := harness.NewHTTPClient(4*conns, conns, time.Minute)
	procs := &harness.Children{StopGrace: stopGrace, ReadyTimeout: readyTimeout}
	// On the way out after an error; a successful run has stopped every
	// child and noted what went wrong.
	defer procs.StopAll(func(err error) { progress("%v", err) })

	echo, err := harness.StartBaseline(ctx, procs, tmp, "echo", harness.EchoServerArg)
	if err != nil {
		return err
	}
	res := newResults(cfg)
	b := &bench{cfg: cfg, progress: progress, res: res, hc: hc, echo: echo, echoSDK: harness.NewLambdaClient(echo.URL, hc), code: code}

	progress("starting ember serve")
	em, err := harness.StartServe(ctx, procs, bins.Ember, tmp, "ember", cfg.noSandbox)
	if err != nil {
		return err
	}
	if err := b.invoke(ctx, em); err != nil {
		return err
	}
	// Beside it, the same ember but for its records and metrics.
	progress("starting a second ember serve, with --record=false")
	bare, err := harness.StartServe(ctx, procs, bins.Ember, tmp, "ember-no-record", cfg.noSandbox, "--record=false")
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
	fresh, err := harness.StartServe(ctx, procs, bins.Ember, tmp, "ember-functions", cfg.noSandbox)
	if err != nil {
		return err
	}
	if err := b.functions(ctx, fresh); err != nil {
		return err
	}
	b.stopEmber(fresh)
	if err := echo.Child.Stop(); err != nil {
		res.note("%v", err)
	}
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
