// Package metrics owns ember's Prometheus metrics: Lambda's CloudWatch
// metric set (invocations, errors, throttles, durations, concurrency,
// cold starts, the async queue), counted as invocations finish and written
// in the Prometheus text exposition format.
package metrics

import (
	"slices"
	"sync"
	"time"
)

// Outcomes of an invocation, as Invocation.Outcome holds them.
const (
	OutcomeSuccess   = "success"
	OutcomeError     = "error" // a function or runtime error
	OutcomeTimeout   = "timeout"
	OutcomeThrottled = "throttled" // refused; it never ran
)

// durationBuckets are the upper bounds, in seconds, of the duration
// histogram: from 1 ms to Lambda's longest timeout. Read only.
var durationBuckets = [...]float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900,
}

// initBuckets are the upper bounds, in seconds, of the init duration
// histogram: Lambda limits Init to 10 s. Read only.
var initBuckets = [...]float64{
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Invocation is one finished invocation, as Observe counts it.
type Invocation struct {
	Function, Version string
	Duration          time.Duration
	// InitDuration is the Init phase that preceded a cold invocation;
	// zero when warm.
	InitDuration time.Duration
	Cold         bool
	// Outcome is "success", "error" (function or runtime error), "timeout"
	// or "throttled" (never ran).
	Outcome string
}

// Gauges are the values read at scrape time, by the caller, from the
// parts that own them.
type Gauges struct {
	// ConcurrentExecutions is how many invocations run now, by (function,
	// version).
	ConcurrentExecutions map[[2]string]int
	// AsyncQueued is how many async events wait in the queue.
	AsyncQueued int
	// AsyncOldestAge is the age of the oldest of them.
	AsyncOldestAge time.Duration
}

// seriesKey names one function version.
type seriesKey struct{ function, version string }

// series holds the counters of one function version. It is a value, so
// that a scrape copies it whole.
type series struct {
	invocations uint64 // ran: success, error, timeout
	errors      uint64 // error, timeout
	throttles   uint64
	coldStarts  uint64
	duration    histogram // over durationBuckets
	init        histogram // over initBuckets
}

// histogram counts observations between its bounds, which its user keeps:
// counts[i] those at or below bounds[i] and above the bound before it,
// counts[len(bounds)] those above every bound.
type histogram struct {
	counts [len(durationBuckets) + 1]uint64
	sum    time.Duration
}

// A histogram has room for the init buckets too.
const _ = uint(len(durationBuckets) - len(initBuckets))

func (h *histogram) observe(bounds []float64, d time.Duration) {
	i, _ := slices.BinarySearch(bounds, d.Seconds())
	h.counts[i]++
	h.sum += d
}

// Registry holds the counters and histograms of every function version
// that ran. It is safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	series  map[seriesKey]*series
	dropped map[string]uint64 // async events dropped, by function
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{series: make(map[seriesKey]*series), dropped: make(map[string]uint64)}
}

// Observe counts one finished invocation: a throttled one as a throttle
// only; any other as an invocation, with its duration, and as an error
// when its outcome is "error" or "timeout". A cold one is a cold start,
// and its non-zero InitDuration is observed.
func (r *Registry) Observe(inv Invocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := seriesKey{inv.Function, inv.Version}
	s := r.series[k]
	if s == nil {
		s = new(series)
		r.series[k] = s
	}
	if inv.Outcome == OutcomeThrottled {
		s.throttles++
		return
	}
	s.invocations++
	if inv.Outcome == OutcomeError || inv.Outcome == OutcomeTimeout {
		s.errors++
	}
	s.duration.observe(durationBuckets[:], inv.Duration)
	if inv.Cold {
		s.coldStarts++
		if inv.InitDuration > 0 {
			s.init.observe(initBuckets[:], inv.InitDuration)
		}
	}
}

// EventDropped counts an async event of function that was dropped: its
// retries were exhausted or it grew too old.
func (r *Registry) EventDropped(function string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped[function]++
}
