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
	// Sandboxed says whether the REPORT lines of the embers' first streams
	// said that ember enforced the function's limits, which it does in a
	// sandbox with cgroups only.
	Sandboxed *bool    `json:"sandboxed,omitempty"`
	Metrics   []metric `json:"metrics"`
	Checks    []check  `json:"checks"`
	Targets   []target `json:"targets"`
}

type settings struct {
	First int `json:"first"`
	// FirstChunks, FirstChunkBytes and FirstPauseMS are the shape of the
	// first byte's streams.
	FirstChunks     int `json:"first_chunks"`
	FirstChunkBytes int `json:"first_chunk_bytes"`
	FirstPauseMS    int `json:"first_pause_ms"`
	SizeMB          int `json:"size_mb"`
	// ChunkBytes is the size of each write of the throughput's streams.
	ChunkBytes int  `json:"chunk_bytes"`
	N          int  `json:"n"`
	CappedMB   int  `json:"capped_mb"`
	CappedN    int  `json:"capped_n"`
	NoSandbox  bool `json:"no_sandbox"`
	MemoryMB   int  `json:"memory_mb"`
	// Client is how the streams are read.
	Client string `json:"client"`
}

// The phases, and their paths.
const (
	phaseFirst      = "first byte"
	phaseThroughput = "throughput"
	phaseCapped     = "Lambda's bandwidth"
	pathPlain       = "plain HTTP"
	pathEmber       = "ember"
	pathCapped      = "ember, --stream-bandwidth lambda"
	clientName      = "net/http, the event stream decoded with aws-sdk-go-v2 eventstream.Decoder"
)

// The metrics; a metric is one figure of one path of one phase.
const (
	idFirstP50  = "first_p50"
	idFirstP90  = "first_p90"
	idTotalP50  = "total_p50"
	idTotalP90  = "total_p90"
	idTimeP50   = "time_p50"
	idRate      = "mb_per_s"
	idRatio     = "ratio"
	idServerCPU = "server_cpu_ms"
	idClientCPU = "client_cpu_ms"
	idRule      = "rule_ms"
)

// Units of the figures.
const (
	unitMillis = harness.UnitMillis
	unitMBps   = "MB/s"
	unitRatio  = "×"
)

type metric struct {
	ID    string  `json:"id"`
	Phase string  `json:"phase"`
	Path  string  `json:"path"`
	Label string  `json:"label"`
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
}

// check says whether the streams of a path succeeded.
type check struct {
	Phase       string `json:"phase"`
	Path        string `json:"path"`
	Requests    int    `json:"requests"`
	Errors      int    `json:"errors"`
	ErrorDetail string `json:"error_detail,omitempty"`
}

// target bounds a figure computed from the metrics.
type target struct {
	Name   string         `json:"name"`
	Unit   string         `json:"unit"`
	Value  *float64       `json:"value"`
	Target harness.Target `json:"target"`
	Met    bool           `json:"met"`
}

func newResults(cfg config) *results {
	return &results{
		Report: harness.NewReport(),
		Settings: settings{First: cfg.first, FirstChunks: firstShape.chunks, FirstChunkBytes: firstShape.size,
			FirstPauseMS: int(firstShape.pause.Milliseconds()), SizeMB: cfg.sizeMB, ChunkBytes: bigChunk, N: cfg.n,
			CappedMB: cfg.cappedMB, CappedN: cfg.cappedN, NoSandbox: cfg.noSandbox, MemoryMB: memoryMB, Client: clientName},
	}
}

func (r *results) note(format string, a ...any) { r.Note(format, a...) }

func (r *results) add(id, phase, path, label, unit string, v float64) {
	r.Metrics = append(r.Metrics, metric{ID: id, Phase: phase, Path: path, Label: label, Unit: unit, Value: v})
}

func (r *results) addCheck(phase, path string, t harness.Tally) {
	r.Checks = append(r.Checks, check{Phase: phase, Path: path, Requests: t.Requests, Errors: t.Errors, ErrorDetail: t.Describe()})
}

// sandboxed records what the REPORT line of an ember's first stream said,
// and notes where it is not what the run asked for.
func (r *results) sandboxed(name string, enforced bool) {
	all := enforced && (r.Sandboxed == nil || *r.Sandboxed)
	r.Sandboxed = &all
	switch {
	case !r.Settings.NoSandbox && !enforced:
		r.note("the REPORT line of %s says \"Limits: not enforced\": ember ran the streamer as a plain process or without cgroups "+
			"(it sandboxes functions only as root on Linux; its warnings say why), so these are not a sandboxed ember's figures, nor at one vCPU", name)
	case r.Settings.NoSandbox && enforced:
		r.note("%s ran with --no-sandbox, yet its REPORT line does not say \"Limits: not enforced\"", name)
	}
}

func (r *results) value(id, phase, path string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.ID == id && m.Phase == phase && m.Path == path {
			return m.Value, true
		}
	}
	return 0, false
}

// failed reports whether a request failed.
func (r *results) failed() bool {
	for _, c := range r.Checks {
		if c.Errors > 0 {
			return true
		}
	}
	return false
}

