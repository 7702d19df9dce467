package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// An event is one message on the events stream: the payload is the body,
// the rest is JSON in one header (JSON escapes any line break, which a
// header value must not hold).
const eventHeader = "Ember-Event"

const (
	// fetchWait is how long one pull request waits for an event.
	fetchWait = 30 * time.Second
	// ackTimeout bounds an acknowledgement or a retry's publish.
	ackTimeout = 10 * time.Second
	// fetchBackoff is the pause after a failed pull request.
	fetchBackoff = time.Second
)

// Event is an accepted asynchronous invocation.
type Event struct {
	ID            string // the request id given to the caller
	FunctionName  string
	Qualifier     string
	Payload       []byte
	ClientContext string
	Attempt       int // 0 for the first delivery
	Accepted      time.Time
}

// eventMeta is what the header holds.
type eventMeta struct {
	ID            string    `json:"id"`
	FunctionName  string    `json:"function"`
	Qualifier     string    `json:"qualifier,omitempty"`
	ClientContext string    `json:"clientContext,omitempty"`
	Attempt       int       `json:"attempt,omitempty"`
	Accepted      time.Time `json:"accepted"`
	// NotBefore is when a retried event is due.
	NotBefore time.Time `json:"notBefore,omitzero"`
}

// Retry asks for a redelivery of an event after a delay; a handler returns
// it as its error.
type Retry struct{ After time.Duration }

func (r *Retry) Error() string { return "retry after " + r.After.String() }

// Enqueue stores an event and returns once it is durably stored: with the
// embedded server, synced to disk. An event with the ID of one enqueued in
// the last two minutes is taken to be the same event and stored once. It
// fails with ErrFull when the queue is at its limit.
func (s *Store) Enqueue(ctx context.Context, e Event) error {
	if e.ID == "" {
		return fmt.Errorf("enqueue: event without an ID: %w", ErrInvalid)
	}
	if e.Accepted.IsZero() {
		e.Accepted = time.Now()
	}
	if err := s.publishEvent(ctx, e, time.Time{}, e.ID); err != nil {
		return fmt.Errorf("enqueue %s: %w", e.ID, err)
	}
	return nil
}

func (s *Store) publishEvent(ctx context.Context, e Event, notBefore time.Time, msgID string) error {
	meta, err := json.Marshal(eventMeta{
		ID:            e.ID,
		FunctionName:  e.FunctionName,
		Qualifier:     e.Qualifier,
		ClientContext: e.ClientContext,
		Attempt:       e.Attempt,
		Accepted:      e.Accepted,
		NotBefore:     notBefore,
	})
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: eventsSubject, Header: nats.Header{}, Data: e.Payload}
	msg.Header.Set(eventHeader, string(meta))
	_, err = s.js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(eventsStream))
	if err != nil && isFull(err) {
		err = fmt.Errorf("%w: %w", ErrFull, err)
	}
	return err
}

func decodeEvent(msg jetstream.Msg) (Event, time.Time, error) {
	var m eventMeta
	if err := json.Unmarshal([]byte(msg.Headers().Get(eventHeader)), &m); err != nil {
		return Event{}, time.Time{}, fmt.Errorf("decode event header: %w", err)
	}
	return Event{
		ID:            m.ID,
		FunctionName:  m.FunctionName,
		Qualifier:     m.Qualifier,
		Payload:       msg.Data(),
		ClientContext: m.ClientContext,
		Attempt:       m.Attempt,
		Accepted:      m.Accepted,
	}, m.NotBefore, nil
}

// QueueDepth returns how many events are stored: waiting, being handled or
// waiting for a retry.
func (s *Store) QueueDepth(ctx context.Context) (int, error) {
	info, err := s.events.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("queue depth: %w", err)
	}
	return int(info.State.Msgs), nil
}

// QueueOldest returns when the oldest event message now stored was
// written (a retry is written anew), or the zero time for an empty queue.
func (s *Store) QueueOldest(ctx context.Context) (time.Time, error) {
	info, err := s.events.Info(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("queue age: %w", err)
	}
	if info.State.Msgs == 0 {
		return time.Time{}, nil
	}
	return info.State.FirstTime, nil
}

