package harness

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// ErrRequestsFailed ends a run whose figures were printed but some of
// whose requests failed.
var ErrRequestsFailed = errors.New("some requests failed")

// ExitCode is the exit status of a benchmark whose run returned err: 0
// when it succeeded or printed its help, 1 when some requests failed or
// it could not run, which it then writes to stderr.
func ExitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrRequestsFailed):
		return 1
	}
	fmt.Fprintln(stderr, "bench:", err)
	return 1
}

// Progress returns a function that writes a line of progress to stderr.
func Progress(stderr io.Writer) func(format string, a ...any) {
	return func(format string, a ...any) {
		fmt.Fprintf(stderr, "bench: "+format+"\n", a...)
	}
}

// TempDir makes a temporary directory whose name starts with prefix, and
// returns it with the function that, at the end of the run, removes it,
// or with keep says where it was kept.
func TempDir(prefix string, keep bool, progress func(format string, a ...any)) (string, func(), error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	if keep {
		return dir, func() { progress("kept %s", dir) }, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// Finish ends a run: it writes the tables with print to stdout, writes v
// to jsonPath as JSON when it is set, and returns ErrRequestsFailed when
// failed.
func Finish(stdout io.Writer, print func(io.Writer) error, jsonPath string, v any, failed bool, progress func(format string, a ...any)) error {
	if err := print(stdout); err != nil {
		return err
	}
	if jsonPath != "" {
		if err := WriteJSON(jsonPath, v); err != nil {
			return err
		}
		progress("wrote %s", jsonPath)
	}
	if failed {
		return ErrRequestsFailed
	}
	return nil
}

// Main runs a benchmark's run with the program's arguments and standard
// streams, under a context that ends on SIGTERM or interrupt, and returns
// the exit status ExitCode gives.
func Main(run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	return ExitCode(err, os.Stderr)
}

// NewFlagSet returns the flag set of bench/name, which writes to stderr
// and whose usage says that the benchmark measures what about says.
func NewFlagSet(name, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./bench/%s [flags]\n", name)
		fmt.Fprintf(stderr, "Measures %s against baselines measured in the same run; see bench/README.md.\n", about)
		fs.PrintDefaults()
	}
	return fs
}

// ParseFlags parses args with fs, and fails on arguments left over.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return nil
}
