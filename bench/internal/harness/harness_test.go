package harness

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var s Samples
	if got := s.Percentile(50); got != 0 {
		t.Errorf("p50 of nothing = %v, want 0", got)
	}
	for i := 10; i >= 1; i-- {
		s.Lat = append(s.Lat, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 5 * time.Millisecond, 90: 9 * time.Millisecond, 99: 10 * time.Millisecond, 100: 10 * time.Millisecond, 1: time.Millisecond} {
		if got := s.Percentile(p); got != want {
			t.Errorf("p%g = %v, want %v", p, got, want)
		}
	}
	s.Wall = 2 * time.Second
	if got := s.Rate(); got != 5 {
		t.Errorf("rate = %v, want 5", got)
	}
}

func TestInBlocks(t *testing.T) {
	var got []string
	send := func(name string) func(int) {
		return func(k int) { got = append(got, name+strings.Repeat("x", k)) }
	}
	InBlocks(context.Background(), 5, 2, send("a"), send("b"))
	want := []string{"axx", "bxx", "bxx", "axx", "ax", "bx"}
	if !slices.Equal(got, want) {
		t.Errorf("turns %q, want %q", got, want)
	}
	var runs []time.Duration
	InBlocks(context.Background(), 2500*time.Millisecond, time.Second, func(d time.Duration) { runs = append(runs, d) })
	if want := []time.Duration{time.Second, time.Second, 500 * time.Millisecond}; !slices.Equal(runs, want) {
		t.Errorf("runs %v, want %v", runs, want)
	}
}

func TestConcurrentTally(t *testing.T) {
	n := 0
	fail := errors.New("odd")
	do := func(ctx context.Context) (time.Duration, error) {
		time.Sleep(time.Millisecond)
		return time.Millisecond, nil
	}
	var tl Tally
	s := Concurrent(context.Background(), do, 3, 20*time.Millisecond, &tl)
	if tl.Requests == 0 || tl.Errors != 0 || len(s.Lat) != tl.Requests || s.Wall < 20*time.Millisecond {
		t.Errorf("tally %+v, %d latencies in %v", tl, len(s.Lat), s.Wall)
	}
	seq := Sequential(context.Background(), func(context.Context) (time.Duration, error) {
		n++
		if n%2 == 1 {
			return 0, fail
		}
		return time.Millisecond, nil
	}, 4, &tl)
	if len(seq.Lat) != 2 || tl.Errors != 2 || !strings.Contains(tl.Describe(), "first: odd") {
		t.Errorf("%d latencies, tally %+v: %s", len(seq.Lat), tl, tl.Describe())
	}
}

func TestWrap(t *testing.T) {
	isUnit := func(w string) bool { return strings.HasPrefix(w, "ms") }
	got := Wrap("it took 12.5 ms, then 3 ms more", 14, isUnit)
	want := "it took\n12.5 ms, then\n3 ms more"
	if got != want {
		t.Errorf("Wrap = %q, want %q", got, want)
	}
}

func TestFormat(t *testing.T) {
	r := 1.5
	for _, c := range []struct{ got, want string }{
		{FormatValue(UnitMillis, 1.23456), "1.235 ms"},
		{FormatValue(UnitMillis, 12.3456), "12.35 ms"},
		{FormatValue(UnitMillis, 123.456), "123.5 ms"},
		{FormatValue(UnitPerSecond, 1234.4), "1234/s"},
		{FormatValue(UnitMicros, 12345), "12.3 ms"},
		{FormatValue(UnitMicros, 123), "123 µs"},
		{FormatRatio(UnitMillis, 2, &r), "1.50×"},
		{FormatRatio(UnitPerSecond, 2, &r), "150.0%"},
		{FormatRatio(UnitMillis, 0, &r), "-"},
		{Signed(-2, FormatMillis), "−2.000 ms"},
		{Signed(2, FormatMillis), "+2.000 ms"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestImports keeps the harness apart from ember itself: it measures
// ember from outside, as a client and a parent process.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, ModulePath+"/") && p != ModulePath+"/bench/internal/harness" {
			t.Errorf("the harness depends on %s, a package of ember's", p)
		}
	}
}

func TestRunSequentialTurns(t *testing.T) {
	var turns []string
	mk := func(name string) *Path {
		return &Path{Name: name, Do: func(context.Context) (time.Duration, error) { return time.Millisecond, nil }}
	}
	paths := []*Path{mk("a"), mk("b")}
	RunSequential(context.Background(), paths, 5, 2, func(path string, f func()) {
		turns = append(turns, path)
		f()
	})
	if want := []string{"a", "b", "b", "a", "a", "b"}; !slices.Equal(turns, want) {
		t.Errorf("turns %q, want %q", turns, want)
	}
	for _, p := range paths {
		if p.Tally.Requests != 5 || len(p.Samples.Lat) != 5 {
			t.Errorf("%s: %d requests, %d latencies, want 5", p.Name, p.Tally.Requests, len(p.Samples.Lat))
		}
	}
}

func TestTargetAndPrint(t *testing.T) {
	le, ge := Target{Op: "<=", Value: 3}, Target{Op: ">=", Value: 2}
	if !le.Met(3) || le.Met(3.1) || !ge.Met(2) || ge.Met(1.9) {
		t.Error("Met is wrong at or beyond a bound")
	}
	if le.Symbol() != "≤" || ge.Symbol() != "≥" || Verdict(true) != "met" || Verdict(false) != "MISSED" {
		t.Error("wrong symbol or verdict")
	}
	var b strings.Builder
	if err := Print(&b, func(w io.Writer) { io.WriteString(w, "a   \nb \n") }); err != nil {
		t.Fatal(err)
	}
	if b.String() != "a\nb\n" {
		t.Errorf("Print wrote %q", b.String())
	}
	var r Report
	r.Note("%d notes", 1)
	if len(r.Notes) != 1 || r.Notes[0] != "1 notes" {
		t.Errorf("notes %q", r.Notes)
	}
}
