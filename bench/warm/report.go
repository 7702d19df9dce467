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
	// Pinning says how the sequential phase was pinned; nil when it was
	// not.
	Pinning *pinning `json:"pinning,omitempty"`
	// Sandboxed says, for the sandboxed rie and serve paths, whether
	// ember's REPORT lines said that it enforced its limits.
	Sandboxed   map[string]bool `json:"sandboxed"`
	Paths       []pathResult    `json:"paths"`
	CPU         []cpuResult     `json:"cpu,omitempty"`
	Propagation []propagation   `json:"propagation,omitempty"`
	Targets     []targetResult  `json:"targets"`

	warmupFailed bool
}

type settings struct {
	N            int    `json:"n"`
	Warmup       int    `json:"warmup"`
	Clients      int    `json:"clients"`
	Duration     string `json:"duration"`
	Changes      int    `json:"changes"`
	MemoryMB     int    `json:"memory_mb"`
	PayloadBytes int    `json:"payload_bytes"`
	Ember        string `json:"ember,omitempty"`
	EmberBefore  string `json:"ember_before,omitempty"`
}

type pinning struct {
	ClientCPU int `json:"client_cpu"`
	ServerCPU int `json:"server_cpu"`
}

// pathResult is what came of the requests of one path.
type pathResult struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Before bool   `json:"before,omitempty"`
	// P50 and P99 are of the sequential phase, in µs.
	P50 float64 `json:"p50_us"`
	P99 float64 `json:"p99_us"`
	// Rate is the concurrent clients' requests per second.
	Rate float64 `json:"rate"`
	// ServerCPU is the CPU time per request of the server's own process
	// (ember's, the echo server's), RuntimesCPU that of its descendants
	// (ember's runtimes and sandboxes), in the sequential phase, in µs.
	ServerCPU   float64 `json:"server_cpu_us"`
	RuntimesCPU float64 `json:"runtimes_cpu_us"`
	// Ratios to the echo's figure of the same phase.
	P50Ratio  float64 `json:"p50_ratio"`
	CPURatio  float64 `json:"server_cpu_ratio"`
	RateRatio float64 `json:"rate_ratio"`
	// Requests and Errors are of both phases, warm-up excluded.
	Requests    int    `json:"requests"`
	Errors      int    `json:"errors"`
	ErrorDetail string `json:"error_detail,omitempty"`
}

// cpuResult is the CPU time per request of the processes of one path in
// one phase, in µs.
type cpuResult struct {
	Phase    string  `json:"phase"`
	Path     string  `json:"path"`
	Client   float64 `json:"client_us"`
	Server   float64 `json:"server_us"`
	Runtimes float64 `json:"runtimes_us"`
	// Ended counts runtime processes that ended during a turn, whose CPU
	// time is lost.
	Ended int `json:"ended,omitempty"`
}

// propagation is how long changes made through one ember took to reach
// another sharing its NATS server, in ms: from the answer of the first to
// the first answer of the second that showed the change (Lag), and from
// the sending of the change (FromSend).
type propagation struct {
	Ember   string  `json:"ember"`
	Changes int     `json:"changes"`
	NotSeen int     `json:"not_seen"`
	Detail  string  `json:"detail,omitempty"`
	P50     float64 `json:"p50_ms"`
	Max     float64 `json:"max_ms"`
	SendP50 float64 `json:"from_send_p50_ms"`
	SendMax float64 `json:"from_send_max_ms"`
}

// targetResult is a target of the issue and its verdict.
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
		Settings: settings{
			N: cfg.n, Warmup: cfg.warmup, Clients: cfg.clients, Duration: cfg.duration.String(),
			Changes: cfg.changes, MemoryMB: cfg.memory, PayloadBytes: payloadSize,
			Ember: cfg.ember, EmberBefore: cfg.emberBefore,
		},
		Sandboxed: map[string]bool{},
	}
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// addPath adds the figures of p, whose CPU figures addCPU added.
func (r *results) addPath(p *path) {
	pr := pathResult{Name: p.Name, Kind: p.kind, Before: p.before,
		P50:      micros(p.sequential.Samples.Percentile(50)),
		P99:      micros(p.sequential.Samples.Percentile(99)),
		Rate:     p.concurrent.Samples.Rate(),
		Requests: p.sequential.Tally.Requests + p.concurrent.Tally.Requests,
		Errors:   p.sequential.Tally.Errors + p.concurrent.Tally.Errors,
	}
	for _, t := range []harness.Tally{p.sequential.Tally, p.concurrent.Tally} {
		if pr.ErrorDetail == "" {
			pr.ErrorDetail = t.Describe()
		}
	}
	for _, c := range r.CPU {
		if c.Phase == "sequential" && c.Path == p.Name {
			pr.ServerCPU, pr.RuntimesCPU = c.Server, c.Runtimes
		}
	}
	r.Paths = append(r.Paths, pr)
}

