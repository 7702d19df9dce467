package tune

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes one row per measured size, with a legend of the
// columns under it.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "MEMORY\tCOLD START\tINIT\tWARM P50\tWARM P90\tMAX MEMORY USED\tCOST PER 1M\tFAILURES\t")
	for _, s := range r.Sizes {
		init := "-"
		if s.Cold.Report.InitDuration > 0 {
			init = formatMillis(s.Cold.Report.InitDuration)
		}
		p50, p90, cost := "-", "-", "-"
		if s.Measured() {
			p50, p90, cost = formatMillis(s.WarmP50), formatMillis(s.WarmP90), FormatUSD(s.CostPerMillion)
		}
		fmt.Fprintf(tw, "%d MB\t%s\t%s\t%s\t%s\t%d MB\t%s\t%s\t\n", s.MemoryMB, formatMillis(s.Cold.Latency), init,
			p50, p90, s.MaxMemoryUsedMB, cost, formatFailures(s))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, `
COLD START: the first invocation after the memory changed, from request to response; INIT: its Init Duration.
WARM P50, P90: REPORT Duration of the %d invocations after it that succeeded (nearest rank).
COST PER 1M: a million invocations that each take the warm p50, at Lambda's %s prices of %s
  (%s, %d MB of /tmp, first tier, requests included, no free tier).
FAILURES: failed invocations of all %d at that size (cold and warm), by error type.
`, r.Runs, r.Prices.Region, r.Prices.TakenOn, r.Arch, r.EphemeralMB, r.Runs+1)
	return err
}

// WritePicks writes the recommended sizes.
func (r *Result) WritePicks(w io.Writer) error {
	if r.Pick.None() {
		_, err := fmt.Fprintln(w, "\nno memory size ran without failures: nothing to recommend")
		return err
	}
	var b strings.Builder
	b.WriteString("\n")
	line := func(label string, i int, note string) {
		s := r.Sizes[i]
		fmt.Fprintf(&b, "%-9s %5d MB: warm p50 %s, %s per 1M%s\n", label, s.MemoryMB, formatMillis(s.WarmP50), FormatUSD(s.CostPerMillion), note)
	}
	line("cheapest:", r.Pick.Cheapest, "")
	line("fastest:", r.Pick.Fastest, "")
	line("balanced:", r.Pick.Balanced, " ("+BalancedRule+")")
	_, err := io.WriteString(w, b.String())
	return err
}

// formatFailures is "-", or e.g. "3/4 Runtime.OutOfMemory" or
// "2/4 Runtime.OutOfMemory (1), Sandbox.Timedout (1)".
func formatFailures(s Size) string {
	if s.Failed == 0 {
		return "-"
	}
	out := fmt.Sprintf("%d/%d ", s.Failed, s.Invocations())
	if len(s.Failures) == 1 {
		return out + s.Failures[0].Type
	}
	parts := make([]string, len(s.Failures))
	for i, f := range s.Failures {
		parts[i] = fmt.Sprintf("%s (%d)", f.Type, f.Count)
	}
	return out + strings.Join(parts, ", ")
}

// formatMillis gives d in ms: two decimals below 10 ms, else one.
func formatMillis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return fmt.Sprintf("%.2f ms", ms)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

// FormatUSD gives an amount in dollars: cents from $1 on, else four
// decimals.
func FormatUSD(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v >= 1:
		return fmt.Sprintf("$%.2f", v)
	default:
		return fmt.Sprintf("$%.4f", v)
	}
}
