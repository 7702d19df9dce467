package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

// results are the figures of a run, as printed and as written with -json.
type results struct {
	harness.Report
	Settings settings `json:"settings"`
	Metrics  []metric `json:"metrics"`
	// Sandbox compares the sandboxed ember with the --no-sandbox one.
	Sandbox []comparison `json:"sandbox"`
	Checks  []check      `json:"checks"`
	// CPU is empty where the CPU time of other processes cannot be read.
	CPU []harness.CPUUse `json:"cpu,omitempty"`
}

type settings struct {
	N        int    `json:"n"`
	Warmup   int    `json:"warmup"`
	Clients  int    `json:"clients"`
	Duration string `json:"duration"`
	Cold     int    `json:"cold"`
	ColdGap  string `json:"cold_gap"`
	Big      int    `json:"big"`
	BigBytes int    `json:"big_bytes"`
}

// metric is one figure of ember beside its baselines.
type metric struct {
	ID    string  `json:"id"`
	Label string  `json:"label"`
	Unit  string  `json:"unit"`
	Ember float64 `json:"ember"`
	// Baseline is the echo server's figure.
	Baseline float64 `json:"baseline"`
	// Ratio is Ember / Baseline.
	Ratio  float64 `json:"ratio"`
	Target *target `json:"target,omitempty"`
	Met    *bool   `json:"met,omitempty"`
	// Proxy is the figure of the proxy in front of the echo server, where
	// it was measured; ProxyRatio is Proxy / Baseline.
	Proxy      *float64 `json:"proxy,omitempty"`
	ProxyRatio *float64 `json:"proxy_ratio,omitempty"`
}

// target bounds a metric's ratio.
type target struct {
	// Op is "<=" or ">=".
	Op    string  `json:"op"`
	Ratio float64 `json:"ratio"`
}

// comparison is a figure of the sandboxed ember beside the --no-sandbox
// ember's, measured in the same turns.
type comparison struct {
	ID        string  `json:"id"`
	Label     string  `json:"label"`
	Unit      string  `json:"unit"`
	Sandboxed float64 `json:"sandboxed"`
	NoSandbox float64 `json:"no_sandbox"`
	// Difference is Sandboxed − NoSandbox, what the sandbox adds; Ratio is
	// Sandboxed / NoSandbox.
	Difference float64 `json:"difference"`
	Ratio      float64 `json:"ratio"`
	// Baseline is the figure of BaselineName, the echo server or the
	// fork/exec, measured in the same turns, where there is one.
	Baseline     *float64 `json:"baseline,omitempty"`
	BaselineName string   `json:"baseline_name,omitempty"`
	Target       *bound   `json:"target,omitempty"`
	Met          *bool    `json:"met,omitempty"`
}

// What a bound bounds.
const (
	boundSandboxed  = "sandboxed"
	boundDifference = "difference"
)

// bound is a target on a comparison, in its unit.
type bound struct {
	// Of is boundSandboxed, the sandboxed ember's figure, or
	// boundDifference, what the sandbox adds to it.
	Of string `json:"of"`
	// Op is "<=" or ">=".
	Op    string  `json:"op"`
	Value float64 `json:"value"`
	// Why says what the target is for.
	Why string `json:"why,omitempty"`
}

// check says whether ember did what each request asked during a phase's
// measurement, warm-up excluded.
type check struct {
	Phase string `json:"phase"`
	// Ember is variantSandboxed or variantNoSandbox, and in the cold-start
	// phase variantOnDemand, variantPrepared, variantNothingAhead or
	// variantNoSandbox.
	Ember string `json:"ember"`
	// Requests were sent to ember.
	Requests int `json:"requests"`
	// Errors are requests not answered 200 with the echoed body.
	Errors int `json:"errors"`
	// Throttled are the errors that were 429s.
	Throttled      int    `json:"throttled"`
	ErrorDetail    string `json:"error_detail,omitempty"`
	BaselineErrors int    `json:"baseline_errors"`
	BaselineDetail string `json:"baseline_error_detail,omitempty"`
	// Reports counts the REPORT lines ember wrote for the requests.
	Reports int `json:"reports"`
	// ColdStarts counts the REPORT lines with an Init Duration.
	ColdStarts int `json:"cold_starts"`
	// FailedReports counts the REPORT lines with a Status.
	FailedReports int `json:"failed_reports"`
	// Unlimited counts the REPORT lines that say "Limits: not enforced".
	Unlimited int `json:"unlimited_reports"`
	// ProxyErrors counts the errors of the requests through the proxy, in
	// the phases that measure it.
	ProxyErrors int    `json:"proxy_errors"`
	ProxyDetail string `json:"proxy_error_detail,omitempty"`
}