// addCPU adds the CPU time per request of each path's processes in
// phase, from meter.
func (r *results) addCPU(phase string, paths []*path, meter *harness.CPUMeter) error {
	for _, p := range paths {
		t, err := meter.Totals(p.Name)
		if err != nil {
			r.Note("%s: CPU time not measured: %v", phase, err)
			return nil
		}
		n := p.Tally.Requests
		r.CPU = append(r.CPU, cpuResult{Phase: phase, Path: p.Name,
			Client: harness.PerRequest(t.Client, n), Server: harness.PerRequest(t.Server, n),
			Runtimes: harness.PerRequest(t.Descendants, n), Ended: t.Ended})
		if t.Ended > 0 {
			r.Note("%s, %s: %d runtime processes ended during a turn; their CPU time is not counted", phase, p.Name, t.Ended)
		}
	}
	return nil
}

// fill sets the percentiles of the lags.
func (p *propagation) fill(lags, fromSend []time.Duration) {
	l, s := harness.Samples{Lat: lags}, harness.Samples{Lat: fromSend}
	p.P50, p.Max = harness.Millis(l.Percentile(50)), harness.Millis(l.Percentile(100))
	p.SendP50, p.SendMax = harness.Millis(s.Percentile(50)), harness.Millis(s.Percentile(100))
}

// find returns the figures of the path of kind, before or not.
func (r *results) find(kind string, before bool) *pathResult {
	for i := range r.Paths {
		if r.Paths[i].Kind == kind && r.Paths[i].Before == before {
			return &r.Paths[i]
		}
	}
	return nil
}

// judge works out the ratios to the echo's figures and the targets'
// verdicts.
func (r *results) judge() {
	echo := r.find(kindEcho, false)
	if echo == nil {
		return
	}
	for i := range r.Paths {
		p := &r.Paths[i]
		p.P50Ratio = harness.Ratio(p.P50, echo.P50)
		p.CPURatio = harness.Ratio(p.ServerCPU, echo.ServerCPU)
		p.RateRatio = harness.Ratio(p.Rate, echo.Rate)
	}
	add := func(label, unit string, value float64, t harness.Target, measured bool) {
		tr := targetResult{Label: label, Unit: unit, Value: value, Target: t}
		if measured {
			met := t.Met(value)
			tr.Met = &met
		}
		r.Targets = append(r.Targets, tr)
	}
	const ratio = "×"
	le := func(v float64) harness.Target { return harness.Target{Op: "<=", Value: v} }
	rie, serve := r.find(kindRie, false), r.find(kindServeHTTP, false)
	add("ember rie, warm p50 ÷ echo's", ratio, rie.P50Ratio, le(3.5), rie.P50 > 0)
	add("ember serve (raw HTTP), warm p50 ÷ echo's", ratio, serve.P50Ratio, le(4), serve.P50 > 0)
	add("ember rie, ember's CPU per invocation ÷ echo server's", ratio, rie.CPURatio, le(3), rie.ServerCPU > 0 && echo.ServerCPU > 0)
	add("ember serve (raw HTTP), ember's CPU per invocation ÷ echo server's", ratio, serve.CPURatio, le(3), serve.ServerCPU > 0 && echo.ServerCPU > 0)
	gain, measured := 0.0, false
	if before := r.find(kindServeHTTP, true); before != nil && before.Rate > 0 {
		gain, measured = serve.Rate/before.Rate, true
	}
	add(fmt.Sprintf("ember serve (raw HTTP), %d clients, invocations/s ÷ before's", r.Settings.Clients), ratio, gain,
		harness.Target{Op: ">=", Value: 2}, measured)
	for _, p := range r.Propagation {
		if p.Ember != "ember" {
			continue
		}
		seen := p.NotSeen == 0 && p.Changes > 0
		add("change through one ember seen by another, p50", harness.UnitMillis, p.P50, le(100), seen)
		add("change through one ember seen by another, max", harness.UnitMillis, p.Max, le(100), seen)
	}
}

