package main

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

// logWait bounds the wait for REPORT lines: ember writes REPORT once the
// runtime asks for its next event, a moment after the answer went out.
const logWait = 3 * time.Second

// reportLog reads the REPORT lines that ember writes to its stdout, which
// the benchmark keeps in a file.
type reportLog struct{ tail harness.LogTail }

// reportCounts are what the REPORT lines of a stretch of the log say.
type reportCounts struct {
	reports int
	// inits are the Init Durations of REPORTs that have one: invocations
	// that started a runtime, cold starts.
	inits []time.Duration
	// failed counts REPORTs with a Status, which only failed invocations
	// have.
	failed int
	// unlimited counts REPORTs that end with "Limits: not enforced": all of
	// an ember's with --no-sandbox, none of a sandboxed one's with cgroups.
	unlimited int
}

func (c *reportCounts) add(o reportCounts) {
	c.reports += o.reports
	c.inits = append(c.inits, o.inits...)
	c.failed += o.failed
	c.unlimited += o.unlimited
}

var (
	reportPrefix = []byte("REPORT RequestId: ")
	initField    = []byte("\tInit Duration: ")
	statusField  = []byte("\tStatus: ")
	limitsField  = []byte("\tLimits: not enforced")
)

// count counts the REPORT lines among lines.
func (l *reportLog) count(lines []byte) (reportCounts, error) {
	var c reportCounts
	for line := range bytes.Lines(lines) {
		if !bytes.HasPrefix(line, reportPrefix) {
			continue
		}
		c.reports++
		if _, rest, ok := bytes.Cut(line, initField); ok {
			ms, _, _ := bytes.Cut(rest, []byte(" ms"))
			v, err := strconv.ParseFloat(string(ms), 64)
			if err != nil {
				return c, fmt.Errorf("REPORT line with unreadable Init Duration %q: %w", ms, err)
			}
			c.inits = append(c.inits, time.Duration(v*float64(time.Millisecond)))
		}
		if bytes.Contains(line, statusField) {
			c.failed++
		}
		if bytes.Contains(line, limitsField) {
			c.unlimited++
		}
	}
	return c, nil
}

// await reads until at least want REPORT lines have come, or logWait has
// passed.
func (l *reportLog) await(ctx context.Context, want int) (reportCounts, error) {
	var total reportCounts
	err := l.tail.Await(ctx, logWait, func(lines []byte) error {
		c, err := l.count(lines)
		total.add(c)
		return err
	}, func() bool { return total.reports >= want })
	return total, err
}
