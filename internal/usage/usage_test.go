package usage

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// ids returns the request IDs of rs in order.
func ids(rs []Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.RequestID
	}
	return out
}

func TestRingDropsOldest(t *testing.T) {
	s := New(Options{MaxPerFunction: 3})
	for i := range 10 {
		s.Add(Record{Function: "f", RequestID: fmt.Sprint("f", i), Start: t0.Add(time.Duration(i) * time.Second)})
		if i < 2 {
			s.Add(Record{Function: "g", RequestID: fmt.Sprint("g", i), Start: t0.Add(time.Duration(i) * time.Second)})
		}
		// After each add, f keeps its latest three, oldest first.
		var want []string
		for j := max(0, i-2); j <= i; j++ {
			want = append(want, fmt.Sprint("f", j))
		}
		if got := ids(s.Records("f", time.Time{})); !slices.Equal(got, want) {
			t.Fatalf("after f%d: Records(f) = %v, want %v", i, got, want)
		}
	}
	// One function's bound does not touch another's records.
	if got, want := ids(s.Records("g", time.Time{})), []string{"g0", "g1"}; !slices.Equal(got, want) {
		t.Errorf("Records(g) = %v, want %v", got, want)
	}
}

func TestDefaultBound(t *testing.T) {
	s := New(Options{})
	for i := range DefaultMaxPerFunction + 5 {
		s.Add(Record{Function: "f", RequestID: fmt.Sprint(i), Start: t0.Add(time.Duration(i))})
	}
	rs := s.Records("f", time.Time{})
	if len(rs) != DefaultMaxPerFunction {
		t.Fatalf("kept %d records, want %d", len(rs), DefaultMaxPerFunction)
	}
	if rs[0].RequestID != "5" {
		t.Errorf("oldest kept is %s, want 5", rs[0].RequestID)
	}
}

func TestRecordsSince(t *testing.T) {
	s := New(Options{})
	// Added in the order they end: a long invocation that started first
	// ends last.
	s.Add(Record{Function: "b", RequestID: "b1", Start: t0.Add(1 * time.Second)})
	s.Add(Record{Function: "a", RequestID: "a2", Start: t0.Add(2 * time.Second)})
	s.Add(Record{Function: "a", RequestID: "a0", Start: t0})
	s.Add(Record{Function: "b", RequestID: "b3", Start: t0.Add(3 * time.Second)})

	for _, tc := range []struct {
		function string
		since    time.Time
		want     []string
	}{
		{"", time.Time{}, []string{"a0", "b1", "a2", "b3"}},
		{"", t0.Add(time.Second), []string{"b1", "a2", "b3"}}, // since is inclusive
		{"", t0.Add(1500 * time.Millisecond), []string{"a2", "b3"}},
		{"", t0.Add(4 * time.Second), nil},
		{"a", time.Time{}, []string{"a0", "a2"}},
		{"a", t0.Add(time.Nanosecond), []string{"a2"}},
		{"b", t0.Add(2 * time.Second), []string{"b3"}},
		{"missing", time.Time{}, nil},
	} {
		if got := ids(s.Records(tc.function, tc.since)); !slices.Equal(got, tc.want) {
			t.Errorf("Records(%q, %v) = %v, want %v", tc.function, tc.since.Sub(t0), got, tc.want)
		}
	}
}

func TestAddStampsStart(t *testing.T) {
	s := New(Options{Now: func() time.Time { return t0 }})
	s.Add(Record{Function: "f", RequestID: "r"})
	rs := s.Records("f", time.Time{})
	if len(rs) != 1 || !rs[0].Start.Equal(t0) {
		t.Fatalf("Records = %+v, want one record that starts at %v", rs, t0)
	}
}

func TestRecordsAreCopies(t *testing.T) {
	s := New(Options{})
	s.Add(Record{Function: "f", RequestID: "r", Start: t0})
	s.Records("f", time.Time{})[0].RequestID = "changed"
	if got := s.Records("f", time.Time{})[0].RequestID; got != "r" {
		t.Errorf("stored record changed through Records: %q", got)
	}
}

