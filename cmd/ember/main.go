// Command ember runs AWS Lambda functions with Lambda's execution model.
//
//	ember rie [flags] [BOOTSTRAP [ARGS...]]   the AWS runtime interface emulator's endpoint
//	ember run PATH [flags]                    one invocation of a directory or zip
//
// Started under the name aws-lambda-rie, the binary acts as `ember rie`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/emberfn/ember/internal/runtimes"
	"github.com/emberfn/ember/internal/sandbox"
)

const usageText = `ember runs AWS Lambda functions with Lambda's execution model.

Usage:
  ember serve [flags]                      serve the Lambda API for the AWS CLI and SDKs
  ember deploy NAME PATH [flags]           create or update a function from a directory or zip
  ember deploy NAME --image REF [flags]    create or update a function from a container image
  ember invoke NAME [flags]                invoke a function and print its response
  ember url NAME [--stream]                print (making it if needed) the function's URL
  ember logs NAME [-f]                     print a function's logs
  ember ls                                 list the functions
  ember rm NAME                            delete a function
  ember layer publish NAME PATH            publish a layer version from a directory or zip
  ember image load FILE|DIR                load the images of a docker-save tarball or OCI layout
  ember image pull REF [--insecure]        pull an image from its registry
  ember image ls | rm REF | prune          list, remove and prune the images held
  ember cost [NAME] [--since DURATION]     invocations and their cost at Lambda's prices
  ember tune NAME [flags]                  measure a function at several memory sizes
  ember runtimes                           list the runtimes and the interpreters that serve them
  ember rie [flags] [BOOTSTRAP [ARGS...]]  serve the runtime interface emulator's invoke endpoint
  ember run PATH [flags]                   invoke a function in a directory or zip once
  ember run --image REF [flags]            invoke a container image's function once
  ember version                            print the version

Run 'ember COMMAND -h' for a command's flags.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if sandbox.IsInit(os.Args) {
		if err := sandbox.RunInit(); err != nil {
			fmt.Fprintln(os.Stderr, "ember sandbox init:", err)
			os.Exit(127)
		}
		os.Exit(0)
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// gcPercent is the garbage collector's target unless GOGC says otherwise:
// half of Go's default, so that ember holds less garbage beside what each
// environment keeps live (with 1,000 busy environments its RSS is about an
// eighth lower), for a little more of its CPU.
const gcPercent = 50

// run is main without the exit, so that every command returns its status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if filepath.Base(args[0]) == "aws-lambda-rie" {
		return exitCode(stderr, rieCommand(ctx, args[1:], os.Environ(), stdout, stderr, true))
	}
	if len(args) < 2 {
		fmt.Fprint(stderr, usageText)
		return 2
	}
	var err error
	switch args[1] {
	case "serve":
		err = serveCommand(ctx, args[2:], os.Environ(), stdout, stderr)
	case "deploy", "invoke", "logs", "ls", "rm", "layer", "cost", "image", "url":
		err = clientCommand(ctx, args[1], args[2:], os.Environ(), stdin, stdout, stderr)
	case "runtimes":
		err = runtimesCommand(stdout)
	case "tune":
		err = tuneCommand(ctx, args[2:], os.Environ(), stdin, stdout, stderr)
	case "rie":
		err = rieCommand(ctx, args[2:], os.Environ(), stdout, stderr, false)
	case "run":
		err = runCommand(ctx, args[2:], stdin, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "ember", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
	default:
		fmt.Fprintf(stderr, "ember: unknown command %q\n\n%s", args[1], usageText)
		return 2
	}
	return exitCode(stderr, err)
}

// exitError carries a command's exit status without a message.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError is a command line that makes no sense.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(stderr, "ember:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// newLogger returns ember's own log on w at the named level.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "", "info":
		l = slog.LevelInfo
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return nil, &usageError{fmt.Sprintf("unknown log level %q (debug, info, warn, error)", level)}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// envMap turns KEY=VALUE pairs into a map.
func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// parseInterspersed parses fs's flags wherever they stand among the
// positional arguments, which it returns in order. A bad flag is a usage
// error; -h gives flag.ErrHelp.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// runtimesCommand lists Lambda's runtime names with what serves each here.
func runtimesCommand(stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUNTIME\tINTERPRETER\tNOTE")
	for _, rt := range runtimes.NewRegistry().List() {
		interp, note := rt.Interpreter, ""
		switch {
		case rt.Family == runtimes.Provided:
			interp = "(the function's bootstrap)"
		case interp == "":
			interp = "-"
			note = "not installed"
		}
		if rt.Deprecated {
			note = strings.TrimPrefix(note+", deprecated on Lambda", ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", rt.Name, interp, note)
	}
	return tw.Flush()
}

// closeTimeout bounds the wait, at shutdown, for invocations in flight to
// end before their environments are shut down under them.
const closeTimeout = 30 * time.Second