// The targets.
const (
	targetFirst  = "first PayloadChunk p50, before the streamer's second write"
	targetRate   = "stream MB/s ÷ plain HTTP's, bandwidth unlimited"
	targetCapped = "stream time ÷ the rule's, Lambda's bandwidth"
)

// judge computes the targets' figures and verdicts.
func (r *results) judge() {
	r.Targets = nil
	get := func(id, phase, path string) *float64 {
		if v, ok := r.value(id, phase, path); ok {
			return &v
		}
		return nil
	}
	ts := []target{
		{Name: targetFirst, Unit: unitMillis, Value: get(idFirstP50, phaseFirst, pathEmber),
			Target: harness.Target{Op: "<=", Value: float64(r.Settings.FirstPauseMS)}},
		{Name: fmt.Sprintf("%d MB %s", r.Settings.SizeMB, targetRate), Unit: harness.UnitPerSecond, Value: get(idRatio, phaseThroughput, pathEmber),
			Target: harness.Target{Op: ">=", Value: 0.5}},
	}
	if r.Settings.CappedMB > 0 {
		// The rule holds when the stream takes at least nearly its time.
		ts = append(ts, target{Name: fmt.Sprintf("%d MB %s", r.Settings.CappedMB, targetCapped), Unit: unitRatio,
			Value: get(idRatio, phaseCapped, pathCapped), Target: harness.Target{Op: ">=", Value: 0.95}})
	}
	for _, t := range ts {
		t.Met = t.Value != nil && t.Target.Met(*t.Value)
		r.Targets = append(r.Targets, t)
	}
}

func (r *results) print(w io.Writer) error {
	r.judge()
	return harness.Print(w, r.write)
}

