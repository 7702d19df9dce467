package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

// targetP50 bounds what one extension adds to a warm invocation's p50,
// in ms.
const targetP50 = 0.2

// results are the figures of a run, as printed and as written with -json.
type results struct {
	harness.Report
	Settings settings `json:"settings"`
	// Sandboxed says, for each ember, whether its REPORT lines said that
	// it enforced its limits, which it does in a sandbox with cgroups
	// only.
	Sandboxed map[string]bool `json:"sandboxed"`
	Paths     []pathResult    `json:"paths"`
	// Diff is the figures of the ember with the extension less those of
	// the one without, in ms.
	Diff    diff           `json:"diff"`
	Targets []targetResult `json:"targets"`

	warmupFailed bool
}

type settings struct {
	N            int    `json:"n"`
	Warmup       int    `json:"warmup"`
	Block        int    `json:"block"`
	MemoryMB     int    `json:"memory_mb"`
	PayloadBytes int    `json:"payload_bytes"`
	NoSandbox    bool   `json:"no_sandbox"`
	Extension    string `json:"extension"`
}

// pathResult is what came of the requests of one path; the figures of
// the REPORT lines are an ember's only.
type pathResult struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// P50, P90 and P99 are from request to the whole response read, in ms.
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	// Requests and Errors are of the measured requests.
	Requests    int    `json:"requests"`
	Errors      int    `json:"errors"`
	ErrorDetail string `json:"error_detail,omitempty"`
	// Reports counts the REPORT lines of the measured requests, and
	// DurationP50 is their Duration's p50, in ms.
	Reports     int     `json:"reports,omitempty"`
	DurationP50 float64 `json:"report_duration_p50_ms,omitempty"`
	// Started counts the environments the ember started while measured
	// (REPORTs with an Init Duration), StartedAll those of the whole run,
	// the first invocation and the warm-up included; InitP50 is the Init
	// Duration p50 of the run, in ms.
	Started    int     `json:"environments_started_measured"`
	StartedAll int     `json:"environments_started"`
	InitP50    float64 `json:"init_duration_p50_ms,omitempty"`
	// Extensions counts the EXTENSION lines of the whole run, one per
	// extension of each environment started.
	Extensions int `json:"extension_lines"`
	// Failed counts REPORTs with a Status, of the whole run.
	Failed int `json:"failed_reports"`
}

// diff is the ember with the extension less the one without, in ms.
type diff struct {
	P50         float64 `json:"p50_ms"`
	P90         float64 `json:"p90_ms"`
	P99         float64 `json:"p99_ms"`
	DurationP50 float64 `json:"report_duration_p50_ms"`
}

// targetResult is a target and its verdict.
type targetResult struct {
	Label  string         `json:"label"`
	Unit   string         `json:"unit"`
	Value  float64        `json:"value"`
	Target harness.Target `json:"target"`
	// Met is nil when the figure was not measured.
	Met *bool `json:"met,omitempty"`
}

func newResults(cfg config) *results {
	return &results{
		Report: harness.NewReport(),
		Settings: settings{N: cfg.n, Warmup: cfg.warmup, Block: seqBlock, MemoryMB: cfg.memory, PayloadBytes: payloadSize,
			NoSandbox: cfg.noSandbox, Extension: extensionName},
		Sandboxed: map[string]bool{},
	}
}

func millis(d time.Duration) float64 { return harness.Millis(d) }

// addPath adds the figures of p, and notes what its log says is amiss.
func (r *results) addPath(p *path) {
	s := p.Samples
	pr := pathResult{Name: p.Name, Kind: p.kind,
		P50: millis(s.Percentile(50)), P90: millis(s.Percentile(90)), P99: millis(s.Percentile(99)),
		Requests: p.Tally.Requests, Errors: p.Tally.Errors, ErrorDetail: p.Tally.Describe()}
	if p.log != nil {
		var all logCounts
		all.add(p.warmup)
		all.add(p.measured)
		pr.Reports = p.measured.reports
		pr.DurationP50 = millis(harness.Samples{Lat: p.measured.durations}.Percentile(50))
		pr.Started, pr.StartedAll = len(p.measured.inits), len(all.inits)
		pr.InitP50 = millis(harness.Samples{Lat: all.inits}.Percentile(50))
		pr.Extensions, pr.Failed = all.extensions, all.failed
		r.check(p, all)
	}
	r.Paths = append(r.Paths, pr)
}