func newResults(cfg config) *results {
	return &results{
		Report: harness.NewReport(),
		Settings: settings{
			N:        cfg.n,
			Warmup:   cfg.warmup,
			Clients:  cfg.clients,
			Duration: cfg.duration.String(),
			Cold:     cfg.cold,
			ColdGap:  cfg.coldGap.String(),
			Big:      cfg.big,
			BigBytes: bigSize,
		},
	}
}

func (r *results) note(format string, a ...any) { r.Note(format, a...) }

// latency is a latency metric; t, when not nil, bounds its ratio.
func latency(id, label string, ember, baseline time.Duration, t *target) metric {
	return metric{ID: id, Label: label, Unit: harness.UnitMillis, Ember: harness.Millis(ember), Baseline: harness.Millis(baseline), Target: t}
}

// rate is a rate metric; t, when not nil, bounds its ratio.
func rate(id, label string, ember, baseline float64, t *target) metric {
	return metric{ID: id, Label: label, Unit: harness.UnitPerSecond, Ember: ember, Baseline: baseline, Target: t}
}

// withProxy adds the proxy's figure, in the metric's unit.
func (m metric) withProxy(v float64) metric {
	m.Proxy = &v
	return m
}

// add adds m with its ratios and verdict.
func (r *results) add(m metric) {
	if m.Baseline > 0 {
		m.Ratio = m.Ember / m.Baseline
		if m.Proxy != nil {
			ratio := *m.Proxy / m.Baseline
			m.ProxyRatio = &ratio
		}
	}
	if m.Target != nil {
		met := m.Ratio <= m.Target.Ratio
		if m.Target.Op == ">=" {
			met = m.Ratio >= m.Target.Ratio
		}
		m.Met = &met
	}
	r.Metrics = append(r.Metrics, m)
}

// compareLatency compares the latencies of the sandboxed and the
// --no-sandbox ember.
func compareLatency(id, label string, sandboxed, plain time.Duration) comparison {
	return comparison{ID: id, Label: label, Unit: harness.UnitMillis, Sandboxed: harness.Millis(sandboxed), NoSandbox: harness.Millis(plain)}
}

// compareRate compares the rates of the sandboxed and the --no-sandbox
// ember.
func compareRate(id, label string, sandboxed, plain float64) comparison {
	return comparison{ID: id, Label: label, Unit: harness.UnitPerSecond, Sandboxed: sandboxed, NoSandbox: plain}
}

// against adds the figure of the baseline name, in the comparison's unit.
func (c comparison) against(name string, v float64) comparison {
	c.Baseline, c.BaselineName = &v, name
	return c
}

func (c comparison) withTarget(b bound) comparison {
	c.Target = &b
	return c
}

// compare adds c with its difference, ratio and verdict.
func (r *results) compare(c comparison) {
	c.Difference = c.Sandboxed - c.NoSandbox
	if c.NoSandbox > 0 {
		c.Ratio = c.Sandboxed / c.NoSandbox
	}
	if t := c.Target; t != nil {
		v := c.Sandboxed
		if t.Of == boundDifference {
			v = c.Difference
		}
		met := v <= t.Value
		if t.Op == ">=" {
			met = v >= t.Value
		}
		c.Met = &met
	}
	r.Sandbox = append(r.Sandbox, c)
}

// addCPU adds c with its total.
func (r *results) addCPU(c harness.CPUUse) {
	r.CPU = append(r.CPU, c.WithTotal())
}

// failed reports whether any request of a measurement failed.
func (r *results) failed() bool {
	for _, c := range r.Checks {
		if c.Errors > 0 || c.BaselineErrors > 0 || c.ProxyErrors > 0 {
			return true
		}
	}
	return false
}

// print writes the metrics table, the checks table and the notes.
func (r *results) print(out io.Writer) error { return harness.Print(out, r.printTo) }

