package logstore

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

const (
	testGroup = "/aws/lambda/fn"
	streamA   = "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef"
	streamB   = "2024/01/01/[$LATEST]fedcba9876543210fedcba9876543210"
)

// clock is a fake clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func write(t testing.TB, w io.Writer, s string) {
	t.Helper()
	n, err := io.WriteString(w, s)
	if err != nil || n != len(s) {
		t.Fatalf("write %q: %d, %v", s, n, err)
	}
}

func messages(evs []Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Message
	}
	return out
}

func TestLinesBecomeEvents(t *testing.T) {
	clk := newClock()
	s := New(Options{Now: clk.now})
	a := s.Writer(testGroup, streamA)
	t0 := clk.now()
	write(t, a, "START RequestId: 1 Version: $LATEST\nhello\n")
	write(t, a, "partial")
	t1 := clk.advance(time.Second)
	write(t, a, "a\n\nb")
	t2 := clk.advance(time.Second)
	write(t, s.Writer(testGroup, streamB), "other\n")

	evs := s.Events(testGroup, time.Time{}, 0)
	want := []string{"START RequestId: 1 Version: $LATEST", "hello", "partial", "a", "", "b", "other"}
	if got := messages(evs); !slices.Equal(got, want) {
		t.Fatalf("messages %q, want %q", got, want)
	}
	for i, ev := range evs {
		if ev.Group != testGroup {
			t.Errorf("event %d group %q", i, ev.Group)
		}
		wantStream, wantTime := streamA, t0
		switch {
		case i == 6:
			wantStream, wantTime = streamB, t2
		case i >= 3:
			wantTime = t1
		}
		if ev.Stream != wantStream || !ev.Time.Equal(wantTime) {
			t.Errorf("event %d: stream %q time %v, want %q %v", i, ev.Stream, ev.Time, wantStream, wantTime)
		}
		if i > 0 && ev.Seq <= evs[i-1].Seq {
			t.Errorf("event %d: seq %d after %d", i, ev.Seq, evs[i-1].Seq)
		}
	}

	streams := s.Streams(testGroup)
	wantStreams := []StreamInfo{
		{Name: streamB, First: t2, Last: t2, Events: 1},
		{Name: streamA, First: t0, Last: t1, Events: 6},
	}
	if !slices.Equal(streams, wantStreams) {
		t.Errorf("streams %+v, want %+v", streams, wantStreams)
	}
	if g := s.Groups(); !slices.Equal(g, []string{testGroup}) {
		t.Errorf("groups %q", g)
	}
	if evs := s.Events("/aws/lambda/none", time.Time{}, 0); evs != nil {
		t.Errorf("unknown group: %v", evs)
	}
}

func TestLongLineSplit(t *testing.T) {
	s := New(Options{})
	// A line of 600 KiB of two-byte runes, offset by one byte so that the
	// event boundaries fall inside a rune.
	line := "x" + strings.Repeat("é", 300<<10)
	write(t, s.Writer(testGroup, streamA), line+"\nnext\n")
	evs := s.Events(testGroup, time.Time{}, 0)
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4", len(evs))
	}
	var joined strings.Builder
	for _, ev := range evs[:3] {
		if len(ev.Message) > maxMessage || !utf8.ValidString(ev.Message) {
			t.Errorf("event of %d bytes, valid UTF-8 %v", len(ev.Message), utf8.ValidString(ev.Message))
		}
		joined.WriteString(ev.Message)
	}
	if joined.String() != line {
		t.Error("split events do not join back into the line")
	}
	if evs[3].Message != "next" {
		t.Errorf("last event %q", evs[3].Message)
	}
}