func TestForget(t *testing.T) {
	s := New(Options{})
	s.Add(Record{Function: "f", Start: t0})
	s.Add(Record{Function: "g", Start: t0})
	s.Forget("f")
	if rs := s.Records("f", time.Time{}); len(rs) != 0 {
		t.Errorf("Records(f) after Forget = %v", rs)
	}
	if rs := s.Records("", time.Time{}); len(rs) != 1 || rs[0].Function != "g" {
		t.Errorf("Records() after Forget(f) = %v, want g's record", rs)
	}
	s.Forget("missing")
}

// near reports whether a and b agree to 1e-12 of their size.
func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-12*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func TestSummaries(t *testing.T) {
	s := New(Options{})
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	for _, r := range []Record{
		// f $LATEST: three ran, one throttled.
		{Function: "f", Version: "$LATEST", Start: at(1), Outcome: OutcomeSuccess, Cold: true, InitDuration: 300 * time.Millisecond,
			MemoryMB: 128, Duration: 95 * time.Millisecond, BilledDuration: 95 * time.Millisecond, CostUSD: 0.0000004},
		{Function: "f", Version: "$LATEST", Start: at(2), Outcome: OutcomeError, ErrorType: "Runtime.ExitError",
			MemoryMB: 1024, Duration: 1000 * time.Millisecond, BilledDuration: 1000 * time.Millisecond, CostUSD: 0.0000168},
		{Function: "f", Version: "$LATEST", Start: at(3), Outcome: OutcomeTimeout, Cold: true,
			MemoryMB: 512, Duration: 3002 * time.Millisecond, BilledDuration: 3000 * time.Millisecond, CostUSD: 0.000025},
		{Function: "f", Version: "$LATEST", Start: at(4), Outcome: OutcomeThrottled, MemoryMB: 512},
		// f's published versions, to check their order.
		{Function: "f", Version: "10", Start: at(5), Outcome: OutcomeSuccess, MemoryMB: 2048,
			Duration: 500 * time.Millisecond, BilledDuration: 500 * time.Millisecond, CostUSD: 0.0000169},
		{Function: "f", Version: "2", Start: at(6), Outcome: OutcomeSuccess, MemoryMB: 128,
			Duration: time.Millisecond, BilledDuration: time.Millisecond, CostUSD: 0.0000002},
		// g: only throttled.
		{Function: "g", Version: "$LATEST", Start: at(7), Outcome: OutcomeThrottled},
		// a: before since in the second half of the test.
		{Function: "a", Version: "$LATEST", Start: at(0), Outcome: OutcomeSuccess, MemoryMB: 128,
			Duration: time.Millisecond, BilledDuration: time.Millisecond, CostUSD: 0.0000002},
	} {
		s.Add(r)
	}

	got := s.Summaries("", time.Time{})
	want := []Summary{
		{Function: "a", Version: "$LATEST", Invocations: 1, GBSeconds: 0.125 * 0.001, CostUSD: 0.0000002,
			PerMillionUSD: 0.2, AvgDuration: time.Millisecond},
		{Function: "f", Version: "$LATEST", Invocations: 3, Errors: 2, Throttles: 1, ColdStarts: 2,
			GBSeconds:     0.125*0.095 + 1*1 + 0.5*3,
			CostUSD:       0.0000004 + 0.0000168 + 0.000025,
			PerMillionUSD: (0.0000004 + 0.0000168 + 0.000025) / 3 * 1e6,
			AvgDuration:   (95 + 1000 + 3002) * time.Millisecond / 3},
		{Function: "f", Version: "2", Invocations: 1, GBSeconds: 0.125 * 0.001, CostUSD: 0.0000002,
			PerMillionUSD: 0.2, AvgDuration: time.Millisecond},
		{Function: "f", Version: "10", Invocations: 1, GBSeconds: 2 * 0.5, CostUSD: 0.0000169,
			PerMillionUSD: 16.9, AvgDuration: 500 * time.Millisecond},
		{Function: "g", Version: "$LATEST", Throttles: 1},
	}
	checkSummaries(t, "all", got, want)

	checkSummaries(t, "f since 2s", s.Summaries("f", at(2)), []Summary{
		{Function: "f", Version: "$LATEST", Invocations: 2, Errors: 2, Throttles: 1, ColdStarts: 1,
			GBSeconds:     1*1 + 0.5*3,
			CostUSD:       0.0000168 + 0.000025,
			PerMillionUSD: (0.0000168 + 0.000025) / 2 * 1e6,
			AvgDuration:   (1000 + 3002) * time.Millisecond / 2},
		want[2], want[3],
	})
	checkSummaries(t, "missing", s.Summaries("missing", time.Time{}), []Summary{})
}