// failed reports whether a measured request or a warm-up failed, or a
// change was never seen.
func (r *results) failed() bool {
	for _, p := range r.Paths {
		if p.Errors > 0 {
			return true
		}
	}
	for _, p := range r.Propagation {
		if p.NotSeen > 0 {
			return true
		}
	}
	return r.warmupFailed
}

func (r *results) print(out io.Writer) error { return harness.Print(out, r.printTo) }

func (r *results) printTo(w io.Writer) {
	pin := "not pinned"
	if p := r.Pinning; p != nil {
		pin = fmt.Sprintf("sequential: client on CPU %d, servers and their descendants on CPU %d", p.ClientCPU, p.ServerCPU)
	}
	fmt.Fprintf(w, "ember warm path benchmark, %s %s/%s, %d CPUs, echo function at %d MB, %d-byte events, net/http keep-alive client\n%s; %d clients unpinned\n",
		r.Go, r.OS, r.Arch, r.CPUs, r.Settings.MemoryMB, r.Settings.PayloadBytes, pin, r.Settings.Clients)

	header := []string{fmt.Sprintf("path (%d sequential, %v of %d clients)", r.Settings.N, r.Settings.Duration, r.Settings.Clients),
		"warm p50", "p99", "÷ echo", "server CPU/req", "÷ echo", "runtimes CPU/req", fmt.Sprintf("%d clients", r.Settings.Clients), "÷ echo", "errors"}
	var rows [][]string
	for _, p := range r.Paths {
		rows = append(rows, []string{p.Name, us(p.P50), us(p.P99), times(p.P50Ratio), us(p.ServerCPU), times(p.CPURatio),
			us(p.RuntimesCPU), fmt.Sprintf("%.0f/s", p.Rate), times(p.RateRatio), fmt.Sprintf("%d of %d", p.Errors, p.Requests)})
	}
	harness.WriteTable(w, header, rows)

	if len(r.Propagation) > 0 {
		rows = nil
		for _, p := range r.Propagation {
			rows = append(rows, []string{p.Ember, fmt.Sprint(p.Changes), fmt.Sprint(p.NotSeen),
				harness.FormatMillis(p.P50), harness.FormatMillis(p.Max), harness.FormatMillis(p.SendP50), harness.FormatMillis(p.SendMax)})
		}
		harness.WriteTable(w, []string{"change A → B (shared NATS)", "changes", "not seen", "p50", "max", "p50 from send", "max from send"}, rows)
	}

	rows = nil
	for _, t := range r.Targets {
		value, verdict := "-", "not measured"
		if t.Met != nil {
			verdict = harness.Verdict(*t.Met)
			value = formatFigure(t.Unit, t.Value)
		}
		rows = append(rows, []string{t.Label, value, t.Target.Symbol() + " " + formatBound(t.Unit, t.Target.Value), verdict})
	}
	harness.WriteTable(w, []string{"target", "figure", "target", "verdict"}, rows)

	if len(r.CPU) > 0 {
		rows = nil
		for _, c := range r.CPU {
			rows = append(rows, []string{c.Phase, c.Path, us(c.Client), us(c.Server), us(c.Runtimes)})
		}
		harness.WriteTable(w, []string{"CPU per request", "path", "client", "server", "runtimes"}, rows)
	}
	for _, p := range r.Paths {
		if p.ErrorDetail != "" {
			fmt.Fprintf(w, "%s errors: %s\n", p.Name, p.ErrorDetail)
		}
	}
	for _, p := range r.Propagation {
		if p.Detail != "" {
			fmt.Fprintf(w, "change propagation (%s): %d changes not seen; the first: %s\n", p.Ember, p.NotSeen, p.Detail)
		}
	}
	harness.WriteNotes(w, r.Notes, r.Summary, true, isUnit)
}

func isUnit(w string) bool { return strings.HasPrefix(w, "ms") || strings.HasPrefix(w, "µs") }

func us(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f µs", v)
}

func times(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", v)
}

func formatFigure(unit string, v float64) string {
	if unit == harness.UnitMillis {
		return harness.FormatMillis(v)
	}
	return fmt.Sprintf("%.2f×", v)
}

func formatBound(unit string, v float64) string {
	if unit == harness.UnitMillis {
		return fmt.Sprintf("%g ms", v)
	}
	return fmt.Sprintf("%g×", v)
}