func TestDropsOldestByCount(t *testing.T) {
	clk := newClock()
	s := New(Options{MaxEventsPerGroup: 5, Now: clk.now})
	a, b := s.Writer(testGroup, streamA), s.Writer(testGroup, streamB)
	write(t, a, "0\n1\n2\n")
	for i := 3; i < 8; i++ {
		clk.advance(time.Second)
		write(t, b, fmt.Sprintf("%d\n", i))
	}
	if got := messages(s.Events(testGroup, time.Time{}, 0)); !slices.Equal(got, []string{"3", "4", "5", "6", "7"}) {
		t.Errorf("kept %q", got)
	}
	// Every event of stream A is gone, and so is the stream.
	streams := s.Streams(testGroup)
	if len(streams) != 1 || streams[0].Name != streamB || streams[0].Events != 5 {
		t.Errorf("streams %+v", streams)
	}
	// Its writer writes on as usual.
	clk.advance(time.Second)
	write(t, a, "8\n")
	if got := messages(s.Events(testGroup, time.Time{}, 0)); !slices.Equal(got, []string{"4", "5", "6", "7", "8"}) {
		t.Errorf("kept %q", got)
	}
	streams = s.Streams(testGroup)
	if len(streams) != 2 || streams[0].Name != streamA || streams[0].Events != 1 || streams[1].Events != 4 {
		t.Errorf("streams %+v", streams)
	}
}

func TestDropsOldestByBytes(t *testing.T) {
	s := New(Options{MaxBytesPerGroup: 10})
	w := s.Writer(testGroup, streamA)
	write(t, w, "aaaa\nbbbb\n")
	if got := messages(s.Events(testGroup, time.Time{}, 0)); !slices.Equal(got, []string{"aaaa", "bbbb"}) {
		t.Fatalf("kept %q", got)
	}
	write(t, w, "cccc\n")
	if got := messages(s.Events(testGroup, time.Time{}, 0)); !slices.Equal(got, []string{"bbbb", "cccc"}) {
		t.Errorf("kept %q", got)
	}
	write(t, w, "dddddddddd\n")
	if got := messages(s.Events(testGroup, time.Time{}, 0)); !slices.Equal(got, []string{"dddddddddd"}) {
		t.Errorf("kept %q", got)
	}
	// A line larger than the bound is kept alone rather than lost.
	write(t, w, "eeeeeeeeeeee\n")
	if got := messages(s.Events(testGroup, time.Time{}, 0)); !slices.Equal(got, []string{"eeeeeeeeeeee"}) {
		t.Errorf("kept %q", got)
	}
}

func TestDropsLeastRecentGroup(t *testing.T) {
	clk := newClock()
	s := New(Options{MaxGroups: 2, Now: clk.now})
	wa := s.Writer("/aws/lambda/a", streamA)
	write(t, wa, "a\n")
	clk.advance(time.Second)
	write(t, s.Writer("/aws/lambda/b", streamA), "b\n")
	clk.advance(time.Second)
	write(t, wa, "a again\n")
	clk.advance(time.Second)
	write(t, s.Writer("/aws/lambda/c", streamA), "c\n")
	if g := s.Groups(); !slices.Equal(g, []string{"/aws/lambda/a", "/aws/lambda/c"}) {
		t.Errorf("groups %q", g)
	}
	if evs := s.Events("/aws/lambda/b", time.Time{}, 0); len(evs) != 0 {
		t.Errorf("dropped group has %d events", len(evs))
	}
}

func TestSince(t *testing.T) {
	clk := newClock()
	s := New(Options{Now: clk.now})
	w := s.Writer(testGroup, streamA)
	write(t, w, "0\n")
	t1 := clk.advance(time.Second)
	write(t, w, "1\n")
	write(t, w, "1b\n")
	clk.advance(time.Second)
	write(t, w, "2\n")
	for _, c := range []struct {
		since time.Time
		limit int
		want  []string
	}{
		{time.Time{}, 0, []string{"0", "1", "1b", "2"}},
		{time.Time{}, 2, []string{"0", "1"}},
		{t1, 0, []string{"1", "1b", "2"}},
		{t1.Add(-time.Nanosecond), 0, []string{"1", "1b", "2"}},
		{t1.Add(time.Nanosecond), 0, []string{"2"}},
		{t1, 1, []string{"1"}},
		{t1.Add(time.Hour), 0, nil},
	} {
		if got := messages(s.Events(testGroup, c.since, c.limit)); !slices.Equal(got, c.want) {
			t.Errorf("since %v limit %d: %q, want %q", c.since, c.limit, got, c.want)
		}
	}
}

