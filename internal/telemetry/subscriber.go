package telemetry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Delivery timing.
const (
	// attemptTimeout bounds one delivery attempt, so that a listener that
	// accepts and never answers does not hold its subscriber forever.
	attemptTimeout = 5 * time.Second
	// firstBackoff and maxBackoff bound the wait between failed attempts.
	firstBackoff = 50 * time.Millisecond
	maxBackoff   = 2 * time.Second
)

// droppedReason is the reason Lambda gives in platform.logsDropped.
const droppedReason = "Consumer seems to have fallen behind as it has not acknowledged receipt of logs."

// item is one queued event and when it was queued, by the monotonic clock.
type item struct {
	e  *event
	at time.Time
}

// subscriber is one subscription and its delivery goroutine (run). The Hub
// owns it; stop and the Hub's context end it.
type subscriber struct {
	hub  *Hub
	id   string
	name string
	api  API
	// wake has room for one signal: something changed that run waits for.
	wake chan struct{}
	// conn is the TCP connection of a TCP destination; only run uses it.
	conn     net.Conn
	connAddr string

	// mu guards the fields below. It is taken inside Hub.mu, never around it.
	mu  sync.Mutex
	cfg *config
	// queue holds the events not yet delivered, oldest first; its first
	// inflight items are the batch being sent.
	queue      []item
	queueBytes int
	inflight   int
	// dropped and droppedBytes count events refused since the last report.
	dropped      int
	droppedBytes int
	paused       bool
	flushers     int
	stopping     bool
	// changed is closed and replaced whenever a batch finishes, so that
	// Flush and Pause can wait for it.
	changed chan struct{}
}

func newSubscriber(h *Hub, id, name string, cfg *config, paused bool) *subscriber {
	return &subscriber{
		hub: h, id: id, name: name, api: cfg.api, cfg: cfg, paused: paused,
		wake:    make(chan struct{}, 1),
		changed: make(chan struct{}),
	}
}

// signal wakes run without blocking.
func (s *subscriber) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// offer queues an event the subscription takes, or counts it dropped when
// the queue already holds twice the subscription's buffering limits: one
// batch in flight and one filling up.
func (s *subscriber) offer(e *event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping || !s.cfg.wants(e) {
		return
	}
	if len(s.queue) >= 2*s.cfg.maxItems || s.queueBytes+len(e.data) > 2*s.cfg.maxBytes {
		s.dropped++
		s.droppedBytes += len(e.data)
		return
	}
	s.queue = append(s.queue, item{e: e, at: time.Now()})
	s.queueBytes += len(e.data)
	s.signal()
}

func (s *subscriber) reconfigure(cfg *config) {
	s.mu.Lock()
	s.cfg = cfg
	s.mu.Unlock()
	s.signal()
}

func (s *subscriber) setPaused(p bool) {
	s.mu.Lock()
	s.paused = p
	s.mu.Unlock()
	s.signal()
}

func (s *subscriber) flushing(delta int) {
	s.mu.Lock()
	s.flushers += delta
	s.mu.Unlock()
	s.signal()
}

func (s *subscriber) stop() {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	s.signal()
}

// undelivered counts the events still queued or dropped unreported.
func (s *subscriber) undelivered() (records, bytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) + s.dropped, s.queueBytes + s.droppedBytes
}