// ConsumeEvents delivers events to handle, up to workers at once, until ctx
// ends; it returns nil after every running handle has returned. handle's nil
// → the event is acknowledged (gone); a *Retry → the event comes back after
// Retry.After with Attempt+1; any other error → the event is dropped and
// logged. An error returned once ctx has ended is taken to be the
// shutdown's doing, not the event's: the event is delivered again.
//
// While handle runs, the event is kept from redelivery by in-progress
// acknowledgements, however long it takes. An event whose handler never
// returned because the process died is delivered again after restart: at
// once with the embedded server, after the acknowledgement wait (30 s) with
// an external one. Several processes may consume the same queue; each event
// goes to one of them at a time.
func (s *Store) ConsumeEvents(ctx context.Context, workers int, handle func(context.Context, Event) error) error {
	if workers < 1 {
		return fmt.Errorf("consume events: %d workers: %w", workers, ErrInvalid)
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { s.work(ctx, handle) })
	}
	wg.Wait()
	return nil
}

// work pulls one event at a time, so that no event waits in a buffer while
// its acknowledgement wait runs out, and handles it.
func (s *Store) work(ctx context.Context, handle func(context.Context, Event) error) {
	for ctx.Err() == nil {
		msg, err := s.next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			s.log.Warn("fetch event", "err", err)
			t := time.NewTimer(fetchBackoff)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		s.deliver(ctx, msg, handle)
	}
}

func (s *Store) next(ctx context.Context) (jetstream.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchWait)
	defer cancel()
	return s.consumer.Next(jetstream.FetchContext(ctx))
}

// deliver hands one message to handle and settles it by the result.
func (s *Store) deliver(ctx context.Context, msg jetstream.Msg, handle func(context.Context, Event) error) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()

	e, notBefore, err := decodeEvent(msg)
	if err != nil {
		s.log.Error("dropped an event that cannot be read", "err", err)
		s.ack(actx, msg, e)
		return
	}
	if wait := time.Until(notBefore); wait > 0 {
		// A retry that is not due yet: the server holds it for the rest.
		if err := msg.NakWithDelay(wait); err != nil {
			s.log.Warn("delay event", "id", e.ID, "err", err)
		}
		return
	}

	stop := s.keepInProgress(msg, e)
	herr := handle(ctx, e)
	stop()

	var retry *Retry
	switch {
	case herr == nil:
		s.ack(actx, msg, e)
	case errors.As(herr, &retry):
		next := e
		next.Attempt++
		after := max(retry.After, 0)
		// The retry is a new message carrying its attempt and due time, so
		// that both survive a restart; its ID makes a second publication of
		// the same retry (after a crash before the ack below) a duplicate.
		id := e.ID + "#" + strconv.Itoa(next.Attempt)
		if err := s.publishEvent(actx, next, time.Now().Add(after), id); err != nil {
			s.log.Warn("requeue event; retrying it as it is", "id", e.ID, "err", err)
			if err := msg.NakWithDelay(after); err != nil {
				s.log.Warn("delay event", "id", e.ID, "err", err)
			}
			return
		}
		s.ack(actx, msg, e)
	case ctx.Err() != nil:
		if err := msg.Nak(); err != nil {
			s.log.Warn("return event", "id", e.ID, "err", err)
		}
	default:
		s.log.Warn("dropped event", "id", e.ID, "function", e.FunctionName, "qualifier", e.Qualifier, "attempt", e.Attempt, "err", herr)
		s.ack(actx, msg, e)
	}
}

func (s *Store) ack(ctx context.Context, msg jetstream.Msg, e Event) {
	if err := msg.DoubleAck(ctx); err != nil {
		s.log.Warn("acknowledge event", "id", e.ID, "err", err)
	}
}

// keepInProgress tells the server that msg is still being handled, every
// third of the acknowledgement wait, until the returned stop is called.
func (s *Store) keepInProgress(msg jetstream.Msg, e Event) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(s.ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := msg.InProgress(); err != nil {
					s.log.Warn("extend event", "id", e.ID, "err", err)
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
