package logstore

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

const waitLimit = 10 * time.Second

// checkGoroutines fails t at its end when the goroutines started during
// it have not ended within waitLimit.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitLimit)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(time.Millisecond)
		}
	})
}

func receive(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return ev
	case <-time.After(waitLimit):
		t.Fatal("no event")
	}
	panic("unreachable")
}

func waitClosed(t *testing.T, ch <-chan Event) {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("channel not closed")
		}
	}
}

func TestFollowBacklogThenLive(t *testing.T) {
	checkGoroutines(t)
	clk := newClock()
	s := New(Options{Now: clk.now})
	w := s.Writer(testGroup, streamA)
	write(t, w, "old\n")
	since := clk.advance(time.Second)
	write(t, w, "backlog 1\nbacklog 2\n")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := s.Follow(ctx, testGroup, since)
	other := s.Follow(ctx, "/aws/lambda/later", time.Time{})

	var last uint64
	for _, want := range []string{"backlog 1", "backlog 2", "live 1", "live 2", "live 3"} {
		if want == "live 1" {
			write(t, w, "live 1\n")
			write(t, s.Writer(testGroup, streamB), "live 2\nlive 3")
		}
		ev := receive(t, ch)
		if ev.Message != want || ev.Group != testGroup || ev.Seq <= last {
			t.Fatalf("got %+v after seq %d, want %q", ev, last, want)
		}
		last = ev.Seq
	}
	// A testGroup that did not exist when followed.
	write(t, s.Writer("/aws/lambda/later", streamA), "first\n")
	if ev := receive(t, other); ev.Message != "first" {
		t.Errorf("got %+v", ev)
	}

	cancel()
	waitClosed(t, ch)
	waitClosed(t, other)
	// Writing after the followers left reaches none of them.
	write(t, w, "after\n")
	s.mu.Lock()
	n := len(s.follows)
	s.mu.Unlock()
	if n != 0 {
		t.Errorf("%d groups still followed", n)
	}
}

func TestFollowEndsWithContextWhileBlocked(t *testing.T) {
	checkGoroutines(t)
	s := New(Options{})
	write(t, s.Writer(testGroup, streamA), "unread 1\nunread 2\n")
	ctx, cancel := context.WithCancel(context.Background())
	ch := s.Follow(ctx, testGroup, time.Time{})
	cancel()
	waitClosed(t, ch)

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	waitClosed(t, s.Follow(ctx, testGroup, time.Time{}))
}

var droppedRE = regexp.MustCompile(`^\[ember: (\d+) log events dropped\]$`)

// drain reads ch until it has accounted for total events, received or
// reported dropped, and returns how many markers it got.
func drain(t *testing.T, ch <-chan Event, total int) (received, markers int) {
	t.Helper()
	var lastSeq uint64
	dropped := 0
	for received+dropped < total {
		ev := receive(t, ch)
		if ev.Seq < lastSeq || ev.Seq == lastSeq && lastSeq != 0 {
			t.Fatalf("seq %d after %d", ev.Seq, lastSeq)
		}
		lastSeq = ev.Seq
		if m := droppedRE.FindStringSubmatch(ev.Message); m != nil {
			n, _ := strconv.Atoi(m[1])
			if n <= 0 || ev.Stream != "" || ev.Group != testGroup {
				t.Fatalf("marker %+v", ev)
			}
			dropped += n
			markers++
			continue
		}
		received++
	}
	if received+dropped != total {
		t.Fatalf("received %d and dropped %d of %d", received, dropped, total)
	}
	return received, markers
}

func TestSlowFollowerNeverBlocksWriters(t *testing.T) {
	checkGoroutines(t)
	const lines = 100_000
	s := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := s.Follow(ctx, testGroup, time.Time{})

	done := make(chan struct{})
	go func() {
		defer close(done)
		w := s.Writer(testGroup, streamA)
		for i := range lines {
			fmt.Fprintf(w, "line %d\n", i)
		}
	}()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("writer blocked by a follower that does not read")
	}

	received, markers := drain(t, ch, lines)
	if markers == 0 {
		t.Error("no dropped marker")
	}
	if received >= lines {
		t.Errorf("received all %d lines", received)
	}
	// The follower caught up: a new line comes through as it is.
	write(t, s.Writer(testGroup, streamA), "fresh\n")
	if ev := receive(t, ch); ev.Message != "fresh" {
		t.Errorf("after catching up: %+v", ev)
	}
	cancel()
	waitClosed(t, ch)
}

func TestFollowConcurrentWriters(t *testing.T) {
	checkGoroutines(t)
	const writers, lines = 8, 2000
	s := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := s.Follow(ctx, testGroup, time.Time{})
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			w := s.Writer(testGroup, fmt.Sprintf("stream-%d", i))
			for j := range lines {
				fmt.Fprintf(w, "%d %d\n", i, j)
			}
		})
	}
	// Every event is either received or counted in a marker, in order.
	drain(t, ch, writers*lines)
	wg.Wait()
	cancel()
	waitClosed(t, ch)
}
