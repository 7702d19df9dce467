// Command warm measures ember's warm path, the figures of a warm
// invocation that its design is held to, each beside a plain HTTP echo
// server measured in the same run, in alternating turns, since shared
// machines are too noisy for figures from different runs to compare:
//
//   - warm invocations of the echo function (testdata/functions/echo,
//     aws-lambda-go, 1769 MB: one vCPU), 100-byte JSON, one after the
//     other, through `ember rie` (sandboxed, and with --no-sandbox), and
//     through `ember serve`'s Invoke, unsigned with plain net/http and
//     with aws-sdk-go-v2's Lambda client: p50, p99, and the CPU time per
//     request of ember's own process and of its runtimes, with the client
//     and the servers pinned to different CPUs;
//   - the same with 8 concurrent clients, unpinned: invocations/s;
//   - how long a change made through one ember serve takes to reach
//     another that shares its NATS server: p50 and max.
//
// With -ember-before PATH, a second, older ember binary is measured in
// the same turns, so that a gain comes from one run.
//
// It builds ember (or takes -ember) and the echo function into a
// temporary directory, runs the servers as child processes on loopback
// ports, and stops them when it ends, also on error or interrupt. Run it
// from the module root, as root for ember's sandbox:
//
//	go run ./bench/warm [-n 2000] [-clients 8] [-duration 3s] [-changes 20] [-ember PATH] [-ember-before PATH] [-json FILE]
//
// It prints tables of the figures and the targets' verdicts on stdout,
// and its progress on stderr; bench/README.md explains each figure. The
// exit status is 1 when the benchmark could not run or a request failed;
// a missed target does not change it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	// readyTimeout bounds the wait for a child server to listen; ember
	// serve starts its NATS server and, as root, its sandbox network
	// first.
	readyTimeout = 30 * time.Second
	// stopGrace is how long a child has to exit after SIGTERM.
	stopGrace = 20 * time.Second
)

// config is the benchmark's command line.
type config struct {
	n           int
	warmup      int
	clients     int
	duration    time.Duration
	changes     int
	memory      int
	pin         bool
	ember       string
	emberBefore string
	jsonPath    string
	keep        bool
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
	fs := harness.NewFlagSet("warm", "ember's warm path (ember rie and ember serve)", stderr)
	fs.IntVar(&cfg.n, "n", 2000, "sequential requests through each path")
	fs.IntVar(&cfg.warmup, "warmup", 200, "sequential requests through each path before measuring")
	fs.IntVar(&cfg.clients, "clients", 8, "concurrent clients")
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "how long the concurrent clients run through each path")
	fs.IntVar(&cfg.changes, "changes", 20, "changes made through one ember serve and awaited at another sharing its NATS server (0: none)")
	fs.IntVar(&cfg.memory, "memory", 1769, "memory of the echo function in MB: at 1769 MB it has one vCPU")
	fs.BoolVar(&cfg.pin, "pin", true, "pin the client and the servers to different CPUs for the sequential phase")
	fs.StringVar(&cfg.ember, "ember", "", "an ember binary to measure, rather than one built from the working tree")
	fs.StringVar(&cfg.emberBefore, "ember-before", "", "an older ember binary to measure in the same turns (\"before\")")
	fs.StringVar(&cfg.jsonPath, "json", "", "also write the figures as JSON to this file")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory: binaries, each ember's state, stdout and stderr")
	if err := harness.ParseFlags(fs, args); err != nil {
		return cfg, err
	}
	if cfg.n < 1 || cfg.warmup < 0 || cfg.clients < 1 || cfg.duration <= 0 || cfg.changes < 0 || cfg.memory < 128 {
		return cfg, errors.New("-n, -clients and -duration must be positive, -warmup and -changes not negative, -memory at least 128")
	}
	for _, p := range []*string{&cfg.ember, &cfg.emberBefore} {
		if *p == "" {
			continue
		}
		abs, err := absExecutable(*p)
		if err != nil {
			return cfg, err
		}
		*p = abs
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	progress := harness.Progress(stderr)
	tmp, cleanup, err := harness.TempDir("ember-bench-warm-", cfg.keep, progress)
	if err != nil {
		return err
	}
	defer cleanup()

	bins, err := build(ctx, cfg, tmp, progress)
	if err != nil {
		return err
	}
	procs := &harness.Children{StopGrace: stopGrace, ReadyTimeout: readyTimeout}
	// On the way out after an error; a successful run has stopped every
	// child and noted what went wrong.
	defer procs.StopAll(func(err error) { progress("%v", err) })

	res := newResults(cfg)
	b := &bench{cfg: cfg, progress: progress, res: res, procs: procs, bins: bins, tmp: tmp,
		hc: harness.NewHTTPClient(0, max(cfg.clients, 8), time.Minute)}
	if err := b.warm(ctx); err != nil {
		return err
	}
	if cfg.changes > 0 {
		if err := b.propagation(ctx); err != nil {
			return err
		}
	}
	res.judge()
	return harness.Finish(stdout, res.print, cfg.jsonPath, res, res.failed(), progress)
}

// binaries are what the benchmark runs: the embers and the echo function.
type binaries struct {
	harness.Binaries
	// Before is the older ember, "" without -ember-before.
	Before string
}

// build builds ember, unless -ember names one, and the echo function.
func build(ctx context.Context, cfg config, tmp string, progress func(string, ...any)) (binaries, error) {
	var b harness.Binaries
	var err error
	if cfg.ember == "" {
		progress("building ember and the echo function")
		b, err = harness.Build(ctx, tmp, "function")
	} else {
		progress("building the echo function; ember is %s", cfg.ember)
		b, err = harness.BuildEcho(ctx, tmp, "function")
		b.Ember = cfg.ember
	}
	if err != nil {
		return binaries{}, err
	}
	return binaries{Binaries: b, Before: cfg.emberBefore}, nil
}

// absExecutable returns path made absolute, once it is a file that can
// be executed.
func absExecutable(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", path)
	}
	return filepath.Abs(path)
}
