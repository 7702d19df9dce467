package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

// newClient returns a keep-alive client that keeps an idle connection per
// concurrent client to each server.
func newClient(conns int) *http.Client { return harness.NewHTTPClient(0, conns, time.Minute) }

// echoRequest returns a request that posts body to url and expects body
// back with a 200, as the echo function and the echo server answer. Its
// answers go to buffers of its own, one for each concurrent client, used
// again for its next requests: each run of requests makes one.
func echoRequest(c *http.Client, url string, body []byte) harness.Request {
	buffers := &sync.Pool{New: func() any { return new(bytes.Buffer) }}
	return func(ctx context.Context) (time.Duration, error) {
		buf := buffers.Get().(*bytes.Buffer)
		defer buffers.Put(buf)
		t0 := time.Now()
		status, err := post(ctx, c, url, body, buf)
		d := time.Since(t0)
		switch {
		case err != nil:
			return d, err
		case status != http.StatusOK:
			return d, &statusError{status: status, body: clip(buf.Bytes(), 300)}
		case !bytes.Equal(buf.Bytes(), body):
			return d, errMismatch{fmt.Sprintf("answer of %d bytes is not the %d-byte request: %s", buf.Len(), len(body), clip(buf.Bytes(), 100))}
		}
		return d, nil
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

// statusError is an answer other than 200.
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d: %s", e.status, e.body) }

// errMismatch is a 200 whose body was not the request's.
type errMismatch struct{ msg string }

func (e errMismatch) Error() string { return e.msg }

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

var _ harness.Recorder = (*tally)(nil)

// Record counts one request, whose error an echoRequest or a fork/exec
// returned, and reports whether it succeeded.
func (t *tally) Record(err error) bool {
	var se *statusError
	var mismatch errMismatch
	switch {
	case err == nil:
		t.ok++
		return true
	case errors.As(err, &se):
		if t.statuses == nil {
			t.statuses = make(map[int]int)
		}
		t.statuses[se.status]++
	case errors.As(err, &mismatch):
		t.mismatched++
	default:
		t.failed++
	}
	t.note(err.Error())
	return false
}

func (t *tally) note(s string) {
	if t.first == "" {
		t.first = s
	}
}

// Add adds the counts of o.
func (t *tally) Add(o tally) {
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

func clip(b []byte, n int) string { return harness.Clip(strings.TrimSpace(string(b)), n) }
