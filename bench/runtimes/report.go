package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/emberfn/ember/bench/internal/harness"
)

// results are the figures of a run, as printed and as written with -json.
type results struct {
	harness.Report
	Settings settings `json:"settings"`
	// Sandboxed says whether the REPORT lines of the cold starts said that
	// ember enforced the functions' limits, which it does in a sandbox
	// with cgroups only.
	Sandboxed *bool `json:"sandboxed,omitempty"`
	// Runtimes are the columns of the tables, in order.
	Runtimes []runtimeInfo `json:"runtimes"`
	Metrics  []metric      `json:"metrics"`
	Checks   []check       `json:"checks"`

	// warmupFailed says that a warm-up request failed, which a note
	// describes.
	warmupFailed bool
}

type settings struct {
	Cold      int  `json:"cold"`
	N         int  `json:"n"`
	Warmup    int  `json:"warmup"`
	NoSandbox bool `json:"no_sandbox"`
	MemoryMB  int  `json:"memory_mb"`
	// Client is how the Invokes are sent.
	Client string `json:"client"`
	Event  string `json:"event"`
}

// runtimeInfo is a function measured, and its baseline.
type runtimeInfo struct {
	Runtime  string `json:"runtime"`
	Column   string `json:"column"`
	Function string `json:"function"`
	// Baseline is the command started as a plain process beside the cold
	// starts.
	Baseline []string `json:"baseline"`
}

// The metrics of each runtime.
const (
	idColdP50  = "cold_p50"
	idColdP90  = "cold_p90"
	idInitP50  = "init_p50"
	idExecP50  = "exec_p50"
	idExecP90  = "exec_p90"
	idWarmP50  = "warm_p50"
	idWarmP90  = "warm_p90"
	idWarmP99  = "warm_p99"
	phaseCold  = "cold start"
	phaseWarm  = "warm"
	pathEmber  = "ember"
	pathPlain  = "plain process"
	clientName = "net/http"
)

// metric is one figure of one runtime.
type metric struct {
	ID      string  `json:"id"`
	Runtime string  `json:"runtime"`
	Label   string  `json:"label"`
	Unit    string  `json:"unit"`
	Value   float64 `json:"value"`
}

// check says whether the measured requests of a path succeeded, and, for
// Invokes, how many were cold starts.
type check struct {
	Phase    string `json:"phase"`
	Runtime  string `json:"runtime"`
	Path     string `json:"path"`
	Requests int    `json:"requests"`
	Errors   int    `json:"errors"`
	// ColdStarts counts the REPORT lines with an Init Duration: of the
	// cold-start Invokes, from their log tails; of the warm ones, from
	// ember's log since they began. Nil for the plain processes.
	ColdStarts  *int   `json:"cold_starts,omitempty"`
	ErrorDetail string `json:"error_detail,omitempty"`
}

func newResults(cfg config) *results {
	return &results{
		Report: harness.NewReport(),
		Settings: settings{Cold: cfg.cold, N: cfg.n, Warmup: cfg.warmup, NoSandbox: cfg.noSandbox,
			MemoryMB: memoryMB, Client: clientName, Event: event},
	}
}

func (r *results) note(format string, a ...any) { r.Note(format, a...) }

func (r *results) add(id, rt, label string, v float64) {
	r.Metrics = append(r.Metrics, metric{ID: id, Runtime: rt, Label: label, Unit: harness.UnitMillis, Value: v})
}

func (r *results) addCheck(phase, rt, path string, t harness.Tally, coldStarts *int) {
	r.Checks = append(r.Checks, check{Phase: phase, Runtime: rt, Path: path, Requests: t.Requests,
		Errors: t.Errors, ColdStarts: coldStarts, ErrorDetail: t.Describe()})
}

// failed reports whether a request failed.
func (r *results) failed() bool {
	for _, c := range r.Checks {
		if c.Errors > 0 {
			return true
		}
	}
	return r.warmupFailed
}

func (r *results) value(id, rt string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.ID == id && m.Runtime == rt {
			return m.Value, true
		}
	}
	return 0, false
}

func (r *results) print(w io.Writer) error { return harness.Print(w, r.write) }

