package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// RequestTimeout bounds every request of a client of NewHTTPClient, so
// that no loop waits forever on a server that stopped answering.
const RequestTimeout = 60 * time.Second

// NewTransport returns a keep-alive transport without compression that
// keeps maxIdle idle connections in all (0: no limit), perHost to each
// server, each for idleTimeout.
func NewTransport(maxIdle, perHost int, idleTimeout time.Duration) *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        maxIdle,
		MaxIdleConnsPerHost: perHost,
		IdleConnTimeout:     idleTimeout,
		DisableCompression:  true,
	}
}

// NewHTTPClient returns a client over NewTransport(maxIdle, perHost,
// idleTimeout) whose requests time out after RequestTimeout.
func NewHTTPClient(maxIdle, perHost int, idleTimeout time.Duration) *http.Client {
	return &http.Client{Transport: NewTransport(maxIdle, perHost, idleTimeout), Timeout: RequestTimeout}
}

// Request sends one request and returns how long it took, from sending
// to the whole answer read, and an error when it failed or its answer was
// not the one expected. Checking the answer is not timed. It is safe for
// concurrent use.
type Request func(ctx context.Context) (time.Duration, error)

// A Recorder counts the outcomes of requests: Record counts one and
// reports whether it succeeded.
type Recorder interface {
	Record(err error) bool
}

// A Merger is a Recorder that Concurrent gives each client a T of its
// own, added to it when the clients are done.
type Merger[T any] interface {
	*T
	Recorder
	Add(o T)
}

// Tally counts the outcomes of the requests of one path.
type Tally struct {
	Requests int
	Errors   int
	// First describes the first error.
	First string
}

var _ Recorder = (*Tally)(nil)

// Record counts one request and reports whether it succeeded.
func (t *Tally) Record(err error) bool {
	t.Requests++
	if err == nil {
		return true
	}
	t.Errors++
	if t.First == "" {
		t.First = err.Error()
	}
	return false
}

// Add adds the counts of o.
func (t *Tally) Add(o Tally) {
	t.Requests += o.Requests
	t.Errors += o.Errors
	if t.First == "" {
		t.First = o.First
	}
}

// Describe sums up the errors, "" when there were none.
func (t Tally) Describe() string {
	if t.Errors == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d failed; first: %s", t.Errors, t.Requests, Clip(t.First, 300))
}

// Clip cuts s to n bytes, with an ellipsis when it cut.
func Clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Sequential sends n requests with do, one after the other, and records
// each in t.
func Sequential(ctx context.Context, do Request, n int, t Recorder) Samples {
	s := Samples{Lat: make([]time.Duration, 0, n)}
	start := time.Now()
	for range n {
		if ctx.Err() != nil {
			break
		}
		d, err := do(ctx)
		if t.Record(err) {
			s.Lat = append(s.Lat, d)
		}
	}
	s.Wall = time.Since(start)
	return s
}

// Concurrent runs clients that each send their next request with do when
// the last is answered, until d has passed, and adds their outcomes to t.
func Concurrent[T any, M Merger[T]](ctx context.Context, do Request, clients int, d time.Duration, t M) Samples {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total Samples
	)
	start := time.Now()
	deadline := start.Add(d)
	for range clients {
		wg.Go(func() {
			var (
				lat []time.Duration
				own T
			)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				d, err := do(ctx)
				if M(&own).Record(err) {
					lat = append(lat, d)
				}
			}
			mu.Lock()
			total.Lat = append(total.Lat, lat...)
			t.Add(own)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.Wall = time.Since(start)
	return total
}

// Alternate runs each of turns rounds times, each round starting one turn
// later than the last, so that all meet the same noise of a shared
// machine.
func Alternate(ctx context.Context, rounds int, turns ...func()) {
	for i := range rounds {
		for j := range turns {
			if ctx.Err() != nil {
				return
			}
			turns[(i+j)%len(turns)]()
		}
	}
}

// InBlocks has each of sends send n requests, or run for n, in blocks
// of at most block that take turns as Alternate has them: sends[i](k)
// sends the next k requests of the i-th, or runs it for the next k.
func InBlocks[N ~int | ~int64](ctx context.Context, n, block N, sends ...func(k N)) {
	turns := make([]func(), len(sends))
	for i, send := range sends {
		var done N
		turns[i] = func() {
			k := min(block, n-done)
			send(k)
			done += k
		}
	}
	Alternate(ctx, int((n+block-1)/block), turns...)
}
