package main

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"time"
)

// requestTimeout bounds every request, so that no loop waits forever on a
// server that stopped answering.
const requestTimeout = 60 * time.Second

// newHTTPClient returns a keep-alive client that keeps an idle connection
// to each server: every Invoke after ember's first reuses it.
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        8,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     5 * time.Minute,
			DisableCompression:  true,
		},
		Timeout: requestTimeout,
	}
}

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

// samples are durations of the successful requests of a path.
type samples []time.Duration

// percentile returns the nearest-rank p-th percentile in milliseconds,
// 0 < p <= 100.
func (s samples) percentile(p float64) float64 {
	if len(s) == 0 {
		return 0
	}
	sorted := slices.Clone(s)
	slices.Sort(sorted)
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return ms(sorted[max(0, min(i, len(sorted)-1))])
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

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
