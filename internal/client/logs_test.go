package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/sigv4"
)

const logLines = "2024-01-01T12:00:00.000Z\tstdout\tSTART RequestId: 6f2a Version: $LATEST\n" +
	"2024-01-01T12:00:00.010Z\tstderr\tsomething\twith tabs\n" +
	"2024-01-01T12:00:00.020Z\tstdout\tEND RequestId: 6f2a\n"

func TestLogs(t *testing.T) {
	f, c := newFakeAPI(t, testKeys, func(w http.ResponseWriter, _ call) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(logLines))
	})
	var out strings.Builder
	since := time.Date(2024, 1, 1, 13, 0, 0, 0, time.FixedZone("CET", 3600))
	if err := c.Logs(context.Background(), fnARN, since, false, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != logLines {
		t.Errorf("lines\n got %q\nwant %q", out.String(), logLines)
	}
	r := f.only()
	r.want(t, "GET", "/ember/v1/functions/"+arnEscaped+"/logs?since=2024-01-01T12%3A00%3A00Z")
	if a := r.header.Get("Accept"); a != "text/plain" {
		t.Errorf("Accept %q", a)
	}

	f, c = newFakeAPI(t, testKeys, func(w http.ResponseWriter, _ call) {})
	if err := c.Logs(context.Background(), "my-fn", time.Time{}, false, io.Discard); err != nil {
		t.Fatal(err)
	}
	f.only().want(t, "GET", "/ember/v1/functions/my-fn/logs")
}

func TestLogsError(t *testing.T) {
	_, c := newFakeAPI(t, testKeys, func(w http.ResponseWriter, _ call) {
		w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"Type":"User","Message":"Function not found: my-fn"}`))
	})
	err := c.Logs(context.Background(), "my-fn", time.Time{}, true, io.Discard)
	var e *APIError
	if !errors.As(err, &e) || e.Code != "ResourceNotFoundException" || e.Status != 404 || e.Message != "Function not found: my-fn" {
		t.Fatalf("error %v", err)
	}
}

// lineWriter collects lines and tells when it has n of them.
type lineWriter struct {
	mu    sync.Mutex
	text  strings.Builder
	n     int
	ready chan struct{}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.text.Write(p)
	if strings.Count(w.text.String(), "\n") == w.n {
		close(w.ready)
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.text.String()
}

// followServer writes lines, then holds the stream open until the client
// goes away (hold) or ends it. done is closed when its handler returns.
func followServer(t *testing.T, lines string, hold bool) (*Client, <-chan string, <-chan struct{}) {
	uris := make(chan string, 1)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		if _, err := sigv4.Verify(r, nil, testKeys, "lambda", time.Now()); err != nil {
			t.Errorf("Verify: %v", err)
		}
		uris <- r.RequestURI
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(lines))
		w.(http.Flusher).Flush()
		if hold {
			<-r.Context().Done()
		}
	}))
	t.Cleanup(srv.Close)
	return New(Options{Endpoint: srv.URL, Credentials: &testCreds}), uris, done
}

func TestLogsFollowEndsWithContext(t *testing.T) {
	c, uris, done := followServer(t, logLines, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &lineWriter{n: 3, ready: make(chan struct{})}
	result := make(chan error, 1)
	go func() { result <- c.Logs(ctx, "my-fn", time.Time{}, true, w) }()

	select {
	case <-w.ready:
	case err := <-result:
		t.Fatalf("Logs returned before its context ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatalf("lines not streamed; got %q", w.String())
	}
	select {
	case err := <-result:
		t.Fatalf("Logs returned before its context ended: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("Logs: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Logs went on after its context ended")
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the server's stream was left open")
	}
	if w.String() != logLines {
		t.Errorf("lines %q", w.String())
	}
	if uri := <-uris; uri != "/ember/v1/functions/my-fn/logs?follow=true" {
		t.Errorf("request %s", uri)
	}
}

// With follow, a stream the server ends is an error: the lines stopped.
func TestLogsFollowServerEnds(t *testing.T) {
	c, _, _ := followServer(t, "partial line", false)
	var out strings.Builder
	err := c.Logs(context.Background(), "my-fn", time.Time{}, true, &out)
	if err == nil || !strings.Contains(err.Error(), "ended the stream") {
		t.Errorf("error %v", err)
	}
	if out.String() != "partial line" {
		t.Errorf("lines %q", out.String())
	}
}
