package main

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// requestTimeout bounds every request, so that no loop waits forever on a
// server that stopped answering.
const requestTimeout = 60 * time.Second

// newHTTPClient returns a keep-alive client that keeps conns idle
// connections to each server. The Lambda clients use one too, so that the
// plain and the SDK paths differ by the SDK alone.
func newHTTPClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        4 * conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
		Timeout: requestTimeout,
	}
}

// request sends one request and returns how long it took, from sending
// to the whole answer read, and an error when it failed or its answer was
// not the one expected. Checking the answer is not timed. It is safe for
// concurrent use.
type request func(ctx context.Context) (time.Duration, error)

// tally counts the outcomes of the requests of one path.
type tally struct {
	requests int
	errors   int
	// first describes the first error.
	first string
}

// record counts one request and reports whether it succeeded.
func (t *tally) record(err error) bool {
	t.requests++
	if err == nil {
		return true
	}
	t.errors++
	if t.first == "" {
		t.first = err.Error()
	}
	return false
}

func (t *tally) add(o tally) {
	t.requests += o.requests
	t.errors += o.errors
	if t.first == "" {
		t.first = o.first
	}
}

// describe sums up the errors, "" when there were none.
func (t tally) describe() string {
	if t.errors == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d failed; first: %s", t.errors, t.requests, clip(t.first, 300))
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// samples are the latencies of the successful requests of a path and the
// wall time its turns took.
type samples struct {
	lat  []time.Duration
	wall time.Duration
}

func (s *samples) add(o samples) {
	s.lat = append(s.lat, o.lat...)
	s.wall += o.wall
}

// percentile returns the nearest-rank p-th percentile, 0 < p <= 100.
func (s samples) percentile(p float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	sorted := slices.Clone(s.lat)
	slices.Sort(sorted)
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// rate is successful requests per second of wall time.
func (s samples) rate() float64 {
	if s.wall <= 0 {
		return 0
	}
	return float64(len(s.lat)) / s.wall.Seconds()
}

// sequential sends n requests, one after the other.
func sequential(ctx context.Context, do request, n int, t *tally) samples {
	s := samples{lat: make([]time.Duration, 0, n)}
	start := time.Now()
	for range n {
		if ctx.Err() != nil {
			break
		}
		d, err := do(ctx)
		if t.record(err) {
			s.lat = append(s.lat, d)
		}
	}
	s.wall = time.Since(start)
	return s
}

// concurrent runs clients that each send their next request when the last
// is answered, until d has passed.
func concurrent(ctx context.Context, do request, clients int, d time.Duration, t *tally) samples {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total samples
	)
	start := time.Now()
	deadline := start.Add(d)
	for range clients {
		wg.Go(func() {
			var (
				lat []time.Duration
				own tally
			)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				d, err := do(ctx)
				if own.record(err) {
					lat = append(lat, d)
				}
			}
			mu.Lock()
			total.lat = append(total.lat, lat...)
			t.add(own)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.wall = time.Since(start)
	return total
}

// alternate runs each of turns rounds times, each round starting one turn
// later than the last, so that all meet the same noise of a shared machine.
func alternate(ctx context.Context, rounds int, turns ...func()) {
	for i := range rounds {
		for j := range turns {
			if ctx.Err() != nil {
				return
			}
			turns[(i+j)%len(turns)]()
		}
	}
}
