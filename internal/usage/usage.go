// Package usage owns the record of what each invocation used: one Record
// per invocation as ember measured it, kept in memory in a bounded ring per
// function, and the sums that turn them into a bill (GB-seconds, cost, the
// cost of a million such invocations).
package usage

import (
	"slices"
	"sync"
	"time"
)

// DefaultMaxPerFunction is how many records a function keeps when
// Options.MaxPerFunction is not set.
const DefaultMaxPerFunction = 10000

// Outcomes of an invocation, as Record.Outcome holds them.
const (
	OutcomeSuccess   = "success"
	OutcomeError     = "error" // a function or runtime error
	OutcomeTimeout   = "timeout"
	OutcomeThrottled = "throttled" // refused; it never ran
)

// Record is one invocation as ember measured it.
type Record struct {
	Function        string        `json:"function"`
	Version         string        `json:"version"`
	RequestID       string        `json:"request_id"`
	Start           time.Time     `json:"start"`
	Duration        time.Duration `json:"duration_ns"`
	BilledDuration  time.Duration `json:"billed_duration_ns"`
	InitDuration    time.Duration `json:"init_duration_ns"` // zero when warm
	Cold            bool          `json:"cold"`
	MemoryMB        int           `json:"memory_mb"`
	MaxMemoryUsedMB int           `json:"max_memory_used_mb"`
	EphemeralMB     int           `json:"ephemeral_mb"`
	Arch            string        `json:"arch"`
	// Outcome is "success", "error" (function or runtime error), "timeout"
	// or "throttled" (never ran).
	Outcome   string  `json:"outcome"`
	ErrorType string  `json:"error_type,omitempty"`
	CostUSD   float64 `json:"cost_usd"`
	Async     bool    `json:"async"`
}

// ran reports whether the invocation ran, whatever its result: everything
// but a throttle.
func (r *Record) ran() bool { return r.Outcome != OutcomeThrottled }

// failed reports whether the invocation counts as an error, as Lambda's
// Errors metric counts them: function and runtime errors and timeouts.
func (r *Record) failed() bool {
	return r.Outcome == OutcomeError || r.Outcome == OutcomeTimeout
}

// Options configure a Store.
type Options struct {
	// MaxPerFunction bounds the records kept per function; past it the
	// oldest are dropped. Zero or less means DefaultMaxPerFunction.
	MaxPerFunction int
	// Now stamps a record added without a Start. Nil means time.Now.
	Now func() time.Time
}

// Store keeps the latest records of each function. It is safe for
// concurrent use.
type Store struct {
	max int
	now func() time.Time

	mu    sync.Mutex
	rings map[string]*ring // by function
}

// New returns an empty store.
func New(o Options) *Store {
	if o.MaxPerFunction <= 0 {
		o.MaxPerFunction = DefaultMaxPerFunction
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{max: o.MaxPerFunction, now: o.Now, rings: make(map[string]*ring)}
}

// Add keeps r, dropping the function's oldest record when it has
// MaxPerFunction of them. A zero r.Start is set to the store's time now.
func (s *Store) Add(r Record) {
	if r.Start.IsZero() {
		r.Start = s.now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.rings[r.Function]
	if g == nil {
		g = &ring{}
		s.rings[r.Function] = g
	}
	g.add(r, s.max)
}

// Records returns the records of function ("" for every function) that
// started at or after since, oldest first. A zero since means all of them.
func (s *Store) Records(function string, since time.Time) []Record {
	var out []Record
	s.each(function, func(r *Record) {
		if !r.Start.Before(since) {
			out = append(out, *r)
		}
	})
	// Records are added as invocations end, so a long one that started
	// early comes after short ones that started later.
	slices.SortStableFunc(out, func(a, b Record) int { return a.Start.Compare(b.Start) })
	return out
}

// Forget drops every record of function.
func (s *Store) Forget(function string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rings, function)
}

// each calls f on each record of function, or of every function for "",
// with the lock held. f must not keep the pointer.
func (s *Store) each(function string, f func(*Record)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if function != "" {
		if g := s.rings[function]; g != nil {
			g.each(f)
		}
		return
	}
	for _, g := range s.rings {
		g.each(f)
	}
}

// ring holds a function's latest records: buf grows to the bound, then
// next wraps around it, overwriting the oldest.
type ring struct {
	buf  []Record
	next int // where the next record goes once buf is full; also the oldest
}

func (g *ring) add(r Record, limit int) {
	if len(g.buf) < limit {
		g.buf = append(g.buf, r)
		return
	}
	g.buf[g.next] = r
	g.next = (g.next + 1) % len(g.buf)
}

// each calls f on the records in the order they were added.
func (g *ring) each(f func(*Record)) {
	for i := range g.buf {
		f(&g.buf[(g.next+i)%len(g.buf)])
	}
}
