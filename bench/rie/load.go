package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// requestTimeout bounds every request, so that no loop waits forever on a
// server that stopped answering.
const requestTimeout = 60 * time.Second

// newClient returns a keep-alive client that keeps an idle connection per
// concurrent client to each server.
func newClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
		Timeout: requestTimeout,
	}
}

// post sends body to url and reads the answer into buf.
func post(ctx context.Context, c *http.Client, url string, body []byte, buf *bytes.Buffer) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return resp.StatusCode, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, nil
}

// tally counts the outcomes of requests to one server. A request counts as
// an error unless it was answered 200 with its own body.
type tally struct {
	ok int
	// statuses counts answers other than 200 by status.
	statuses map[int]int
	// mismatched counts 200s whose body was not the request's.
	mismatched int
	// failed counts requests that got no answer.
	failed int
	// first describes the first error.
	first string
}

// record counts one request and reports whether it succeeded.
func (t *tally) record(status int, err error, got, want []byte) bool {
	switch {
	case err != nil:
		t.failed++
		t.note(err.Error())
	case status != http.StatusOK:
		if t.statuses == nil {
			t.statuses = make(map[int]int)
		}
		t.statuses[status]++
		t.note(fmt.Sprintf("status %d: %s", status, clip(got, 300)))
	case !bytes.Equal(got, want):
		t.mismatched++
		t.note(fmt.Sprintf("answer of %d bytes is not the %d-byte request: %s", len(got), len(want), clip(got, 100)))
	default:
		t.ok++
		return true
	}
	return false
}

func (t *tally) note(s string) {
	if t.first == "" {
		t.first = s
	}
}

func (t *tally) add(o tally) {
	t.ok += o.ok
	t.mismatched += o.mismatched
	t.failed += o.failed
	for s, n := range o.statuses {
		if t.statuses == nil {
			t.statuses = make(map[int]int)
		}
		t.statuses[s] += n
	}
	if t.first == "" {
		t.first = o.first
	}
}

// requests counts the requests sent.
func (t tally) requests() int { return t.ok + t.errors() }

func (t tally) errors() int {
	n := t.mismatched + t.failed
	for _, c := range t.statuses {
		n += c
	}
	return n
}

// describe sums up the errors, "" when there were none.
func (t tally) describe() string {
	if t.errors() == 0 {
		return ""
	}
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(t.statuses)) {
		parts = append(parts, fmt.Sprintf("%d × %d", t.statuses[s], s))
	}
	if t.mismatched > 0 {
		parts = append(parts, fmt.Sprintf("%d wrong bodies", t.mismatched))
	}
	if t.failed > 0 {
		parts = append(parts, fmt.Sprintf("%d without answer", t.failed))
	}
	return fmt.Sprintf("%s; first: %s", strings.Join(parts, ", "), t.first)
}

func clip(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// samples are the latencies of the successful requests of a run and the
// wall time the run took.
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

// sequential sends body to url n times, one after the other.
func sequential(ctx context.Context, c *http.Client, url string, body []byte, n int, t *tally) samples {
	s := samples{lat: make([]time.Duration, 0, n)}
	var buf bytes.Buffer
	start := time.Now()
	for range n {
		if ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		status, err := post(ctx, c, url, body, &buf)
		d := time.Since(t0)
		if t.record(status, err, buf.Bytes(), body) {
			s.lat = append(s.lat, d)
		}
	}
	s.wall = time.Since(start)
	return s
}

// concurrent runs clients that each send body to url one request after
// the other until d has passed.
func concurrent(ctx context.Context, c *http.Client, url string, body []byte, clients int, d time.Duration, t *tally) samples {
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
				s   samples
				own tally
				buf bytes.Buffer
			)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				status, err := post(ctx, c, url, body, &buf)
				dur := time.Since(t0)
				if own.record(status, err, buf.Bytes(), body) {
					s.lat = append(s.lat, dur)
				}
			}
			mu.Lock()
			total.lat = append(total.lat, s.lat...)
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
