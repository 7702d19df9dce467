package metrics

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ContentType is the media type of the text exposition format that
// WriteText writes.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// row is one function version's counters as a scrape saw them.
type row struct {
	labels string // function="…",version="…"
	key    seriesKey
	series
}

// dropRow is one function's dropped async events as a scrape saw them.
type dropRow struct {
	function string
	n        uint64
}

// snapshot copies the counters, sorted by function and version, and the
// dropped events, sorted by function, so that writing them holds no lock.
func (r *Registry) snapshot() ([]row, []dropRow) {
	r.mu.Lock()
	rows := make([]row, 0, len(r.series))
	for k, s := range r.series {
		rows = append(rows, row{key: k, series: *s})
	}
	dropped := make([]dropRow, 0, len(r.dropped))
	for f, n := range r.dropped {
		dropped = append(dropped, dropRow{f, n})
	}
	r.mu.Unlock()
	slices.SortFunc(rows, func(a, b row) int { return compareKeys(a.key, b.key) })
	slices.SortFunc(dropped, func(a, b dropRow) int { return cmp.Compare(a.function, b.function) })
	for i := range rows {
		rows[i].labels = labelPairs("function", rows[i].key.function, "version", rows[i].key.version)
	}
	return rows, dropped
}

func compareKeys(a, b seriesKey) int {
	if c := cmp.Compare(a.function, b.function); c != 0 {
		return c
	}
	return cmp.Compare(a.version, b.version)
}

// WriteText writes every metric to w in the Prometheus text exposition
// format 0.0.4: the families in a fixed order, each with its HELP and TYPE
// lines, its series sorted by function and version. g gives the gauges.
func (r *Registry) WriteText(w io.Writer, g Gauges) error {
	rows, dropped := r.snapshot()
	t := textWriter{w: bufio.NewWriter(w)}

	writeCounter := func(name, help string, value func(*series) uint64) {
		t.family(name, "counter", help)
		for i := range rows {
			t.count(name, rows[i].labels, value(&rows[i].series))
		}
	}
	writeHistogram := func(name, help string, bounds []float64, h func(*series) *histogram) {
		t.family(name, "histogram", help)
		for i := range rows {
			t.histogram(name, rows[i].labels, bounds, h(&rows[i].series))
		}
	}

	writeCounter("ember_lambda_invocations_total",
		"Invocations that ran, whatever their result; throttled requests are not counted (Lambda's Invocations).",
		func(s *series) uint64 { return s.invocations })
	writeCounter("ember_lambda_errors_total",
		"Invocations that ended in a function or runtime error or a timeout (Lambda's Errors).",
		func(s *series) uint64 { return s.errors })
	writeCounter("ember_lambda_throttles_total",
		"Invocation requests refused because the concurrency limit was reached (Lambda's Throttles).",
		func(s *series) uint64 { return s.throttles })
	writeHistogram("ember_lambda_duration_seconds",
		"Time the function spent on an invocation (Lambda's Duration).",
		durationBuckets[:], func(s *series) *histogram { return &s.duration })

	t.family("ember_lambda_concurrent_executions", "gauge",
		"Invocations running now (Lambda's ConcurrentExecutions).")
	keys := make([]seriesKey, 0, len(g.ConcurrentExecutions))
	for k := range g.ConcurrentExecutions {
		keys = append(keys, seriesKey{k[0], k[1]})
	}
	slices.SortFunc(keys, compareKeys)
	for _, k := range keys {
		t.value("ember_lambda_concurrent_executions", labelPairs("function", k.function, "version", k.version),
			float64(g.ConcurrentExecutions[[2]string{k.function, k.version}]))
	}

	writeCounter("ember_lambda_cold_starts_total",
		"Invocations that ran in a new execution environment, after its Init.",
		func(s *series) uint64 { return s.coldStarts })
	writeHistogram("ember_lambda_init_duration_seconds",
		"Time the Init phase of a new execution environment took (Lambda's Init Duration).",
		initBuckets[:], func(s *series) *histogram { return &s.init })

	t.family("ember_lambda_async_events_queued", "gauge",
		"Async events waiting in the queue.")
	t.value("ember_lambda_async_events_queued", "", float64(g.AsyncQueued))
	t.family("ember_lambda_async_event_age_seconds", "gauge",
		"Age of the oldest async event waiting in the queue (Lambda's AsyncEventAge).")
	t.value("ember_lambda_async_event_age_seconds", "", g.AsyncOldestAge.Seconds())

	t.family("ember_lambda_async_events_dropped_total", "counter",
		"Async events dropped after their last retry or past their maximum age (Lambda's AsyncEventsDropped).")
	for _, d := range dropped {
		t.count("ember_lambda_async_events_dropped_total", labelPairs("function", d.function), d.n)
	}

	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return nil
}

// textWriter writes lines of the text format. Its bufio.Writer keeps the
// first write error, turns every later write into a no-op and returns the
// error from Flush, where WriteText reports it; so the writes here do not
// look at their results.
type textWriter struct {
	w   *bufio.Writer
	num []byte // scratch for formatting numbers
}

func (t *textWriter) family(name, typ, help string) {
	// The help texts are constants without backslashes or newlines, so
	// they need no escaping.
	t.w.WriteString("# HELP " + name + " " + help + "\n")
	t.w.WriteString("# TYPE " + name + " " + typ + "\n")
}

// count writes a sample with an integer value; labels are labelPairs'.
func (t *textWriter) count(name, labels string, v uint64) {
	t.name(name, labels)
	t.num = strconv.AppendUint(t.num[:0], v, 10)
	t.w.Write(t.num)
	t.w.WriteByte('\n')
}

// value writes a sample with a float value; labels are labelPairs'.
func (t *textWriter) value(name, labels string, v float64) {
	t.name(name, labels)
	t.num = strconv.AppendFloat(t.num[:0], v, 'g', -1, 64)
	t.w.Write(t.num)
	t.w.WriteByte('\n')
}

// name writes a sample's name and labels and the space before its value.
func (t *textWriter) name(name, labels string) {
	t.w.WriteString(name)
	if labels != "" {
		t.w.WriteByte('{')
		t.w.WriteString(labels)
		t.w.WriteByte('}')
	}
	t.w.WriteByte(' ')
}

// histogram writes h's cumulative buckets, its sum in seconds and its
// count.
func (t *textWriter) histogram(name, labels string, bounds []float64, h *histogram) {
	prefix := labels
	if prefix != "" {
		prefix += ","
	}
	var cumulative uint64
	for i, b := range bounds {
		cumulative += h.counts[i]
		t.count(name+"_bucket", prefix+`le="`+strconv.FormatFloat(b, 'g', -1, 64)+`"`, cumulative)
	}
	cumulative += h.counts[len(bounds)]
	t.count(name+"_bucket", prefix+`le="+Inf"`, cumulative)
	t.value(name+"_sum", labels, h.sum.Seconds())
	t.count(name+"_count", labels, cumulative)
}

// labelEscaper escapes a label value as the text format wants it.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// labelPairs formats name, value, … as name="value",…: each value made
// UTF-8, as the format is, and escaped.
func labelPairs(nameValues ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(nameValues); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(nameValues[i])
		b.WriteString(`="`)
		b.WriteString(labelEscaper.Replace(strings.ToValidUTF8(nameValues[i+1], "\uFFFD")))
		b.WriteByte('"')
	}
	return b.String()
}
