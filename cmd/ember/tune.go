package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/emberfn/ember/internal/billing"
	"github.com/emberfn/ember/internal/tune"
)

// defaultTuneMemory are the sizes ember tune measures unless told: from
// Lambda's least, through one vCPU (1769 MB), to 3008 MB.
const defaultTuneMemory = "128,256,512,1024,1769,3008"

// tuneCommand measures a function at several memory sizes through ember
// serve, cold and warm, and prints a table, the cheapest, fastest and
// balanced sizes, and writes a chart.
func tuneCommand(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	env := envMap(environ)
	fs := flag.NewFlagSet("tune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addClientFlags(fs, env)
	memory := fs.String("memory", defaultTuneMemory, "memory sizes to measure, in MB, comma-separated")
	payload := fs.String("payload", "", "the event, as JSON (default {})")
	event := fs.String("event", "", "a file holding the event ('-': standard input)")
	runs := fs.Int("runs", 10, "warm invocations at each memory size, after its cold start")
	svgPath := fs.String("svg", "", "where to write the chart (default NAME-tune.svg)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ember tune NAME [flags]: invoke a function at each memory size, cold and warm; print durations, memory, failures and cost, and recommend a size")
		fs.PrintDefaults()
	}
	positional, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if len(positional) != 1 {
		return &usageError{"tune needs NAME"}
	}
	name := positional[0]
	sizes, err := parseMemorySizes(*memory)
	if err != nil {
		return err
	}
	if *runs < 1 {
		return &usageError{fmt.Sprintf("--runs %d: at least 1 warm run is needed", *runs)}
	}
	body := []byte("{}")
	switch {
	case *payload != "" && *event != "":
		return &usageError{"give --payload or --event, not both"}
	case *payload != "":
		body = []byte(*payload)
	case *event != "":
		if body, err = readEvent(*event, stdin); err != nil {
			return err
		}
	}
	if !json.Valid(body) {
		return &usageError{"the event is not JSON"}
	}
	if *svgPath == "" {
		*svgPath = name + "-tune.svg"
	}

	progress := tune.NewProgress(stderr, isTerminal(stderr, env))
	res, runErr := tune.Run(ctx, cf.client(env), tune.Options{
		Function: name, MemorySizes: sizes, Payload: body, Runs: *runs,
		Prices: billing.Default(), Progress: progress.Step,
	})
	progress.Done()
	if res == nil {
		return runErr
	}
	if len(res.Sizes) > 0 {
		fmt.Fprintf(stdout, "%s: %d warm runs at each memory size after a cold start\n\n", name, *runs)
		if err := res.WriteTable(stdout); err != nil {
			return errors.Join(runErr, err)
		}
		if res.LimitsNotEnforced() {
			fmt.Fprintln(stdout, "\nwarning: ember serve ran the function without limits (no sandbox or no cgroups):",
				"its memory set neither a memory limit nor a CPU share, so these figures do not show what Lambda would")
		}
	}
	if runErr != nil {
		if res.Restored {
			fmt.Fprintf(stderr, "tune: memory of %s restored to %d MB\n", name, res.OriginalMemoryMB)
		}
		if len(res.Sizes) > 0 {
			fmt.Fprintf(stderr, "tune: stopped after %d of %d memory sizes\n", len(res.Sizes), len(sizes))
		}
		return runErr
	}
	if err := res.WritePicks(stdout); err != nil {
		return err
	}
	if err := writeChart(*svgPath, res); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nchart: %s\nmemory of %s restored to %d MB\n", *svgPath, name, res.OriginalMemoryMB)
	return nil
}

// parseMemorySizes reads a comma-separated list of sizes in MB, each
// within Lambda's range; it returns them ascending, without repeats.
func parseMemorySizes(list string) ([]int, error) {
	var sizes []int
	for f := range strings.SplitSeq(list, ",") {
		f = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f), "MB"))
		mb, err := strconv.Atoi(f)
		if err != nil {
			return nil, &usageError{fmt.Sprintf("--memory: %q is not a size in MB", f)}
		}
		if mb < tune.MinMemoryMB || mb > tune.MaxMemoryMB {
			return nil, &usageError{fmt.Sprintf("--memory: %d MB is outside Lambda's %d–%d MB", mb, tune.MinMemoryMB, tune.MaxMemoryMB)}
		}
		sizes = append(sizes, mb)
	}
	slices.Sort(sizes)
	return slices.Compact(sizes), nil
}

// writeChart writes the result's SVG chart to path.
func writeChart(path string, res *tune.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	if err := res.WriteSVG(f); err != nil {
		f.Close()
		return fmt.Errorf("write chart %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write chart %s: %w", path, err)
	}
	return nil
}

// isTerminal tells whether w is a terminal that can redraw a line: a
// character device, and TERM not "dumb".
func isTerminal(w io.Writer, env map[string]string) bool {
	f, ok := w.(*os.File)
	if !ok || env["TERM"] == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