func (r *results) write(w io.Writer) {
	ember, cpu := "sandboxed", "one vCPU"
	switch {
	case r.Settings.NoSandbox:
		ember, cpu = "--no-sandbox", "no CPU limit"
	case r.Sandboxed != nil && !*r.Sandboxed:
		ember, cpu = "NOT sandboxed (its REPORT lines say \"Limits: not enforced\")", "no CPU limit"
	}
	fmt.Fprintf(w, "ember managed runtimes benchmark, %s %s/%s, %d CPUs, ember %s, functions at %d MB (%s), Invokes with %s\n",
		r.Go, r.OS, r.Arch, r.CPUs, ember, memoryMB, cpu, clientName)

	cols := make([]string, len(r.Runtimes))
	for i, rt := range r.Runtimes {
		cols[i] = rt.Column
	}
	s := r.Settings
	r.table(w, fmt.Sprintf("cold start, %d each", s.Cold), cols, []row{
		{"Invoke, request → response, p50", r.cells(idColdP50, harness.FormatMillis)},
		{"Invoke, request → response, p90", r.cells(idColdP90, harness.FormatMillis)},
		{"Init Duration p50 (REPORT)", r.cells(idInitP50, harness.FormatMillis)},
		{"plain process, fork/exec/wait", r.baselines()},
		{"plain process p50", r.cells(idExecP50, harness.FormatMillis)},
		{"plain process p90", r.cells(idExecP90, harness.FormatMillis)},
		{"Invoke − plain process, p50", r.pair(idColdP50, idExecP50, func(a, b float64) string { return signedMs(a - b) })},
		{"Invoke ÷ plain process, p50", r.pair(idColdP50, idExecP50, func(a, b float64) string { return fmt.Sprintf("%.2f×", harness.Ratio(a, b)) })},
	})
	goEcho := ""
	for _, rt := range r.Runtimes {
		if rt.Runtime == goRuntime {
			goEcho = rt.Runtime
		}
	}
	r.table(w, fmt.Sprintf("warm Invoke, %d each, sequential", s.N), cols, []row{
		{"p50", r.cells(idWarmP50, harness.FormatMillis)},
		{"p90", r.cells(idWarmP90, harness.FormatMillis)},
		{"p99", r.cells(idWarmP99, harness.FormatMillis)},
		{"p50 ÷ Go echo's p50", r.cells(idWarmP50, func(v float64) string {
			g, ok := r.value(idWarmP50, goEcho)
			if !ok {
				return "-"
			}
			return fmt.Sprintf("%.2f×", harness.Ratio(v, g))
		})},
	})

	fmt.Fprintln(w)
	tw := harness.NewTable(w)
	fmt.Fprintln(tw, "phase\truntime\tpath\trequests\terrors\tcold starts")
	for _, c := range r.Checks {
		cold := "-"
		if c.ColdStarts != nil {
			cold = fmt.Sprint(*c.ColdStarts)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", c.Phase, c.Runtime, c.Path, c.Requests, c.Errors, cold)
	}
	tw.Flush()
	for _, c := range r.Checks {
		if c.ErrorDetail != "" {
			fmt.Fprintf(w, "%s, %s, %s: %s\n", c.Phase, c.Runtime, c.Path, c.ErrorDetail)
		}
	}

	harness.WriteNotes(w, r.Notes, r.Summary, true, isUnit)
}

// row is a row of a table: its label and a cell for each runtime.
type row struct {
	label string
	cells []string
}

func (r *results) table(w io.Writer, title string, cols []string, rows []row) {
	if len(cols) == 0 {
		return
	}
	cells := make([][]string, len(rows))
	for i, rw := range rows {
		cells[i] = append([]string{rw.label}, rw.cells...)
	}
	harness.WriteTable(w, append([]string{title}, cols...), cells)
}

// cells formats metric id of each runtime, "-" where it is missing.
func (r *results) cells(id string, format func(float64) string) []string {
	out := make([]string, len(r.Runtimes))
	for i, rt := range r.Runtimes {
		out[i] = "-"
		if v, ok := r.value(id, rt.Runtime); ok {
			out[i] = format(v)
		}
	}
	return out
}

// pair formats metrics a and b of each runtime together.
func (r *results) pair(a, b string, format func(a, b float64) string) []string {
	out := make([]string, len(r.Runtimes))
	for i, rt := range r.Runtimes {
		out[i] = "-"
		va, oka := r.value(a, rt.Runtime)
		vb, okb := r.value(b, rt.Runtime)
		if oka && okb && vb > 0 {
			out[i] = format(va, vb)
		}
	}
	return out
}

// baselines names each runtime's baseline, without the interpreter's
// directory.
func (r *results) baselines() []string {
	out := make([]string, len(r.Runtimes))
	for i, rt := range r.Runtimes {
		out[i] = baselineLabel(rt.Baseline)
	}
	return out
}

func baselineLabel(cmd []string) string {
	if len(cmd) == 0 {
		return "-"
	}
	return strings.Join(append([]string{lastElem(cmd[0])}, cmd[1:]...), " ")
}

func lastElem(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

func signedMs(v float64) string { return harness.Signed(v, harness.FormatMillis) }

// isUnit says which words the wrapped text keeps on the line of the
// number before them.
func isUnit(w string) bool {
	unit := strings.TrimRight(w, ",.;:)")
	return unit == "ms" || unit == "MB"
}