func (r *results) printTo(w io.Writer) {
	fmt.Fprintf(w, "ember rie benchmark, %s %s/%s, %d CPUs\n\n", r.Go, r.OS, r.Arch, r.CPUs)
	tw := harness.NewTable(w)
	fmt.Fprintln(tw, "metric\tember\techo\tproxy\tember/echo\tproxy/echo\ttarget")
	for _, m := range r.Metrics {
		proxy := "-"
		if m.Proxy != nil {
			proxy = m.format(*m.Proxy)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Label, m.format(m.Ember), m.format(m.Baseline), proxy,
			m.formatRatio(&m.Ratio), m.formatRatio(m.ProxyRatio), m.formatTarget())
	}
	tw.Flush()

	if len(r.Sandbox) > 0 {
		fmt.Fprintln(w)
		tw = harness.NewTable(w)
		fmt.Fprintf(tw, "%s vs %s\t%[1]s\t%[2]s\tdifference\tratio\tbaseline\ttarget\n", variantSandboxed, variantNoSandbox)
		for _, c := range r.Sandbox {
			m := metric{Unit: c.Unit}
			base := "-"
			if c.Baseline != nil {
				base = m.format(*c.Baseline) + " " + c.BaselineName
			}
			ratio := "-"
			if c.NoSandbox > 0 {
				// As a multiple for a latency, a percentage for a rate.
				ratio = metric{Unit: c.Unit, Baseline: c.NoSandbox}.formatRatio(&c.Ratio)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Label, m.format(c.Sandboxed), m.format(c.NoSandbox),
				m.formatDifference(c.Difference), ratio, base, c.formatTarget())
		}
		tw.Flush()
	}

	fmt.Fprintln(w)
	tw = harness.NewTable(w)
	fmt.Fprintln(tw, "phase\tember\trequests\terrors\t429s\tbaseline errors\tproxy errors\tREPORTs\tcold starts\tfailed REPORTs\tunlimited REPORTs")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", c.Phase, c.Ember, c.Requests, c.Errors, c.Throttled,
			c.BaselineErrors, c.ProxyErrors, c.Reports, c.ColdStarts, c.FailedReports, c.Unlimited)
	}
	tw.Flush()
	for _, c := range r.Checks {
		if c.ErrorDetail != "" {
			fmt.Fprintf(w, "%s, %s errors: %s\n", c.Phase, c.Ember, c.ErrorDetail)
		}
		if c.BaselineDetail != "" {
			fmt.Fprintf(w, "%s baseline errors: %s\n", c.Phase, c.BaselineDetail)
		}
		if c.ProxyDetail != "" {
			fmt.Fprintf(w, "%s proxy errors: %s\n", c.Phase, c.ProxyDetail)
		}
	}

	fmt.Fprintln(w)
	if len(r.CPU) == 0 {
		fmt.Fprintln(w, "CPU per request: n/a")
	} else {
		tw = harness.NewTable(w)
		fmt.Fprintln(tw, "CPU per request\tpath\ttotal\tclient\tember\truntimes\techo\tproxy\truntime processes")
		for _, c := range r.CPU {
			procs := "-"
			if c.RuntimeProcs > 0 {
				procs = fmt.Sprint(c.RuntimeProcs)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Phase, c.Path, micros(c.Total), micros(c.Client),
				micros(c.Ember), micros(c.Runtimes), micros(c.Echo), micros(c.Proxy), procs)
		}
		tw.Flush()
	}

	harness.WriteNotes(w, r.Notes, r.Summary, false, isUnit)
}

// isUnit says which words the wrapped text keeps on the line of the
// number before them.
func isUnit(w string) bool { return strings.HasPrefix(w, "ms") || strings.HasPrefix(w, "µs") }

// micros shows a CPU time per request, "-" for a process not on the path.
func micros(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f µs", v)
}

func (m metric) format(v float64) string { return harness.FormatValue(m.Unit, v) }

// formatDifference shows a difference of two figures with its sign.
func (m metric) formatDifference(v float64) string { return harness.Signed(v, m.format) }

// formatRatio shows a latency's ratio as a multiple and a rate's as a
// percentage, the way their targets are stated.
func (m metric) formatRatio(ratio *float64) string {
	return harness.FormatRatio(m.Unit, m.Baseline, ratio)
}

func (m metric) formatTarget() string {
	if m.Target == nil {
		return ""
	}
	return m.Target.bound(m.Unit) + "  " + harness.Verdict(*m.Met)
}

// bound states the target the way the table shows the ratio: "≤ 3×" for a
// latency, "≥ 20%" for a rate.
func (t target) bound(unit string) string {
	op := "≤"
	if t.Op == ">=" {
		op = "≥"
	}
	if unit == harness.UnitPerSecond {
		return fmt.Sprintf("%s %g%%", op, 100*t.Ratio)
	}
	return fmt.Sprintf("%s %g×", op, t.Ratio)
}

// formatTarget states the target and its verdict: "sandbox adds ≤ 0.1 ms
// (freeze/thaw)  met".
func (c comparison) formatTarget() string {
	t := c.Target
	if t == nil {
		return ""
	}
	op := "≤"
	if t.Op == ">=" {
		op = "≥"
	}
	of := variantSandboxed
	if t.Of == boundDifference {
		of = "sandbox adds"
	}
	unit := " ms"
	if c.Unit == harness.UnitPerSecond {
		unit = "/s"
	}
	s := fmt.Sprintf("%s %s %g%s", of, op, t.Value, unit)
	if t.Why != "" {
		s += " (" + t.Why + ")"
	}
	return s + "  " + harness.Verdict(*c.Met)
}
