package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/emberfn/ember/bench/internal/harness"
)

// results are the figures of a run, as printed and as written with -json.
type results struct {
	harness.Report
	Settings settings `json:"settings"`
	// Sandboxed says whether the REPORT line of an Invoke said that ember
	// enforced the function's limits, which it does in a sandbox with
	// cgroups only.
	Sandboxed *bool    `json:"sandboxed,omitempty"`
	Metrics   []metric `json:"metrics"`
	// Memory is missing where the memory of another process cannot be
	// read.
	Memory *memory          `json:"memory,omitempty"`
	Checks []check          `json:"checks"`
	CPU    []harness.CPUUse `json:"cpu,omitempty"`

	// warmupFailed says that a warm-up request failed, which a note
	// describes.
	warmupFailed bool
}

type settings struct {
	N         int    `json:"n"`
	Warmup    int    `json:"warmup"`
	Clients   int    `json:"clients"`
	Duration  string `json:"duration"`
	Creates   int    `json:"creates"`
	Functions int    `json:"functions"`
	NoSandbox bool   `json:"no_sandbox"`
	// PayloadBytes is the size of an Invoke's payload.
	PayloadBytes int `json:"payload_bytes"`
	// ZipBytes is the size of the big zip, ZipRandomBytes that of the
	// random file in it, CreateBodyBytes that of the CreateFunction body
	// that carries it.
	ZipBytes        int `json:"zip_bytes"`
	ZipRandomBytes  int `json:"zip_random_bytes"`
	CreateBodyBytes int `json:"create_body_bytes"`
	// SmallZipBytes is the size of the zip of each of the functions of
	// the memory phase.
	SmallZipBytes int `json:"small_zip_bytes"`
	PageSize      int `json:"page_size"`
	// Pages is how many pages a listing of all the functions takes, and
	// PageBytes the size of the body of the first.
	Pages      int `json:"pages"`
	PageBytes  int `json:"page_bytes"`
	ListRounds int `json:"list_rounds"`
}

// Groups of metrics, a table each.
const (
	groupInvoke    = "invoke"
	groupRecord    = "record"
	groupCreate    = "create"
	groupFunctions = "functions"
)

// metric is one figure of ember beside its baselines.
type metric struct {
	ID    string `json:"id"`
	Group string `json:"group"`
	Label string `json:"label"`
	Unit  string `json:"unit"`
	// Ember is ember's figure through the aws-sdk-go-v2 Lambda client.
	Ember float64 `json:"ember"`
	// Baseline is the echo server's figure with plain net/http, or, in
	// the record group, that of an ember started with --record=false;
	// Ratio is Ember / Baseline.
	Baseline float64 `json:"baseline"`
	Ratio    float64 `json:"ratio"`
	// EchoSDK is the echo server's figure through the Lambda client, in
	// the invoke group; EchoSDKRatio is EchoSDK / Baseline.
	EchoSDK      *float64 `json:"echo_sdk,omitempty"`
	EchoSDKRatio *float64 `json:"echo_sdk_ratio,omitempty"`
	// EmberHTTP is ember's figure with the same body sent with plain
	// net/http, in the create group; EmberHTTPRatio is EmberHTTP /
	// Baseline.
	EmberHTTP      *float64 `json:"ember_http,omitempty"`
	EmberHTTPRatio *float64 `json:"ember_http_ratio,omitempty"`
	// OverheadPct, in the record group, is what recording adds, in
	// percent of the figure without it: of a time, or, for a rate, of the
	// time per invocation, its inverse. It is missing when a figure is
	// zero. TargetPct is the most it should be, on record_p50.
	OverheadPct *float64 `json:"overhead_pct,omitempty"`
	TargetPct   *float64 `json:"target_pct,omitempty"`
}

// memory is the memory of an ember serve process with functions
// registered, in bytes.
type memory struct {
	Functions int `json:"functions"`
	// Idle is before any function was created, Created after the
	// functions were, Listed after they were all listed.
	Idle    harness.ProcMemory `json:"idle"`
	Created harness.ProcMemory `json:"created"`
	Listed  harness.ProcMemory `json:"listed"`
	// PerFunctionRSS is (Created.RSS − Idle.RSS) / Functions, and
	// PerFunctionHWM the same of VmHWM.
	PerFunctionRSS float64 `json:"per_function_rss"`
	PerFunctionHWM float64 `json:"per_function_hwm"`
}

// check says whether the measured requests of a path succeeded.
type check struct {
	Phase       string `json:"phase"`
	Path        string `json:"path"`
	Requests    int    `json:"requests"`
	Errors      int    `json:"errors"`
	ErrorDetail string `json:"error_detail,omitempty"`
}