func checkSummaries(t *testing.T, name string, got, want []Summary) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d summaries, want %d:\n got %+v\nwant %+v", name, len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Function != w.Function || g.Version != w.Version ||
			g.Invocations != w.Invocations || g.Errors != w.Errors || g.Throttles != w.Throttles ||
			g.ColdStarts != w.ColdStarts || g.AvgDuration != w.AvgDuration ||
			!near(g.GBSeconds, w.GBSeconds) || !near(g.CostUSD, w.CostUSD) || !near(g.PerMillionUSD, w.PerMillionUSD) {
			t.Errorf("%s: summary %d\n got %+v\nwant %+v", name, i, g, w)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	got := []string{"10", "b", "$LATEST", "2", "", "a", "1", "99999999999999999999"}
	slices.SortFunc(got, compareVersions)
	want := []string{"$LATEST", "1", "2", "10", "", "99999999999999999999", "a", "b"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted versions = %q, want %q", got, want)
	}
}

// TestConcurrentAdds adds from many goroutines, past the bound, while
// others read; run with -race.
func TestConcurrentAdds(t *testing.T) {
	const (
		writers   = 8
		perWriter = 2000
		bound     = 3000 // of the 4000 each function gets
	)
	s := New(Options{MaxPerFunction: bound})
	functions := []string{"f", "g", "h", "i"}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				s.Records("", time.Time{})
				s.Summaries("", time.Time{})
			}
		})
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				s.Add(Record{
					Function: functions[i%len(functions)], Version: "$LATEST",
					RequestID: fmt.Sprint(w, " ", i), Start: t0.Add(time.Duration(i)),
					Outcome: OutcomeSuccess, MemoryMB: 1024, BilledDuration: time.Second, CostUSD: 1,
				})
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()

	sums := s.Summaries("", time.Time{})
	if len(sums) != len(functions) {
		t.Fatalf("%d summaries, want %d", len(sums), len(functions))
	}
	for i, m := range sums {
		if m.Function != functions[i] || m.Invocations != bound || m.CostUSD != bound || m.GBSeconds != bound {
			t.Errorf("summary %+v, want %s with %d invocations, cost and GB-s", m, functions[i], bound)
		}
	}
	for fi, f := range functions {
		// Each writer added its records in order, so what is left of them
		// is the writer's latest: f got its indexes fi, fi+4, …, and
		// what is kept must end with the last and have no gaps.
		last := perWriter - len(functions) + fi
		kept := make(map[int][]int) // by writer
		for _, r := range s.Records(f, time.Time{}) {
			var w, i int
			if _, err := fmt.Sscan(r.RequestID, &w, &i); err != nil {
				t.Fatal(err)
			}
			kept[w] = append(kept[w], i)
		}
		total := 0
		for w, is := range kept {
			total += len(is)
			slices.Sort(is)
			for k, i := range is {
				if i != last-len(functions)*(len(is)-1-k) {
					t.Errorf("%s: writer %d kept %v, not its latest", f, w, is)
					break
				}
			}
		}
		if total != bound {
			t.Errorf("%s: kept %d records, want %d", f, total, bound)
		}
	}
}

func BenchmarkAdd(b *testing.B) {
	s := New(Options{MaxPerFunction: 1000})
	r := Record{Function: "f", Version: "$LATEST", Start: t0, Outcome: OutcomeSuccess}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Add(r)
		}
	})
}