// waitIdle waits until no batch is in flight and, if empty is set, nothing
// is queued either.
func (s *subscriber) waitIdle(ctx context.Context, empty bool) error {
	for {
		s.mu.Lock()
		idle := s.inflight == 0 && (!empty || len(s.queue) == 0)
		ch := s.changed
		s.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// run delivers batches until the subscriber is stopped and its queue is
// empty, or ctx ends. A failed batch stays at the head of the queue and is
// tried again with backoff.
func (s *subscriber) run(ctx context.Context) {
	defer s.closeConn()
	backoff := firstBackoff
	failures := 0
	for {
		batch, cfg, ok := s.next(ctx)
		if !ok {
			return
		}
		err := s.send(ctx, cfg, batch)
		s.finish(len(batch), err == nil)
		if err == nil {
			if failures > 0 {
				s.hub.log.Info("telemetry delivery recovered", "extension", s.name, "failed_attempts", failures)
			}
			backoff, failures = firstBackoff, 0
			continue
		}
		failures++
		if failures == 1 {
			s.hub.log.Warn("telemetry delivery failed; retrying", "extension", s.name, "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// next waits until a batch is due and marks it in flight. A batch is due
// when the pending events reach maxItems or maxBytes, when the oldest has
// waited timeoutMs, or at once while flushing or stopping; never while
// paused, unless stopping.
func (s *subscriber) next(ctx context.Context) ([][]byte, *config, bool) {
	for {
		s.mu.Lock()
		cfg := s.cfg
		var wait <-chan time.Time
		var timer *time.Timer
		if n := len(s.queue); n > 0 && (!s.paused || s.stopping) {
			due := s.stopping || s.flushers > 0 || n >= cfg.maxItems || s.queueBytes >= cfg.maxBytes
			left := cfg.timeout - time.Since(s.queue[0].at)
			if due || left <= 0 {
				batch := s.batchLocked(cfg)
				s.mu.Unlock()
				return batch, cfg, true
			}
			timer = time.NewTimer(left)
			wait = timer.C
		} else if n == 0 && s.stopping {
			s.mu.Unlock()
			return nil, nil, false
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-wait:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil, nil, false
		}
	}
}

// batchLocked marks the leading events, up to maxItems and maxBytes (at
// least one), in flight and returns their encodings.
func (s *subscriber) batchLocked(cfg *config) [][]byte {
	var batch [][]byte
	size := 0
	for _, it := range s.queue {
		if len(batch) == cfg.maxItems || (len(batch) > 0 && size+len(it.e.data) > cfg.maxBytes) {
			break
		}
		batch = append(batch, it.e.data)
		size += len(it.e.data)
	}
	s.inflight = len(batch)
	return batch
}

// finish ends the batch in flight: a delivered one leaves the queue, and
// events dropped meanwhile are reported with platform.logsDropped.
func (s *subscriber) finish(n int, delivered bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if delivered {
		for _, it := range s.queue[:n] {
			s.queueBytes -= len(it.e.data)
		}
		s.queue = append(s.queue[:0:0], s.queue[n:]...)
		if s.dropped > 0 {
			s.reportDroppedLocked()
		}
	}
	s.inflight = 0
	close(s.changed)
	s.changed = make(chan struct{})
}

// reportDroppedLocked queues platform.logsDropped for this subscriber
// alone, past its queue limits, since it is the report of their overflow.
func (s *subscriber) reportDroppedLocked() {
	record := LogsDropped{Reason: droppedReason, DroppedRecords: s.dropped, DroppedBytes: s.droppedBytes}
	data, err := encode(s.hub.now(), "platform.logsDropped", record)
	if err != nil {
		s.hub.log.Warn("telemetry event dropped", "type", "platform.logsDropped", "err", err)
		return
	}
	s.hub.log.Warn("telemetry events dropped", "extension", s.name, "records", s.dropped, "bytes", s.droppedBytes)
	s.dropped, s.droppedBytes = 0, 0
	e := &event{typ: "platform.logsDropped", to: toBoth, data: data}
	s.queue = append(s.queue, item{e: e, at: time.Now()})
	s.queueBytes += len(data)
}

// send delivers one batch: a JSON array by HTTP, or one JSON object per
// line by TCP.
func (s *subscriber) send(ctx context.Context, cfg *config, batch [][]byte) error {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	if cfg.protocol == "TCP" {
		return s.sendTCP(ctx, cfg, batch)
	}
	body := make([]byte, 0, 2+len(batch)+sizeOf(batch))
	body = append(body, '[')
	body = append(body, bytes.Join(batch, []byte{','})...)
	body = append(body, ']')
	req, err := http.NewRequestWithContext(ctx, cfg.method, cfg.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build delivery request: %w", err)
	}
	req.Host = cfg.host
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hub.client.Do(req)
	if err != nil {
		return fmt.Errorf("deliver to %s: %w", cfg.host, err)
	}
	_, copyErr := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	closeErr := resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("deliver to %s: status %s", cfg.host, resp.Status)
	}
	if copyErr != nil {
		return fmt.Errorf("read delivery response from %s: %w", cfg.host, copyErr)
	}
	if closeErr != nil {
		return fmt.Errorf("close delivery response from %s: %w", cfg.host, closeErr)
	}
	return nil
}

func (s *subscriber) sendTCP(ctx context.Context, cfg *config, batch [][]byte) error {
	if s.conn != nil && s.connAddr != cfg.tcpAddr {
		s.closeConn()
	}
	if s.conn == nil {
		c, err := s.hub.dial(ctx, "tcp", cfg.tcpAddr)
		if err != nil {
			return fmt.Errorf("dial %s: %w", cfg.tcpAddr, err)
		}
		s.conn, s.connAddr = c, cfg.tcpAddr
	}
	buf := make([]byte, 0, len(batch)+sizeOf(batch))
	for _, b := range batch {
		buf = append(append(buf, b...), '\n')
	}
	if d, ok := ctx.Deadline(); ok {
		if err := s.conn.SetWriteDeadline(d); err != nil {
			s.closeConn()
			return fmt.Errorf("set write deadline on %s: %w", cfg.tcpAddr, err)
		}
	}
	if _, err := s.conn.Write(buf); err != nil {
		s.closeConn()
		return fmt.Errorf("write to %s: %w", cfg.tcpAddr, err)
	}
	return nil
}

func (s *subscriber) closeConn() {
	if s.conn == nil {
		return
	}
	if err := s.conn.Close(); err != nil {
		s.hub.log.Debug("close telemetry connection", "extension", s.name, "err", err)
	}
	s.conn = nil
}

func sizeOf(batch [][]byte) int {
	n := 0
	for _, b := range batch {
		n += len(b)
	}
	return n
}