func newResults(cfg config) *results {
	return &results{
		Report: harness.NewReport(),
		Settings: settings{
			N: cfg.n, Warmup: cfg.warmup, Clients: cfg.clients, Duration: cfg.duration.String(),
			Creates: cfg.creates, Functions: cfg.functions, NoSandbox: cfg.noSandbox,
			PayloadBytes: payloadSize, PageSize: pageSize, ListRounds: listRounds,
		},
	}
}

func (r *results) note(format string, a ...any) { r.Note(format, a...) }

// addMetric adds m with its ratios.
func (r *results) addMetric(m metric) {
	m.Ratio = harness.Ratio(m.Ember, m.Baseline)
	if m.EchoSDK != nil {
		v := harness.Ratio(*m.EchoSDK, m.Baseline)
		m.EchoSDKRatio = &v
	}
	if m.EmberHTTP != nil {
		v := harness.Ratio(*m.EmberHTTP, m.Baseline)
		m.EmberHTTPRatio = &v
	}
	r.Metrics = append(r.Metrics, m)
}

// addPaths adds the checks of the measured requests of paths, and the CPU
// time per request that cpu measured for each.
func (r *results) addPaths(phase string, cpu *cpuMeter, paths []*path) {
	for _, p := range paths {
		r.Checks = append(r.Checks, check{Phase: phase, Path: p.Name, Requests: p.Tally.Requests,
			Errors: p.Tally.Errors, ErrorDetail: p.Tally.Describe()})
	}
	if cpu.err != nil {
		if !errors.Is(cpu.err, harness.ErrNoProc) {
			r.note("%s: CPU time not measured: %v", phase, cpu.err)
		}
		return
	}
	for _, p := range paths {
		t := cpu.paths[p.Name]
		if t == nil {
			continue
		}
		n := p.Tally.Requests
		u := harness.CPUUse{Phase: phase, Path: p.Name, Client: harness.PerRequest(t.client, n)}
		if strings.HasPrefix(p.Name, "ember") {
			u.Ember, u.Runtimes = harness.PerRequest(t.ember, n), harness.PerRequest(t.runtimes, n)
		} else {
			u.Echo = harness.PerRequest(t.echo, n)
		}
		r.CPU = append(r.CPU, u.WithTotal())
	}
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

func (r *results) metric(id string) (metric, bool) {
	for _, m := range r.Metrics {
		if m.ID == id {
			return m, true
		}
	}
	return metric{}, false
}

func (r *results) cpu(phase, path string) (harness.CPUUse, bool) {
	for _, c := range r.CPU {
		if c.Phase == phase && c.Path == path {
			return c, true
		}
	}
	return harness.CPUUse{}, false
}

func (r *results) print(w io.Writer) error { return harness.Print(w, r.write) }

func (r *results) write(w io.Writer) {
	ember := "sandboxed"
	switch {
	case r.Settings.NoSandbox:
		ember = "--no-sandbox"
	case r.Sandboxed != nil && !*r.Sandboxed:
		ember = "NOT sandboxed (its REPORT lines say \"Limits: not enforced\")"
	}
	fmt.Fprintf(w, "ember serve benchmark, %s %s/%s, %d CPUs, ember %s\n", r.Go, r.OS, r.Arch, r.CPUs, ember)

	s := r.Settings
	r.table(w, groupInvoke, fmt.Sprintf("Invoke, echo function, %d B", s.PayloadBytes),
		[]string{"ember (SDK)", "echo (net/http)", "echo (SDK)", "ember/echo", "echo SDK/echo"},
		func(m metric) []string {
			return []string{m.format(m.Ember), m.format(m.Baseline), m.formatPtr(m.EchoSDK), m.formatRatio(&m.Ratio), m.formatRatio(m.EchoSDKRatio)}
		})
	r.table(w, groupRecord, fmt.Sprintf("recording, echo function, %d B", s.PayloadBytes),
		[]string{"ember (SDK)", "ember --record=false (SDK)", "overhead", "target"},
		func(m metric) []string {
			return []string{m.format(m.Ember), m.format(m.Baseline), signedPct(m.OverheadPct), targetPct(m.TargetPct)}
		})
	r.table(w, groupCreate, fmt.Sprintf("CreateFunction, %d B zip, %d B body", s.ZipBytes, s.CreateBodyBytes),
		[]string{"ember (SDK)", "ember (net/http)", "echo (net/http)", "ember/echo", "ember net/http/echo"},
		func(m metric) []string {
			return []string{m.format(m.Ember), m.formatPtr(m.EmberHTTP), m.format(m.Baseline), m.formatRatio(&m.Ratio), m.formatRatio(m.EmberHTTPRatio)}
		})
	r.table(w, groupFunctions, fmt.Sprintf("%d functions, fresh ember", s.Functions),
		[]string{"ember (SDK)", "echo (net/http)", "ember/echo"},
		func(m metric) []string {
			return []string{m.format(m.Ember), m.format(m.Baseline), m.formatRatio(&m.Ratio)}
		})

	fmt.Fprintln(w)
	if m := r.Memory; m == nil {
		fmt.Fprintln(w, "memory of ember serve: n/a")
	} else {
		tw := harness.NewTable(w)
		fmt.Fprintln(tw, "memory of ember serve\tVmRSS\tVmHWM\tVmRSS − idle\tper function")
		fmt.Fprintf(tw, "idle, no functions\t%s\t%s\t\t\n", mib(m.Idle.RSS), mib(m.Idle.HWM))
		fmt.Fprintf(tw, "after %d CreateFunction\t%s\t%s\t%s\t%s\n", m.Functions, mib(m.Created.RSS), mib(m.Created.HWM),
			signedMiB(m.Created.RSS-m.Idle.RSS), perFunction(m.PerFunctionRSS))
		fmt.Fprintf(tw, "after ListFunctions of all\t%s\t%s\t%s\t%s\n", mib(m.Listed.RSS), mib(m.Listed.HWM),
			signedMiB(m.Listed.RSS-m.Idle.RSS), perFunction(float64(m.Listed.RSS-m.Idle.RSS)/float64(m.Functions)))
		tw.Flush()
	}

	fmt.Fprintln(w)
	tw := harness.NewTable(w)
	fmt.Fprintln(tw, "phase\tpath\trequests\terrors")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", c.Phase, c.Path, c.Requests, c.Errors)
	}
	tw.Flush()
	for _, c := range r.Checks {
		if c.ErrorDetail != "" {
			fmt.Fprintf(w, "%s, %s: %s\n", c.Phase, c.Path, c.ErrorDetail)
		}
	}

	fmt.Fprintln(w)
	if len(r.CPU) == 0 {
		fmt.Fprintln(w, "CPU per request: n/a")
	} else {
		tw = harness.NewTable(w)
		fmt.Fprintln(tw, "CPU per request\tpath\ttotal\tclient\tember\truntimes\techo")
		for _, c := range r.CPU {
			ember, runtimes := "-", "-"
			if strings.HasPrefix(c.Path, "ember") {
				ember, runtimes = harness.FormatMicros(c.Ember), dashIfZero(c.Runtimes)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Phase, c.Path, harness.FormatMicros(c.Total), harness.FormatMicros(c.Client),
				ember, runtimes, dashIfZero(c.Echo))
		}
		tw.Flush()
	}

	harness.WriteNotes(w, r.Notes, r.Summary, false, isUnit)
}

