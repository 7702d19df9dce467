// Command envs measures what many busy environments cost ember: it
// starts `ember serve` as a child, creates a 128 MB function that holds
// each invocation (testdata/functions/hold), brings up 1,000 concurrent
// invocations of it, and while all of them are busy reads ember's own
// threads, open files and memory from /proc. Beside it, in the same run,
// it starts the same bootstrap 1,000 times with a plain fork/exec, each
// against a minimal Runtime API of its own that hands it the same event,
// and times both until every handler runs.
//
// Ember runs functions in sandboxes by default as root; -no-sandbox
// measures an ember started with --no-sandbox instead. -ember runs a
// prebuilt ember binary instead of building one from the module.
//
// Run it from the module root:
//
//	go run ./bench/envs [-n 1000] [-memory 128] [-ember PATH] [-json FILE]
//
// It prints a table on stdout and its progress on stderr;
// bench/README.md explains each figure. The exit status is 1 when the
// benchmark could not run or an invocation failed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	// readyTimeout bounds the wait for ember to listen.
	readyTimeout = 30 * time.Second
	// stopGrace is how long ember has to end its environments after
	// SIGTERM.
	stopGrace = 60 * time.Second
)

// config is the benchmark's command line.
type config struct {
	n         int
	memory    int
	hold      time.Duration
	ember     string
	noSandbox bool
	baseline  bool
	jsonPath  string
	keep      bool
}

func main() {
	os.Exit(harness.Main(run))
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := harness.NewFlagSet("envs", "many busy environments of ember serve", stderr)
	fs.IntVar(&cfg.n, "n", 1000, "concurrent invocations, each in an environment of its own")
	fs.IntVar(&cfg.memory, "memory", 128, "memory of the function in MB")
	fs.DurationVar(&cfg.hold, "hold", 10*time.Minute, "the longest the benchmark waits for every invocation to run, and that each holds before it returns on its own")
	fs.StringVar(&cfg.ember, "ember", "", "a prebuilt ember binary to measure; empty builds ./cmd/ember")
	fs.BoolVar(&cfg.noSandbox, "no-sandbox", false, "start ember serve with --no-sandbox")
	fs.BoolVar(&cfg.baseline, "baseline", true, "also time plain fork/execs of the bootstrap")
	fs.StringVar(&cfg.jsonPath, "json", "", "also write the figures as JSON to this file")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory with the binaries, ember's state and its stdout and stderr")
	if err := harness.ParseFlags(fs, args); err != nil {
		return cfg, err
	}
	if cfg.n < 1 || cfg.memory < 128 || cfg.hold <= 0 {
		return cfg, errors.New("-n and -hold must be positive, -memory at least 128")
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	progress := harness.Progress(stderr)
	tmp, cleanup, err := harness.TempDir("ember-bench-envs-", cfg.keep, progress)
	if err != nil {
		return err
	}
	defer cleanup()

	root, err := harness.ModuleRoot(ctx)
	if err != nil {
		return err
	}
	fnDir := filepath.Join(tmp, "function")
	bootstrap := filepath.Join(fnDir, "bootstrap")
	builds := [][2]string{{bootstrap, "./testdata/functions/hold"}}
	emberBin := cfg.ember
	if emberBin == "" {
		emberBin = filepath.Join(tmp, "ember")
		builds = append(builds, [2]string{emberBin, "./cmd/ember"})
	} else if emberBin, err = filepath.Abs(emberBin); err != nil {
		return err
	}
	progress("building %d binaries", len(builds))
	for _, b := range builds {
		if err := goBuild(ctx, root, b[0], b[1]); err != nil {
			return err
		}
	}

	var res results
	res.N, res.MemoryMB, res.EmberBin = cfg.n, cfg.memory, emberBin
	if cfg.baseline {
		progress("starting %d plain bootstraps", cfg.n)
		if res.Plain, err = runPlain(ctx, bootstrap, cfg.n, cfg.hold); err != nil {
			return fmt.Errorf("plain fork/exec: %w", err)
		}
	}
	procs := &harness.Children{StopGrace: stopGrace, ReadyTimeout: readyTimeout}
	defer procs.StopAll(func(err error) { progress("%v", err) })
	failed, err := runEmber(ctx, cfg, procs, tmp, emberBin, fnDir, &res, progress)
	if err != nil {
		return err
	}
	return harness.Finish(stdout, res.print, cfg.jsonPath, res, failed, progress)
}

// goBuild builds pkg into out, static and cgo-free, as ember ships.
func goBuild(ctx context.Context, root, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}
