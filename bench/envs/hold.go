package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// holder is where the hold function reports that its handler runs: each
// handler dials it, writes its pid, and holds its invocation until
// release closes the connection.
type holder struct {
	l    net.Listener
	want int
	// all is closed once want handlers have reported.
	all  chan struct{}
	done chan struct{}

	mu    sync.Mutex
	conns []net.Conn
	// failed counts the invocations that ended without holding.
	failed int
	// first and last are when the first and the last of want reported
	// or failed.
	first, last time.Time
}

// newHolder listens on addr ("0.0.0.0:0" for sandboxes, which reach the
// host's services that listen on all addresses) for want handlers.
func newHolder(addr string, want int) (*holder, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	h := &holder{l: l, want: want, all: make(chan struct{}), done: make(chan struct{})}
	go h.accept()
	return h, nil
}

// port is the port the holder listens on.
func (h *holder) port() int { return h.l.Addr().(*net.TCPAddr).Port }

func (h *holder) accept() {
	defer close(h.done)
	for {
		c, err := h.l.Accept()
		if err != nil {
			return
		}
		go h.greet(c)
	}
}

// greet reads a handler's pid line and counts it.
func (h *holder) greet(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conns == nil && !h.first.IsZero() {
		// Released already.
		c.Close()
		return
	}
	now := time.Now()
	if h.first.IsZero() {
		h.first = now
	}
	h.conns = append(h.conns, c)
	h.settledLocked(now)
}

// fail counts an invocation that ended without holding.
func (h *holder) fail() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failed++
	h.settledLocked(time.Now())
}

// settledLocked closes all once every invocation held or failed.
func (h *holder) settledLocked(now time.Time) {
	if len(h.conns)+h.failed == h.want {
		h.last = now
		close(h.all)
	}
}

// held is how many handlers hold their invocation now, and how many
// invocations failed.
func (h *holder) held() (held, failed int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns), h.failed
}

// wait waits until every invocation holds or has failed, or ctx ends,
// and says when the last did.
func (h *holder) wait(ctx context.Context) (time.Time, error) {
	select {
	case <-h.all:
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.last, nil
	case <-ctx.Done():
		held, failed := h.held()
		return time.Time{}, fmt.Errorf("%d of %d handlers held their invocation, %d failed: %w", held, h.want, failed, context.Cause(ctx))
	}
}

// release ends every held invocation, and those that report later.
func (h *holder) release() {
	h.mu.Lock()
	conns := h.conns
	h.conns = nil
	if h.first.IsZero() {
		h.first = time.Now()
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// close stops listening and releases every invocation.
func (h *holder) close() {
	h.l.Close()
	<-h.done
	h.release()
}
