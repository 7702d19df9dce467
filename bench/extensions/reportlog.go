package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
	"github.com/emberfn/ember/internal/tune"
)

// logWait bounds the wait for REPORT lines: ember writes REPORT once the
// runtime, and every extension, has asked for its next event, a moment
// after the answer went out.
const logWait = 3 * time.Second

// reportLog reads the function log that an ember rie writes to its
// stdout, which the benchmark keeps in a file.
type reportLog struct{ tail harness.LogTail }

// logCounts are what the platform's lines of a stretch of the log say.
type logCounts struct {
	reports int
	// durations are the REPORTs' Durations: from the event handed to the
	// runtime until the runtime and every extension asked for the next.
	durations []time.Duration
	// inits are the Init Durations of the REPORTs that have one: the
	// invocations that started an environment.
	inits []time.Duration
	// extensions counts the EXTENSION lines, one per extension of each
	// environment that initialised; notReady those whose State is not
	// Ready.
	extensions, notReady int
	// failed counts REPORTs with a Status, which only failed invocations
	// have.
	failed int
	// unlimited counts REPORTs that say "Limits: not enforced": all of an
	// ember's with --no-sandbox, none of a sandboxed one's with cgroups.
	unlimited int
}

func (c *logCounts) add(o logCounts) {
	c.reports += o.reports
	c.durations = append(c.durations, o.durations...)
	c.inits = append(c.inits, o.inits...)
	c.extensions += o.extensions
	c.notReady += o.notReady
	c.failed += o.failed
	c.unlimited += o.unlimited
}

var (
	reportPrefix    = []byte("REPORT RequestId: ")
	extensionPrefix = []byte("EXTENSION\tName: ")
	readyField      = []byte("\tState: Ready\t")
)

// count counts the platform's lines among lines.
func (l *reportLog) count(lines []byte) (logCounts, error) {
	var c logCounts
	for line := range bytes.Lines(lines) {
		switch {
		case bytes.HasPrefix(line, extensionPrefix):
			c.extensions++
			if !bytes.Contains(line, readyField) {
				c.notReady++
			}
		case bytes.HasPrefix(line, reportPrefix):
			r, err := tune.ParseReport(string(line))
			if err != nil {
				return c, fmt.Errorf("%s: %w", l.tail.Path, err)
			}
			c.reports++
			c.durations = append(c.durations, r.Duration)
			if r.InitDuration > 0 {
				c.inits = append(c.inits, r.InitDuration)
			}
			if r.Status != "" {
				c.failed++
			}
			if r.LimitsNotEnforced {
				c.unlimited++
			}
		}
	}
	return c, nil
}

// await reads until at least want REPORT lines have come, or logWait has
// passed.
func (l *reportLog) await(ctx context.Context, want int) (logCounts, error) {
	var total logCounts
	err := l.tail.Await(ctx, logWait, func(lines []byte) error {
		c, err := l.count(lines)
		total.add(c)
		return err
	}, func() bool { return total.reports >= want })
	return total, err
}