// check notes what the log of the ember of p says against what the run
// asked for: a sandbox, the extension in every environment of the ember
// that has it and in none of the other's, no failed invocation.
func (r *results) check(p *path, all logCounts) {
	enforced := all.reports > 0 && all.unlimited == 0
	if all.reports > 0 {
		r.Sandboxed[p.Name] = enforced
	}
	switch {
	case !r.Settings.NoSandbox && all.reports > 0 && !enforced:
		r.Note("%s: its REPORT lines say \"Limits: not enforced\": it ran the function as a plain process or without cgroups "+
			"(ember sandboxes functions only as root on Linux), so these are not a sandboxed ember's figures, nor at one vCPU", p.Name)
	case r.Settings.NoSandbox && all.unlimited < all.reports:
		r.Note("%s ran with --no-sandbox, yet %d of its REPORT lines do not say \"Limits: not enforced\"", p.Name, all.reports-all.unlimited)
	}
	want := 0
	if p.kind == kindExtension {
		want = len(all.inits)
	}
	if all.extensions != want {
		r.Note("%s: %d EXTENSION lines for %d environments started, want %d", p.Name, all.extensions, len(all.inits), want)
	}
	if all.notReady > 0 {
		r.Note("%s: %d EXTENSION lines whose State is not Ready", p.Name, all.notReady)
	}
	if all.failed > 0 {
		r.Note("%s: %d REPORT lines with a Status: failed invocations", p.Name, all.failed)
	}
}

// find returns the figures of the path of kind.
func (r *results) find(kind string) *pathResult {
	for i := range r.Paths {
		if r.Paths[i].Kind == kind {
			return &r.Paths[i]
		}
	}
	return nil
}

// judge works out the differences and the target's verdict.
func (r *results) judge() {
	without, with := r.find(kindRie), r.find(kindExtension)
	if without == nil || with == nil {
		return
	}
	r.Diff = diff{P50: with.P50 - without.P50, P90: with.P90 - without.P90, P99: with.P99 - without.P99,
		DurationP50: with.DurationP50 - without.DurationP50}
	t := targetResult{Label: "one extension, warm p50 − no extension's", Unit: harness.UnitMillis, Value: r.Diff.P50,
		Target: harness.Target{Op: "<=", Value: targetP50}}
	if with.P50 > 0 && without.P50 > 0 {
		met := t.Target.Met(t.Value)
		t.Met = &met
	}
	r.Targets = append(r.Targets, t)
}

// failed reports whether a measured request, a warm-up request or an
// invocation the log shows failed.
func (r *results) failed() bool {
	for _, p := range r.Paths {
		if p.Errors > 0 || p.Failed > 0 {
			return true
		}
	}
	return r.warmupFailed
}

func (r *results) print(out io.Writer) error { return harness.Print(out, r.printTo) }