func (r *results) write(w io.Writer) {
	s := r.Settings
	ember, cpu := "sandboxed", "one vCPU"
	switch {
	case s.NoSandbox:
		ember, cpu = "--no-sandbox", "no CPU limit"
	case r.Sandboxed != nil && !*r.Sandboxed:
		ember, cpu = "NOT sandboxed (its REPORT lines say \"Limits: not enforced\")", "no CPU limit"
	}
	fmt.Fprintf(w, "ember response streaming benchmark, %s %s/%s, %d CPUs, ember serve %s, streamer at %d MB (%s), read with net/http and aws-sdk-go-v2's eventstream.Decoder\n",
		r.Go, r.OS, r.Arch, r.CPUs, ember, memoryMB, cpu)

	pauses := float64(s.FirstPauseMS * (s.FirstChunks - 1))
	title := fmt.Sprintf("%d chunks of %d B, %d ms apart, %d each", s.FirstChunks, s.FirstChunkBytes, s.FirstPauseMS, s.First)
	var rows [][]string
	for _, id := range []string{idFirstP50, idFirstP90, idTotalP50, idTotalP90} {
		label := ""
		for _, m := range r.Metrics {
			if m.ID == id && m.Phase == phaseFirst {
				label = m.Label
				break
			}
		}
		if label == "" {
			continue
		}
		d := "-"
		va, oka := r.value(id, phaseFirst, pathPlain)
		vb, okb := r.value(id, phaseFirst, pathEmber)
		if oka && okb {
			d = harness.Signed(vb-va, harness.FormatMillis)
		}
		rows = append(rows, []string{label, r.cell(id, phaseFirst, pathPlain), r.cell(id, phaseFirst, pathEmber), d})
	}
	rows = append(rows, []string{"the pauses' sum (reference)", harness.FormatMillis(pauses), harness.FormatMillis(pauses), "-"})
	harness.WriteTable(w, []string{title, "plain HTTP (flushed)", "ember", "ember − plain"}, rows)

	fmt.Fprintln(w)
	tw := harness.NewTable(w)
	fmt.Fprintf(tw, "%d MB stream in %d KB writes, bandwidth unlimited, %d each\ttime p50\tMB/s\t÷ plain HTTP\tserver's CPU a stream\tclient's CPU a stream\n",
		s.SizeMB, s.ChunkBytes>>10, s.N)
	for _, p := range []string{pathPlain, pathEmber} {
		label := p
		if p == pathPlain {
			label = "plain HTTP (baseline)"
		}
		ratio := "-"
		if v, ok := r.value(idRatio, phaseThroughput, p); ok {
			ratio = fmt.Sprintf("%.1f%%", 100*v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", label, r.cell(idTimeP50, phaseThroughput, p), r.cell(idRate, phaseThroughput, p), ratio,
			r.cell(idServerCPU, phaseThroughput, p), r.cell(idClientCPU, phaseThroughput, p))
	}
	tw.Flush()

	if s.CappedMB > 0 {
		fmt.Fprintln(w)
		tw = harness.NewTable(w)
		fmt.Fprintf(tw, "%d MB stream, Lambda's bandwidth, %d each\ttime p50\tMB/s\tthe rule's time\t÷ the rule's\n", s.CappedMB, s.CappedN)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", pathCapped, r.cell(idTimeP50, phaseCapped, pathCapped), r.cell(idRate, phaseCapped, pathCapped),
			r.cell(idRule, phaseCapped, pathCapped), r.cell(idRatio, phaseCapped, pathCapped))
		tw.Flush()
	}

	fmt.Fprintln(w)
	tw = harness.NewTable(w)
	fmt.Fprintln(tw, "target\tvalue\ttarget\tverdict")
	for _, t := range r.Targets {
		v := "-"
		if t.Value != nil {
			v = formatTarget(t.Unit, *t.Value)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\n", t.Name, v, t.Target.Symbol(), formatTarget(t.Unit, t.Target.Value), harness.Verdict(t.Met))
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = harness.NewTable(w)
	fmt.Fprintln(tw, "phase\tpath\tstreams\terrors")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", c.Phase, c.Path, c.Requests, c.Errors)
	}
	tw.Flush()
	for _, c := range r.Checks {
		if c.ErrorDetail != "" {
			fmt.Fprintf(w, "%s, %s: %s\n", c.Phase, c.Path, c.ErrorDetail)
		}
	}

	harness.WriteNotes(w, r.Notes, r.Summary, true, isUnit)
}

// cell formats a metric, "-" when it is missing.
func (r *results) cell(id, phase, path string) string {
	for _, m := range r.Metrics {
		if m.ID == id && m.Phase == phase && m.Path == path {
			return formatValue(m.Unit, m.Value)
		}
	}
	return "-"
}

func formatValue(unit string, v float64) string {
	switch unit {
	case unitMBps:
		return fmt.Sprintf("%.0f MB/s", v)
	case unitRatio:
		return fmt.Sprintf("%.2f×", v)
	}
	return harness.FormatMillis(v)
}

// formatTarget shows a target's figure: a ratio of rates as a
// percentage, the way the target is stated.
func formatTarget(unit string, v float64) string {
	if unit == harness.UnitPerSecond {
		return fmt.Sprintf("%.1f%%", 100*v)
	}
	return formatValue(unit, v)
}

// isUnit says which words the wrapped text keeps on the line of the
// number before them.
func isUnit(w string) bool {
	unit := strings.TrimRight(w, ",.;:)")
	return unit == "ms" || unit == "MB" || unit == "MB/s" || unit == "KB" || unit == "B" || unit == "s"
}

// whereTimeGoes says in words what the figures show.
func (r *results) whereTimeGoes() string {
	var s []string
	add := func(format string, a ...any) { s = append(s, fmt.Sprintf(format, a...)) }
	st := r.Settings
	pauses := float64(st.FirstPauseMS * (st.FirstChunks - 1))
	ef, eok := r.value(idFirstP50, phaseFirst, pathEmber)
	et, tok := r.value(idTotalP50, phaseFirst, pathEmber)
	pf, pok := r.value(idFirstP50, phaseFirst, pathPlain)
	pt, ptok := r.value(idTotalP50, phaseFirst, pathPlain)
	if eok && tok && pok && ptok {
		add("Through ember the first PayloadChunk of a stream of %d chunks %d ms apart came %.2f ms after the request at p50 (the plain server's first bytes %.2f ms), "+
			"and the stream ended after %.1f ms (plain %.1f ms), %.1f ms past the %.0f ms of pauses: ember relays each write as it comes, "+
			"the rest is the Invoke's way through ember and the function's runtime client.",
			st.FirstChunks, st.FirstPauseMS, ef, pf, et, pt, et-pauses, pauses)
	}
	er, erok := r.value(idRate, phaseThroughput, pathEmber)
	pr, prok := r.value(idRate, phaseThroughput, pathPlain)
	if erok && prok {
		add("A %d MB stream came through ember at %.0f MB/s against %.0f MB/s from the plain server (%.0f%%): "+
			"its bytes cross two HTTP exchanges (the function's runtime client to ember's Runtime API, ember to the caller) "+
			"and ember frames them as event-stream messages of at most 32 KB, each with its CRCs, which the client decodes and checks.",
			st.SizeMB, er, pr, 100*er/pr)
		es, esok := r.value(idServerCPU, phaseThroughput, pathEmber)
		ps, psok := r.value(idServerCPU, phaseThroughput, pathPlain)
		ec, ecok := r.value(idClientCPU, phaseThroughput, pathEmber)
		pc, pcok := r.value(idClientCPU, phaseThroughput, pathPlain)
		if esok && psok && ecok && pcok {
			add("Each stream took %.0f ms of CPU in ember and the streamer (%.0f ms in the plain server, which generates the same bytes) "+
				"and %.0f ms in the client (%.0f ms reading the plain body).", es, ps, ec, pc)
		}
	}
	ct, cok := r.value(idTimeP50, phaseCapped, pathCapped)
	rule, rok := r.value(idRule, phaseCapped, pathCapped)
	if cok && rok {
		add("Under Lambda's bandwidth a %d MB stream took %.2f s at p50, against %.2f s by the rule (the first 6 MB at once, then 2 MB/s).",
			st.CappedMB, ct/1000, rule/1000)
	}
	return strings.Join(s, " ")
}
