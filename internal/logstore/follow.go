package logstore

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// followQueue is how many events a follower may fall behind the writers
// before it loses them.
const followQueue = 1024

// follower is one Follow call: writers queue its events, its goroutine
// delivers them.
type follower struct {
	out  chan Event
	wake chan struct{}

	// Guarded by Store.mu.
	queue []Event
	// dropped counts the events discarded since the last delivery, last is
	// the latest of them.
	dropped int
	last    Event
}

// pushLocked queues ev. A full queue is discarded, counted, and replaced by
// the newest events: a follower that falls behind skips ahead rather than
// holding the writers up.
func (f *follower) pushLocked(ev Event) {
	if len(f.queue) >= followQueue {
		f.dropped += len(f.queue)
		f.last = f.queue[len(f.queue)-1]
		clear(f.queue)
		f.queue = f.queue[:0]
	}
	f.queue = append(f.queue, ev)
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Follow returns a channel that delivers the group's events: first every
// kept event at or after since (zero: all), then each one written after
// the call, until ctx ends; the channel is closed then. The group need
// not exist yet.
//
// Writers never wait for the reader. A reader that falls more than about a
// thousand events behind loses the oldest of those it has not received:
// it gets an Event whose Message is "[ember: N log events dropped]", with
// the Seq and Time of the last one it lost and no Stream, then continues
// with the newest.
func (s *Store) Follow(ctx context.Context, group string, since time.Time) <-chan Event {
	f := &follower{out: make(chan Event), wake: make(chan struct{}, 1)}
	s.mu.Lock()
	backlog := s.eventsLocked(group, since, 0)
	s.follows[group] = append(s.follows[group], f)
	s.mu.Unlock()
	go s.follow(ctx, group, f, backlog)
	return f.out
}

// follow delivers f's events until ctx ends.
func (s *Store) follow(ctx context.Context, group string, f *follower, batch []Event) {
	defer close(f.out)
	defer s.unfollow(group, f)
	for {
		for i := range batch {
			select {
			case f.out <- batch[i]:
			case <-ctx.Done():
				return
			}
		}
		clear(batch)
		s.mu.Lock()
		// The delivered batch becomes the queue, so that following
		// allocates nothing in the long run.
		batch, f.queue = f.queue, batch[:0]
		if cap(f.queue) > 2*followQueue {
			f.queue = nil // the backlog's
		}
		dropped, last := f.dropped, f.last
		f.dropped, f.last = 0, Event{}
		s.mu.Unlock()
		if dropped > 0 {
			marker := Event{
				Seq:     last.Seq,
				Time:    last.Time,
				Group:   group,
				Message: fmt.Sprintf("[ember: %d log events dropped]", dropped),
			}
			select {
			case f.out <- marker:
			case <-ctx.Done():
				return
			}
		}
		if len(batch) == 0 && dropped == 0 {
			select {
			case <-f.wake:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (s *Store) unfollow(group string, f *follower) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := slices.DeleteFunc(s.follows[group], func(g *follower) bool { return g == f })
	if len(fs) == 0 {
		delete(s.follows, group)
	} else {
		s.follows[group] = fs
	}
}
