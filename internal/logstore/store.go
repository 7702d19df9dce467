// Package logstore owns the functions' logs: each log group
// (/aws/lambda/<name>) holds the events its log streams wrote, one per line,
// in memory and bounded, the oldest dropped first; readers list them, or
// follow a group as it is written.
package logstore

import (
	"cmp"
	"slices"
	"sort"
	"sync"
	"time"
)

// Options bounds a Store. Zero fields take their defaults.
type Options struct {
	// MaxEventsPerGroup is how many events a group keeps; past it the
	// oldest are dropped. Default 10000.
	MaxEventsPerGroup int
	// MaxBytesPerGroup bounds the message bytes a group keeps; past it the
	// oldest events are dropped. Default 8 MiB.
	MaxBytesPerGroup int
	// MaxGroups is how many groups the store keeps; past it the group
	// written least recently is dropped. Default 5000.
	MaxGroups int
	// Now is the clock that stamps events. Default time.Now.
	Now func() time.Time
}

const (
	defaultMaxEvents = 10000
	defaultMaxBytes  = 8 << 20
	defaultMaxGroups = 5000
)

// Event is one log line.
type Event struct {
	// Seq increases with each event written to the store.
	Seq uint64
	// Time is when the event was written; it never decreases within a
	// group.
	Time    time.Time
	Group   string
	Stream  string
	Message string // one line, without its '\n'
}

// StreamInfo describes a log stream that has events kept.
type StreamInfo struct {
	Name string
	// First is when the stream's first event was written, Last when its
	// latest one was.
	First, Last time.Time
	// Events is how many of the stream's events are kept.
	Events int
}

// Store keeps the log groups. It is safe for concurrent use.
type Store struct {
	opts Options

	mu     sync.Mutex
	seq    uint64
	groups map[string]*group
	// follows holds the followers of each group name; they outlive the
	// group's data when it is deleted or dropped.
	follows map[string][]*follower
}

// New returns an empty Store bounded by o.
func New(o Options) *Store {
	if o.MaxEventsPerGroup <= 0 {
		o.MaxEventsPerGroup = defaultMaxEvents
	}
	if o.MaxBytesPerGroup <= 0 {
		o.MaxBytesPerGroup = defaultMaxBytes
	}
	if o.MaxGroups <= 0 {
		o.MaxGroups = defaultMaxGroups
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{
		opts:    o,
		groups:  make(map[string]*group),
		follows: make(map[string][]*follower),
	}
}

// group is one log group's kept events, a ring oldest first.
type group struct {
	name    string
	ring    []entry
	head, n int
	bytes   int
	// last is the time of the latest event written.
	last    time.Time
	streams map[string]*stream
	// gone is set when the group is deleted or dropped, so that writers
	// holding it look it up again.
	gone bool
}

type entry struct {
	ev Event
	st *stream
}

type stream struct {
	name        string
	first, last time.Time
	events      int
	gone        bool
}

func (g *group) at(i int) *entry {
	return &g.ring[(g.head+i)%len(g.ring)]
}

// groupLocked returns the group named name, creating it, and dropping the
// least recently written group when that makes too many.
func (s *Store) groupLocked(name string) *group {
	if g := s.groups[name]; g != nil {
		return g
	}
	if len(s.groups) >= s.opts.MaxGroups {
		var oldest *group
		for _, g := range s.groups {
			if oldest == nil || g.last.Before(oldest.last) {
				oldest = g
			}
		}
		s.removeLocked(oldest)
	}
	g := &group{name: name, streams: make(map[string]*stream)}
	s.groups[name] = g
	return g
}

func (s *Store) removeLocked(g *group) {
	g.gone = true
	for _, st := range g.streams {
		st.gone = true
	}
	delete(s.groups, g.name)
}

// streamLocked returns g's stream named name, creating it.
func (g *group) streamLocked(name string) *stream {
	st := g.streams[name]
	if st == nil {
		st = &stream{name: name}
		g.streams[name] = st
	}
	return st
}

// appendLocked adds an event to g and drops the oldest ones past the
// bounds.
// st must not be gone.
func (s *Store) appendLocked(g *group, st *stream, ev Event) {
	// Count the event in its stream first, so that dropping the oldest
	// does not empty and remove the stream it goes to.
	if st.events == 0 {
		st.first = ev.Time
	}
	st.events++
	st.last = ev.Time
	if g.n == s.opts.MaxEventsPerGroup {
		g.dropOldestLocked()
	}
	if g.n == len(g.ring) {
		g.grow(s.opts.MaxEventsPerGroup)
	}
	*g.at(g.n) = entry{ev: ev, st: st}
	g.n++
	g.bytes += len(ev.Message)
	g.last = ev.Time
	for g.bytes > s.opts.MaxBytesPerGroup && g.n > 1 {
		g.dropOldestLocked()
	}
}

func (g *group) grow(limit int) {
	size := min(max(2*len(g.ring), 64), limit)
	ring := make([]entry, size)
	for i := range g.n {
		ring[i] = *g.at(i)
	}
	g.ring, g.head = ring, 0
}

func (g *group) dropOldestLocked() {
	e := g.at(0)
	g.bytes -= len(e.ev.Message)
	if e.st.events--; e.st.events == 0 {
		e.st.gone = true
		delete(g.streams, e.st.name)
	}
	*e = entry{}
	g.head = (g.head + 1) % len(g.ring)
	g.n--
}

// firstAtOrAfterLocked is the index of g's first event at or after since.
func (g *group) firstAtOrAfterLocked(since time.Time) int {
	if since.IsZero() {
		return 0
	}
	return sort.Search(g.n, func(i int) bool { return !g.at(i).ev.Time.Before(since) })
}

// Events returns the group's kept events at or after since (zero: all),
// oldest first, at most limit of them (0: all).
func (s *Store) Events(group string, since time.Time, limit int) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eventsLocked(group, since, limit)
}

func (s *Store) eventsLocked(group string, since time.Time, limit int) []Event {
	g := s.groups[group]
	if g == nil {
		return nil
	}
	i := g.firstAtOrAfterLocked(since)
	n := g.n - i
	if limit > 0 {
		n = min(n, limit)
	}
	if n == 0 {
		return nil
	}
	out := make([]Event, n)
	for j := range out {
		out[j] = g.at(i + j).ev
	}
	return out
}

// Streams returns the group's streams that have events kept, the most
// recently written first.
func (s *Store) Streams(group string) []StreamInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[group]
	if g == nil {
		return nil
	}
	out := make([]StreamInfo, 0, len(g.streams))
	for _, st := range g.streams {
		out = append(out, StreamInfo{Name: st.name, First: st.first, Last: st.last, Events: st.events})
	}
	slices.SortFunc(out, func(a, b StreamInfo) int {
		if c := b.Last.Compare(a.Last); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

// DeleteGroup drops the group's events and streams. Its followers stay:
// they get what is written to the group from then on.
func (s *Store) DeleteGroup(group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.groups[group]; g != nil {
		s.removeLocked(g)
	}
}

// Groups returns the names of the groups that have events kept, sorted.
func (s *Store) Groups() []string {
	s.mu.Lock()
	names := make([]string, 0, len(s.groups))
	for name := range s.groups {
		names = append(names, name)
	}
	s.mu.Unlock()
	slices.Sort(names)
	return names
}
