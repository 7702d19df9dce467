package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// families lists every family WriteText writes, in its order, with its type.
var families = []struct {
	name string
	typ  dto.MetricType
}{
	{"ember_lambda_invocations_total", dto.MetricType_COUNTER},
	{"ember_lambda_errors_total", dto.MetricType_COUNTER},
	{"ember_lambda_throttles_total", dto.MetricType_COUNTER},
	{"ember_lambda_duration_seconds", dto.MetricType_HISTOGRAM},
	{"ember_lambda_concurrent_executions", dto.MetricType_GAUGE},
	{"ember_lambda_cold_starts_total", dto.MetricType_COUNTER},
	{"ember_lambda_init_duration_seconds", dto.MetricType_HISTOGRAM},
	{"ember_lambda_async_events_queued", dto.MetricType_GAUGE},
	{"ember_lambda_async_event_age_seconds", dto.MetricType_GAUGE},
	{"ember_lambda_async_events_dropped_total", dto.MetricType_COUNTER},
}

// parse parses text as Prometheus would.
func parse(t *testing.T, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	return mfs
}

func writeText(t *testing.T, r *Registry, g Gauges) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteText(&buf, g); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// labelsOf returns a metric's labels as a map.
func labelsOf(m *dto.Metric) map[string]string {
	out := make(map[string]string)
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// find returns the metric of mf with exactly the labels given as name,
// value, …; nil when there is none.
func find(mf *dto.MetricFamily, nameValues ...string) *dto.Metric {
	want := make(map[string]string)
	for i := 0; i+1 < len(nameValues); i += 2 {
		want[nameValues[i]] = nameValues[i+1]
	}
	for _, m := range mf.GetMetric() {
		got := labelsOf(m)
		if len(got) == len(want) {
			same := true
			for k, v := range want {
				if got[k] != v {
					same = false
				}
			}
			if same {
				return m
			}
		}
	}
	return nil
}

// expected is what the test works out from its own observations, apart
// from the package's arithmetic.
type expected struct {
	invocations, errors, throttles, coldStarts int
	durations, inits                           []time.Duration
}

// checkHistogram compares h with the observations ds over bounds.
func checkHistogram(t *testing.T, what string, h *dto.Histogram, bounds []float64, ds []time.Duration) {
	t.Helper()
	if h == nil {
		t.Errorf("%s: no histogram", what)
		return
	}
	if h.GetSampleCount() != uint64(len(ds)) {
		t.Errorf("%s: count %d, want %d", what, h.GetSampleCount(), len(ds))
	}
	var sum float64
	for _, d := range ds {
		sum += d.Seconds()
	}
	if math.Abs(h.GetSampleSum()-sum) > 1e-9 {
		t.Errorf("%s: sum %v, want %v", what, h.GetSampleSum(), sum)
	}
	bs := h.GetBucket()
	if len(bs) != len(bounds)+1 {
		t.Fatalf("%s: %d buckets, want %d", what, len(bs), len(bounds)+1)
	}
	for i, b := range bs {
		bound := math.Inf(1)
		if i < len(bounds) {
			bound = bounds[i]
		}
		var n uint64
		for _, d := range ds {
			if d.Seconds() <= bound {
				n++
			}
		}
		if b.GetUpperBound() != bound || b.GetCumulativeCount() != n {
			t.Errorf("%s: bucket le=%v holds %d, want le=%v holding %d", what, b.GetUpperBound(), b.GetCumulativeCount(), bound, n)
		}
	}
}

func TestWriteTextParses(t *testing.T) {
	r := New()
	want := map[[2]string]*expected{}
	observe := func(inv Invocation) {
		r.Observe(inv)
		k := [2]string{inv.Function, inv.Version}
		e := want[k]
		if e == nil {
			e = new(expected)
			want[k] = e
		}
		if inv.Outcome == OutcomeThrottled {
			e.throttles++
			return
		}
		e.invocations++
		if inv.Outcome != OutcomeSuccess {
			e.errors++
		}
		e.durations = append(e.durations, inv.Duration)
		if inv.Cold {
			e.coldStarts++
			if inv.InitDuration > 0 {
				e.inits = append(e.inits, inv.InitDuration)
			}
		}
	}
	// Durations on and around the bounds, and beyond the last one.
	durations := []time.Duration{
		0, 500 * time.Microsecond, time.Millisecond, time.Millisecond + 1, 3 * time.Millisecond,
		99 * time.Millisecond, 100 * time.Millisecond, 101 * time.Millisecond, 1234 * time.Millisecond,
		10 * time.Second, 59 * time.Second, 900 * time.Second, 901 * time.Second,
	}
	outcomes := []string{OutcomeSuccess, OutcomeSuccess, OutcomeError, OutcomeTimeout, OutcomeThrottled}
	for i, d := range durations {
		for j, o := range outcomes {
			n := i*len(outcomes) + j
			inv := Invocation{Function: "hello", Version: "$LATEST", Duration: d, Outcome: o}
			if n%3 == 0 {
				inv.Version = "7"
			}
			if n%4 == 0 && o != OutcomeThrottled {
				inv.Cold = true
				inv.InitDuration = time.Duration(n) * 37 * time.Millisecond
				if n == 0 {
					inv.InitDuration = 5 * time.Millisecond // on a bound
				}
			}
			observe(inv)
		}
	}
	observe(Invocation{Function: "other", Version: "1", Duration: 20 * time.Second, Outcome: OutcomeSuccess,
		Cold: true, InitDuration: 12 * time.Second})
	observe(Invocation{Function: "throttled", Version: "$LATEST", Outcome: OutcomeThrottled})
	// A cold start whose Init was not measured is a cold start without an
	// init duration.
	observe(Invocation{Function: "other", Version: "1", Duration: time.Second, Outcome: OutcomeError, Cold: true})
	r.EventDropped("hello")
	r.EventDropped("hello")
	r.EventDropped("other")

	g := Gauges{
		ConcurrentExecutions: map[[2]string]int{{"hello", "$LATEST"}: 3, {"hello", "7"}: 0, {"idle", "2"}: 1},
		AsyncQueued:          42,
		AsyncOldestAge:       1500 * time.Millisecond,
	}
	mfs := parse(t, writeText(t, r, g))

	for _, f := range families {
		mf := mfs[f.name]
		if mf == nil {
			t.Fatalf("no family %s", f.name)
		}
		if mf.GetType() != f.typ {
			t.Errorf("%s is a %v, want %v", f.name, mf.GetType(), f.typ)
		}
		if mf.GetHelp() == "" {
			t.Errorf("%s has no help", f.name)
		}
	}
	for _, name := range []string{
		"ember_lambda_invocations_total", "ember_lambda_errors_total", "ember_lambda_throttles_total",
		"ember_lambda_duration_seconds", "ember_lambda_cold_starts_total", "ember_lambda_init_duration_seconds",
	} {
		if n := len(mfs[name].GetMetric()); n != len(want) {
			t.Errorf("%s has %d series, want %d", name, n, len(want))
		}
	}
	for k, e := range want {
		what := fmt.Sprintf("%s:%s", k[0], k[1])
		counter := func(name string) float64 {
			m := find(mfs[name], "function", k[0], "version", k[1])
			if m == nil {
				t.Fatalf("%s: no %s", what, name)
			}
			return m.GetCounter().GetValue()
		}
		if got := counter("ember_lambda_invocations_total"); got != float64(e.invocations) {
			t.Errorf("%s: invocations %v, want %d", what, got, e.invocations)
		}
		if got := counter("ember_lambda_errors_total"); got != float64(e.errors) {
			t.Errorf("%s: errors %v, want %d", what, got, e.errors)
		}
		if got := counter("ember_lambda_throttles_total"); got != float64(e.throttles) {
			t.Errorf("%s: throttles %v, want %d", what, got, e.throttles)
		}
		if got := counter("ember_lambda_cold_starts_total"); got != float64(e.coldStarts) {
			t.Errorf("%s: cold starts %v, want %d", what, got, e.coldStarts)
		}
		checkHistogram(t, what+" duration",
			find(mfs["ember_lambda_duration_seconds"], "function", k[0], "version", k[1]).GetHistogram(),
			durationBuckets[:], e.durations)
		checkHistogram(t, what+" init",
			find(mfs["ember_lambda_init_duration_seconds"], "function", k[0], "version", k[1]).GetHistogram(),
			initBuckets[:], e.inits)
	}

	conc := mfs["ember_lambda_concurrent_executions"]
	if len(conc.GetMetric()) != len(g.ConcurrentExecutions) {
		t.Errorf("%d concurrency series, want %d", len(conc.GetMetric()), len(g.ConcurrentExecutions))
	}
	for k, n := range g.ConcurrentExecutions {
		m := find(conc, "function", k[0], "version", k[1])
		if m.GetGauge().GetValue() != float64(n) {
			t.Errorf("concurrent executions of %v = %v, want %d", k, m.GetGauge().GetValue(), n)
		}
	}
	if m := find(mfs["ember_lambda_async_events_queued"]); m.GetGauge().GetValue() != 42 {
		t.Errorf("async events queued = %v, want 42", m.GetGauge().GetValue())
	}
	if m := find(mfs["ember_lambda_async_event_age_seconds"]); m.GetGauge().GetValue() != 1.5 {
		t.Errorf("async event age = %v, want 1.5", m.GetGauge().GetValue())
	}
	dropped := mfs["ember_lambda_async_events_dropped_total"]
	for f, n := range map[string]float64{"hello": 2, "other": 1} {
		if m := find(dropped, "function", f); m.GetCounter().GetValue() != n {
			t.Errorf("dropped events of %s = %v, want %v", f, m.GetCounter().GetValue(), n)
		}
	}
	if len(dropped.GetMetric()) != 2 {
		t.Errorf("%d dropped series, want 2", len(dropped.GetMetric()))
	}
}

// TestHelpAndType checks the lines of an empty registry: a HELP and a
// TYPE line for each family, in order, and the unlabelled gauges.
func TestHelpAndType(t *testing.T) {
	text := string(writeText(t, New(), Gauges{}))
	var want []string
	for _, f := range families {
		typ := strings.ToLower(f.typ.String())
		want = append(want, "# HELP "+f.name, "# TYPE "+f.name+" "+typ)
		switch f.name {
		case "ember_lambda_async_events_queued", "ember_lambda_async_event_age_seconds":
			want = append(want, f.name+" 0")
		}
	}
	var got []string
	for line := range strings.Lines(text) {
		line = strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(line, "# HELP ") {
			name, _, _ := strings.Cut(strings.TrimPrefix(line, "# HELP "), " ")
			line = "# HELP " + name
		}
		got = append(got, line)
	}
	if !slices.Equal(got, want) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	parse(t, []byte(text))
}

func TestLabelEscaping(t *testing.T) {
	odd := []struct{ written, read string }{
		{`say "hi"`, `say "hi"`},
		{`back\slash`, `back\slash`},
		{"new\nline", "new\nline"},
		{"all\\\"\n\\n", "all\\\"\n\\n"},
		{"brace}{=,", "brace}{=,"},
		{"", ""},
		{"bad\xffutf8", "bad\uFFFDutf8"},
	}
	r := New()
	g := Gauges{ConcurrentExecutions: map[[2]string]int{}}
	for i, o := range odd {
		r.Observe(Invocation{Function: o.written, Version: o.written + "v", Duration: time.Duration(i+1) * time.Second, Outcome: OutcomeSuccess})
		r.EventDropped(o.written)
		g.ConcurrentExecutions[[2]string{o.written, o.written + "v"}] = i + 1
	}
	mfs := parse(t, writeText(t, r, g))
	for i, o := range odd {
		m := find(mfs["ember_lambda_invocations_total"], "function", o.read, "version", o.read+"v")
		if m.GetCounter().GetValue() != 1 {
			t.Errorf("invocations of %q: %v", o.written, m)
		}
		h := find(mfs["ember_lambda_duration_seconds"], "function", o.read, "version", o.read+"v").GetHistogram()
		if h.GetSampleSum() != float64(i+1) || len(h.GetBucket()) != len(durationBuckets)+1 {
			t.Errorf("duration of %q: %v", o.written, h)
		}
		if m := find(mfs["ember_lambda_concurrent_executions"], "function", o.read, "version", o.read+"v"); m.GetGauge().GetValue() != float64(i+1) {
			t.Errorf("concurrency of %q: %v", o.written, m)
		}
		if m := find(mfs["ember_lambda_async_events_dropped_total"], "function", o.read); m.GetCounter().GetValue() != 1 {
			t.Errorf("dropped of %q: %v", o.written, m)
		}
	}
}

// TestDeterministic writes the same counts, observed in another order,
// and the same gauges, from a map filled in another order.
func TestDeterministic(t *testing.T) {
	var invs []Invocation
	for _, f := range []string{"b", "a", "c", "a-b", "A"} {
		for _, v := range []string{"$LATEST", "10", "2"} {
			invs = append(invs, Invocation{Function: f, Version: v, Duration: time.Second, Outcome: OutcomeSuccess, Cold: true, InitDuration: time.Second})
		}
	}
	texts := make([]string, 2)
	for i := range texts {
		r := New()
		g := Gauges{ConcurrentExecutions: map[[2]string]int{}}
		for _, inv := range invs {
			r.Observe(inv)
			r.EventDropped(inv.Function)
			g.ConcurrentExecutions[[2]string{inv.Function, inv.Version}] = 1
		}
		texts[i] = string(writeText(t, r, g))
		slices.Reverse(invs)
	}
	if texts[0] != texts[1] {
		t.Errorf("two writes differ:\n%s\n----\n%s", texts[0], texts[1])
	}
	// And the series are in order of function, then version.
	var keys []string
	for line := range strings.Lines(texts[0]) {
		if strings.HasPrefix(line, "ember_lambda_invocations_total{") {
			keys = append(keys, line)
		}
	}
	if !slices.IsSorted(keys) || len(keys) != len(invs) {
		t.Errorf("invocation series out of order:\n%s", strings.Join(keys, ""))
	}
}

type failingWriter struct{}

var errWrite = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWriteTextError(t *testing.T) {
	r := New()
	r.Observe(Invocation{Function: "f", Version: "1", Outcome: OutcomeSuccess})
	if err := r.WriteText(failingWriter{}, Gauges{}); !errors.Is(err, errWrite) {
		t.Errorf("WriteText to a failing writer = %v, want %v", err, errWrite)
	}
}

func TestHandler(t *testing.T) {
	r := New()
	r.Observe(Invocation{Function: "f", Version: "1", Duration: time.Second, Outcome: OutcomeSuccess})
	var mu sync.Mutex
	queued := 0
	srv := httptest.NewServer(r.Handler(func() Gauges {
		mu.Lock()
		defer mu.Unlock()
		queued++
		return Gauges{AsyncQueued: queued}
	}))
	defer srv.Close()

	for scrape := 1; scrape <= 2; scrape++ {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if got := expfmt.ResponseFormat(resp.Header); got.FormatType() != expfmt.TypeTextPlain {
			t.Errorf("Prometheus reads the content type as %v", got)
		}
		mfs := parse(t, body)
		if m := find(mfs["ember_lambda_async_events_queued"]); m.GetGauge().GetValue() != float64(scrape) {
			t.Errorf("scrape %d: queued %v: gauges not read per scrape", scrape, m.GetGauge().GetValue())
		}
		if m := find(mfs["ember_lambda_invocations_total"], "function", "f", "version", "1"); m.GetCounter().GetValue() != 1 {
			t.Errorf("scrape %d: invocations %v", scrape, m)
		}
	}

	resp, err := http.Post(srv.URL+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", resp.StatusCode)
	}
}

// TestConcurrentObserve observes from many goroutines while others
// scrape; run with -race.
func TestConcurrentObserve(t *testing.T) {
	const (
		workers = 8
		each    = 2000
	)
	r := New()
	stop := make(chan struct{})
	var scrapers sync.WaitGroup
	for range 2 {
		scrapers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := r.WriteText(io.Discard, Gauges{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r.Observe(Invocation{Function: fmt.Sprint("f", w%2), Version: "$LATEST", Duration: time.Millisecond, Outcome: OutcomeSuccess})
				if i%10 == 0 {
					r.EventDropped("f")
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	scrapers.Wait()

	mfs := parse(t, writeText(t, r, Gauges{}))
	for _, f := range []string{"f0", "f1"} {
		m := find(mfs["ember_lambda_invocations_total"], "function", f, "version", "$LATEST")
		if m.GetCounter().GetValue() != workers/2*each {
			t.Errorf("invocations of %s = %v, want %d", f, m.GetCounter().GetValue(), workers/2*each)
		}
	}
	if m := find(mfs["ember_lambda_async_events_dropped_total"], "function", "f"); m.GetCounter().GetValue() != workers*each/10 {
		t.Errorf("dropped = %v, want %d", m.GetCounter().GetValue(), workers*each/10)
	}
}

func BenchmarkObserve(b *testing.B) {
	r := New()
	inv := Invocation{Function: "hello", Version: "$LATEST", Duration: 42 * time.Millisecond, Outcome: OutcomeSuccess}
	b.ReportAllocs()
	for b.Loop() {
		r.Observe(inv)
	}
}

// BenchmarkObserveParallel observes from every CPU into a hundred
// functions, as a busy server would.
func BenchmarkObserveParallel(b *testing.B) {
	r := New()
	invs := make([]Invocation, 100)
	for i := range invs {
		invs[i] = Invocation{Function: fmt.Sprint("fn-", i), Version: "$LATEST", Duration: time.Duration(i) * time.Millisecond, Outcome: OutcomeSuccess}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Observe(invs[i%len(invs)])
			i++
		}
	})
}