func TestTimeNeverGoesBack(t *testing.T) {
	clk := newClock()
	s := New(Options{Now: clk.now})
	w := s.Writer(testGroup, streamA)
	write(t, w, "0\n")
	clk.advance(-time.Minute)
	write(t, w, "1\n")
	evs := s.Events(testGroup, time.Time{}, 0)
	if len(evs) != 2 || evs[1].Time.Before(evs[0].Time) {
		t.Errorf("events %+v", evs)
	}
}

func TestDeleteGroup(t *testing.T) {
	s := New(Options{})
	w := s.Writer(testGroup, streamA)
	write(t, w, "before\n")
	write(t, s.Writer("/aws/lambda/other", streamA), "kept\n")
	s.DeleteGroup(testGroup)
	s.DeleteGroup("/aws/lambda/none")
	if evs := s.Events(testGroup, time.Time{}, 0); len(evs) != 0 {
		t.Errorf("deleted group has %d events", len(evs))
	}
	if st := s.Streams(testGroup); len(st) != 0 {
		t.Errorf("deleted group has streams %+v", st)
	}
	if g := s.Groups(); !slices.Equal(g, []string{"/aws/lambda/other"}) {
		t.Errorf("groups %q", g)
	}
	// A writer of the deleted group makes it anew.
	write(t, w, "after\n")
	if got := messages(s.Events(testGroup, time.Time{}, 0)); !slices.Equal(got, []string{"after"}) {
		t.Errorf("events %q", got)
	}
	if st := s.Streams(testGroup); len(st) != 1 || st[0].Events != 1 {
		t.Errorf("streams %+v", st)
	}
}

func TestConcurrentWriters(t *testing.T) {
	const writers, lines = 8, 2000
	s := New(Options{MaxEventsPerGroup: writers * lines, MaxBytesPerGroup: 1 << 30})
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			// Two goroutines share each writer, as the runtime's output and
			// the platform's lines do.
			w := s.Writer(testGroup, fmt.Sprintf("stream-%d", i))
			var inner sync.WaitGroup
			for half := range 2 {
				inner.Go(func() {
					for j := half; j < lines; j += 2 {
						fmt.Fprintf(w, "%d %d\n", i, j)
					}
				})
			}
			inner.Wait()
		})
	}
	wg.Wait()

	evs := s.Events(testGroup, time.Time{}, 0)
	if len(evs) != writers*lines {
		t.Fatalf("%d events, want %d", len(evs), writers*lines)
	}
	seen := make(map[string]bool)
	for i, ev := range evs {
		if i > 0 && ev.Seq <= evs[i-1].Seq {
			t.Fatalf("seq %d after %d", ev.Seq, evs[i-1].Seq)
		}
		var w, j int
		if _, err := fmt.Sscanf(ev.Message, "%d %d", &w, &j); err != nil || ev.Stream != fmt.Sprintf("stream-%d", w) {
			t.Fatalf("event %+v: %v", ev, err)
		}
		if seen[ev.Message] {
			t.Fatalf("%q twice", ev.Message)
		}
		seen[ev.Message] = true
	}
	streams := s.Streams(testGroup)
	if len(streams) != writers {
		t.Fatalf("%d streams", len(streams))
	}
	for _, st := range streams {
		if st.Events != lines {
			t.Errorf("stream %s has %d events", st.Name, st.Events)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	s := New(Options{})
	w := s.Writer(testGroup, streamA)
	line := []byte("REPORT RequestId: 3f2b3a3e-0c2d-4b8e-9c1a-5d6e7f8a9b0c\tDuration: 2.23 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 71 MB\tInit Duration: 143.40 ms\t\n")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
	}
}
