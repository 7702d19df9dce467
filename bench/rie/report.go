package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"text/tabwriter"
	"time"
)

// results are the figures of a run, as printed and as written with -json.
type results struct {
	Time     time.Time `json:"time"`
	Go       string    `json:"go"`
	OS       string    `json:"os"`
	Arch     string    `json:"arch"`
	CPUs     int       `json:"cpus"`
	Settings settings  `json:"settings"`
	Metrics  []metric  `json:"metrics"`
	Checks   []check   `json:"checks"`
	Notes    []string  `json:"notes,omitempty"`
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

// Units of a metric.
const (
	unitMillis    = "ms"
	unitPerSecond = "1/s"
)

// metric is one figure of ember beside its baseline.
type metric struct {
	ID       string  `json:"id"`
	Label    string  `json:"label"`
	Unit     string  `json:"unit"`
	Ember    float64 `json:"ember"`
	Baseline float64 `json:"baseline"`
	// Ratio is Ember / Baseline.
	Ratio  float64 `json:"ratio"`
	Target *target `json:"target,omitempty"`
	Met    *bool   `json:"met,omitempty"`
}

// target bounds a metric's ratio.
type target struct {
	// Op is "<=" or ">=".
	Op    string  `json:"op"`
	Ratio float64 `json:"ratio"`
}

// check says whether ember did what each request asked during a phase's
// measurement, warm-up excluded.
type check struct {
	Phase string `json:"phase"`
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
}

func newResults(cfg config) *results {
	return &results{
		Time: time.Now().UTC(),
		Go:   runtime.Version(),
		OS:   runtime.GOOS,
		Arch: runtime.GOARCH,
		CPUs: runtime.NumCPU(),
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

func (r *results) note(format string, a ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, a...))
}

// addLatency adds a latency metric; t, when not nil, bounds its ratio.
func (r *results) addLatency(id, label string, ember, baseline time.Duration, t *target) {
	r.add(metric{ID: id, Label: label, Unit: unitMillis,
		Ember: millis(ember), Baseline: millis(baseline), Target: t})
}

// addRate adds a rate metric; t, when not nil, bounds its ratio.
func (r *results) addRate(id, label string, ember, baseline float64, t *target) {
	r.add(metric{ID: id, Label: label, Unit: unitPerSecond, Ember: ember, Baseline: baseline, Target: t})
}

func (r *results) add(m metric) {
	if m.Baseline > 0 {
		m.Ratio = m.Ember / m.Baseline
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

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// failed reports whether any request of a measurement failed.
func (r *results) failed() bool {
	for _, c := range r.Checks {
		if c.Errors > 0 || c.BaselineErrors > 0 {
			return true
		}
	}
	return false
}

// print writes the metrics table, the checks table and the notes.
func (r *results) print(out io.Writer) error {
	var w bytes.Buffer
	r.printTo(&w)
	// tabwriter pads the cell before an empty last one.
	for line := range bytes.Lines(w.Bytes()) {
		if _, err := fmt.Fprintf(out, "%s\n", bytes.TrimRight(line, " \n")); err != nil {
			return err
		}
	}
	return nil
}

func (r *results) printTo(w io.Writer) {
	fmt.Fprintf(w, "ember rie benchmark, %s %s/%s, %d CPUs\n\n", r.Go, r.OS, r.Arch, r.CPUs)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "metric\tember\tbaseline\tratio\ttarget")
	for _, m := range r.Metrics {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Label, m.format(m.Ember), m.format(m.Baseline), m.formatRatio(), m.formatTarget())
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "phase\trequests\terrors\t429s\tbaseline errors\tREPORTs\tcold starts\tfailed REPORTs")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", c.Phase, c.Requests, c.Errors, c.Throttled,
			c.BaselineErrors, c.Reports, c.ColdStarts, c.FailedReports)
	}
	tw.Flush()
	for _, c := range r.Checks {
		if c.ErrorDetail != "" {
			fmt.Fprintf(w, "%s errors: %s\n", c.Phase, c.ErrorDetail)
		}
		if c.BaselineDetail != "" {
			fmt.Fprintf(w, "%s baseline errors: %s\n", c.Phase, c.BaselineDetail)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			fmt.Fprintln(w, "note:", n)
		}
	}
}

func (m metric) format(v float64) string {
	if m.Unit == unitPerSecond {
		return fmt.Sprintf("%.0f/s", v)
	}
	switch {
	case v < 10:
		return fmt.Sprintf("%.3f ms", v)
	case v < 100:
		return fmt.Sprintf("%.2f ms", v)
	default:
		return fmt.Sprintf("%.1f ms", v)
	}
}

// formatRatio shows a latency's ratio as a multiple and a rate's as a
// percentage, the way their targets are stated.
func (m metric) formatRatio() string {
	if m.Baseline <= 0 {
		return "-"
	}
	if m.Unit == unitPerSecond {
		return fmt.Sprintf("%.1f%%", 100*m.Ratio)
	}
	return fmt.Sprintf("%.2f×", m.Ratio)
}

func (m metric) formatTarget() string {
	if m.Target == nil {
		return ""
	}
	op := "≤"
	if m.Target.Op == ">=" {
		op = "≥"
	}
	verdict := "met"
	if !*m.Met {
		verdict = "MISSED"
	}
	if m.Unit == unitPerSecond {
		return fmt.Sprintf("%s %g%%  %s", op, 100*m.Target.Ratio, verdict)
	}
	return fmt.Sprintf("%s %g×  %s", op, m.Target.Ratio, verdict)
}

func (r *results) writeJSON(path string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