// table writes the metrics of group under a header of title and columns;
// row gives a metric's cells.
func (r *results) table(w io.Writer, group, title string, columns []string, row func(metric) []string) {
	var rows [][]string
	for _, m := range r.Metrics {
		if m.Group == group {
			rows = append(rows, append([]string{m.Label}, row(m)...))
		}
	}
	if len(rows) == 0 {
		return
	}
	harness.WriteTable(w, append([]string{title}, columns...), rows)
}

// isUnit says which words the wrapped text keeps on the line of the
// number before them.
func isUnit(w string) bool {
	return strings.HasPrefix(w, "ms") || strings.HasPrefix(w, "µs") || strings.HasPrefix(w, "MiB") || strings.HasPrefix(w, "KiB")
}

func dashIfZero(v float64) string {
	if v == 0 {
		return "-"
	}
	return harness.FormatMicros(v)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func signedMiB(b int64) string {
	return harness.Signed(float64(b), func(v float64) string { return mib(int64(v)) })
}

func perFunction(b float64) string {
	sign := ""
	if b < 0 {
		sign, b = "−", -b
	}
	if b >= 10<<10 {
		return fmt.Sprintf("%s%.1f KiB", sign, b/(1<<10))
	}
	return fmt.Sprintf("%s%.0f B", sign, b)
}

func (m metric) format(v float64) string { return harness.FormatValue(m.Unit, v) }

// signedPct shows a percentage with its sign, "-" when there is none.
func signedPct(v *float64) string {
	switch {
	case v == nil:
		return "-"
	case math.Abs(*v) < 0.05:
		return "0.0%"
	case *v < 0:
		return fmt.Sprintf("−%.1f%%", -*v)
	default:
		return fmt.Sprintf("+%.1f%%", *v)
	}
}

// targetPct shows the most an overhead should be, "" when there is none.
func targetPct(v *float64) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf("≤ %g%%", *v)
}

func (m metric) formatPtr(v *float64) string {
	if v == nil {
		return "-"
	}
	return m.format(*v)
}

// formatRatio shows a latency's ratio as a multiple and a rate's as a
// percentage.
func (m metric) formatRatio(ratio *float64) string {
	return harness.FormatRatio(m.Unit, m.Baseline, ratio)
}