func (r *results) printTo(w io.Writer) {
	s := r.Settings
	mode := "sandboxed"
	if s.NoSandbox {
		mode = "--no-sandbox"
	}
	fmt.Fprintf(w, "ember extensions benchmark, %s %s/%s, %d CPUs, ember rie %s, echo function at %d MB, %d-byte events, net/http keep-alive client\n"+
		"one external extension (%s): registers for INVOKE, asks for the next event at once, prints nothing\n",
		r.Go, r.OS, r.Arch, r.CPUs, mode, s.MemoryMB, s.PayloadBytes, s.Extension)

	header := []string{fmt.Sprintf("path (%d sequential, blocks of %d)", s.N, s.Block), "p50", "p90", "p99",
		"REPORT Duration p50", "environments started (measured / run)", "errors"}
	var rows [][]string
	for _, p := range r.Paths {
		dur, started := "-", "-"
		if p.Kind != kindEcho {
			dur = harness.FormatMillis(p.DurationP50)
			started = fmt.Sprintf("%d / %d", p.Started, p.StartedAll)
		}
		rows = append(rows, []string{p.Name, harness.FormatMillis(p.P50), harness.FormatMillis(p.P90), harness.FormatMillis(p.P99),
			dur, started, fmt.Sprintf("%d of %d", p.Errors, p.Requests)})
	}
	if r.find(kindRie) != nil && r.find(kindExtension) != nil {
		d := r.Diff
		signed := func(v float64) string { return harness.Signed(v, harness.FormatMillis) }
		rows = append(rows, []string{"one extension − no extension", signed(d.P50), signed(d.P90), signed(d.P99), signed(d.DurationP50), "", ""})
	}
	harness.WriteTable(w, header, rows)

	rows = nil
	for _, t := range r.Targets {
		value, verdict := "-", "not measured"
		if t.Met != nil {
			value, verdict = harness.Signed(t.Value, harness.FormatMillis), harness.Verdict(*t.Met)
		}
		rows = append(rows, []string{t.Label, value, fmt.Sprintf("%s +%g ms", t.Target.Symbol(), t.Target.Value), verdict})
	}
	harness.WriteTable(w, []string{"target", "figure", "target", "verdict"}, rows)

	for _, p := range r.Paths {
		if p.ErrorDetail != "" {
			fmt.Fprintf(w, "%s errors: %s\n", p.Name, p.ErrorDetail)
		}
	}
	harness.WriteNotes(w, r.Notes, r.Summary, true, isUnit)
}

// whereTimeGoes says in words what the figures show.
func (r *results) whereTimeGoes() string {
	without, with, echo := r.find(kindRie), r.find(kindExtension), r.find(kindEcho)
	if without == nil || with == nil || echo == nil || with.P50 <= 0 || without.P50 <= 0 {
		return ""
	}
	var s []string
	add := func(format string, a ...any) { s = append(s, fmt.Sprintf(format, a...)) }
	d := r.Diff
	add("With one extension a warm invocation took %.3f ms at p50 from request to response, %s against the ember without (%.3f ms; the echo server %.3f ms); at p90 %s, at p99 %s.",
		with.P50, harness.Signed(d.P50, harness.FormatMillis), without.P50, echo.P50,
		harness.Signed(d.P90, harness.FormatMillis), harness.Signed(d.P99, harness.FormatMillis))
	add("The REPORT Duration, which runs until the runtime and every extension have asked for their next event, was %.3f ms at p50 with the extension and %.3f ms without (%s): "+
		"the difference is how much longer the environment stays busy after the answer.",
		with.DurationP50, without.DurationP50, harness.Signed(d.DurationP50, harness.FormatMillis))
	add("While measured, the ember with the extension started %s (%d in the whole run, the first invocation's included), the one without %d (%d).",
		environments(with.Started), with.StartedAll, without.Started, without.StartedAll)
	switch {
	case with.Started > without.Started:
		add("A request that comes while the last environment still waits for the extension's next event takes a new one, a cold start (Init Duration p50 %.1f ms), "+
			"which falls in the upper percentiles first; the ember without starts some too (a request that found the last environment still finishing "+
			"after the pool's short wait for it), so only as many more as it started beyond that are the extension's.", with.InitP50)
	case with.Started > 0:
		add("No more than without: the extension's wait started no environment of its own; an environment started while measured, with or without the extension, " +
			"is a request that found the last one still finishing after the pool's short wait for it, a cold start.")
	default:
		add("No request came while the environment still waited for the extension.")
	}
	return strings.Join(s, " ")
}

// environments says "n environments", or "1 environment".
func environments(n int) string {
	if n == 1 {
		return "1 environment"
	}
	return fmt.Sprintf("%d environments", n)
}

// isUnit says which words the wrapped text keeps on the line of the
// number before them.
func isUnit(w string) bool {
	unit := strings.TrimRight(w, ",.;:)")
	return unit == "ms" || unit == "µs"
}
