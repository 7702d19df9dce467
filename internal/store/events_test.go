package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// depth returns the queue's depth, failing the test on an error.
func depth(t *testing.T, s *Store) int {
	t.Helper()
	n, err := s.QueueDepth(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// recorder collects the events that a handler is given.
type recorder struct {
	mu     sync.Mutex
	events []Event
	at     []time.Time
}

func (r *recorder) add(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	r.at = append(r.at, time.Now())
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func (r *recorder) get() ([]Event, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events), slices.Clone(r.at)
}

func TestEnqueueConsumeAck(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, Options{})
	accepted := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	want := map[string]Event{}
	for i := range 5 {
		e := Event{
			ID:            fmt.Sprintf("id-%d", i),
			FunctionName:  "f",
			Qualifier:     "live",
			Payload:       []byte(fmt.Sprintf(`{"i":%d,"s":"line\nbreak"}`, i)),
			ClientContext: "eyJhIjoxfQ==",
			Accepted:      accepted,
		}
		if err := s.Enqueue(ctx, e); err != nil {
			t.Fatal(err)
		}
		want[e.ID] = e
	}
	// The same ID again is the same event.
	if err := s.Enqueue(ctx, want["id-0"]); err != nil {
		t.Fatal(err)
	}
	if n := depth(t, s); n != 5 {
		t.Fatalf("depth %d after 5 events and a duplicate, want 5", n)
	}
	if err := s.Enqueue(ctx, Event{FunctionName: "f"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("event without an ID: %v, want ErrInvalid", err)
	}

	var rec recorder
	stop := consume(t, s, 3, func(_ context.Context, e Event) error {
		rec.add(e)
		return nil
	})
	waitFor(t, 10*time.Second, "5 events handled and acknowledged", func() bool { return rec.len() >= 5 && depth(t, s) == 0 })
	stop()
	got, _ := rec.get()
	if len(got) != 5 {
		t.Fatalf("handled %d events, want 5", len(got))
	}
	for _, e := range got {
		w, ok := want[e.ID]
		if !ok {
			t.Fatalf("handled an unknown event %+v", e)
		}
		if e.FunctionName != w.FunctionName || e.Qualifier != w.Qualifier || string(e.Payload) != string(w.Payload) ||
			e.ClientContext != w.ClientContext || e.Attempt != 0 || !e.Accepted.Equal(w.Accepted) {
			t.Errorf("handled %+v, want %+v", e, w)
		}
		delete(want, e.ID)
	}
}

func TestRetryRedeliversLater(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, Options{})
	const delay = 300 * time.Millisecond
	var rec recorder
	consume(t, s, 2, func(_ context.Context, e Event) error {
		rec.add(e)
		if e.Attempt < 2 {
			return &Retry{After: delay}
		}
		return nil
	})
	if err := s.Enqueue(ctx, Event{ID: "r", FunctionName: "f", Payload: []byte("p")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "three attempts and the queue empty", func() bool { return rec.len() >= 3 && depth(t, s) == 0 })
	events, at := rec.get()
	if len(events) != 3 {
		t.Fatalf("%d deliveries, want 3", len(events))
	}
	for i, e := range events {
		if e.Attempt != i || e.ID != "r" || string(e.Payload) != "p" {
			t.Errorf("delivery %d: %+v", i, e)
		}
		if i > 0 {
			if gap := at[i].Sub(at[i-1]); gap < delay {
				t.Errorf("attempt %d came %s after the previous one, before the %s delay", i, gap, delay)
			}
		}
	}
}

func TestHandlerErrorDropsEvent(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, Options{})
	var rec recorder
	consume(t, s, 1, func(_ context.Context, e Event) error {
		rec.add(e)
		return errors.New("function failed")
	})
	if err := s.Enqueue(ctx, Event{ID: "d", FunctionName: "f"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the event handled and gone", func() bool { return rec.len() >= 1 && depth(t, s) == 0 })
	// A second event is handled after it, and the first is not again.
	if err := s.Enqueue(ctx, Event{ID: "d2", FunctionName: "f"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the second event handled", func() bool { return rec.len() >= 2 && depth(t, s) == 0 })
	events, _ := rec.get()
	if len(events) != 2 || events[0].ID != "d" || events[1].ID != "d2" {
		t.Fatalf("handled %+v", events)
	}
}

// A handler that runs for many acknowledgement waits keeps its event: no
// other worker is given it meanwhile.
func TestLongHandlerNotRedelivered(t *testing.T) {
	ctx := t.Context()
	const ackWait = 300 * time.Millisecond
	s := openStore(t, Options{ackWait: ackWait})
	var deliveries atomic.Int32
	started := make(chan time.Time, 1)
	releaseCh := make(chan struct{})
	release := sync.OnceFunc(func() { close(releaseCh) })
	consume(t, s, 3, func(context.Context, Event) error {
		if deliveries.Add(1) == 1 {
			started <- time.Now()
			<-releaseCh
		}
		return nil
	})
	t.Cleanup(release) // before consume's cleanup waits for the handler
	if err := s.Enqueue(ctx, Event{ID: "long", FunctionName: "f"}); err != nil {
		t.Fatal(err)
	}
	var start time.Time
	select {
	case start = <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the event was not delivered")
	}
	// Watch for a redelivery while the handler runs for 5 acknowledgement
	// waits; without in-progress acks it comes after one.
	waitFor(t, 10*time.Second, "5 acknowledgement waits", func() bool {
		if n := deliveries.Load(); n > 1 {
			t.Fatalf("redelivered while its handler ran (%d deliveries after %s)", n, time.Since(start))
		}
		return time.Since(start) > 5*ackWait
	})
	release()
	waitFor(t, 10*time.Second, "the event acknowledged", func() bool { return depth(t, s) == 0 })
	if n := deliveries.Load(); n != 1 {
		t.Fatalf("%d deliveries, want 1", n)
	}
}

// An event whose handler returns because ConsumeEvents is stopping is not
// lost: the next consumer gets it, with the same attempt number.
func TestStopReturnsEvent(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, Options{})
	if err := s.Enqueue(ctx, Event{ID: "s", FunctionName: "f"}); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	stop := consume(t, s, 1, func(ctx context.Context, e Event) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	<-started
	stop()
	if n := depth(t, s); n != 1 {
		t.Fatalf("depth %d after stopping, want 1", n)
	}
	var rec recorder
	consume(t, s, 1, func(_ context.Context, e Event) error {
		rec.add(e)
		return nil
	})
	waitFor(t, 10*time.Second, "the event handled again", func() bool { return rec.len() >= 1 && depth(t, s) == 0 })
	if events, _ := rec.get(); events[0].ID != "s" || events[0].Attempt != 0 {
		t.Fatalf("handled %+v", events[0])
	}
}

func TestQueueFull(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, Options{queueMaxMsgs: 2})
	for i := range 2 {
		if err := s.Enqueue(ctx, Event{ID: fmt.Sprint(i), FunctionName: "f"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Enqueue(ctx, Event{ID: "2", FunctionName: "f"}); !errors.Is(err, ErrFull) {
		t.Fatalf("third event into a queue of 2: %v, want ErrFull", err)
	}
}

func TestConsumeEventsNeedsWorkers(t *testing.T) {
	s := openStore(t, Options{})
	if err := s.ConsumeEvents(t.Context(), 0, func(context.Context, Event) error { return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("0 workers: %v, want ErrInvalid", err)
	}
}
