// Package telemetry owns the Telemetry API 2022-07-01 and the Logs API
// 2020-08-15 of one execution environment: subscriptions, buffering and
// delivery of platform, function and extension events to subscribers' HTTP
// (or TCP) endpoints inside the environment.
//
// The environment owns one Hub and drives it in this order:
//
//   - New, before the extensions start; the Runtime API server hands the
//     bodies of PUT /2022-07-01/telemetry and PUT /2020-08-15/logs to
//     Subscribe.
//   - InitStart when init begins; Extension as each extension registers;
//     Emit(TypeFunction, line) and Emit(TypeExtension, line) for every log
//     line; InitRuntimeDone and InitReport when init ends, then
//     CloseSubscriptions.
//   - Per invocation: Start, RuntimeDone when the runtime answers, Report
//     once the extensions are done; Fault for a crash (Logs API only).
//   - Pause before freezing the sandbox, Resume right after thawing it.
//   - Close during shutdown, thawed, before the extensions are killed.
//
// Events emitted before a subscription are kept until CloseSubscriptions
// and delivered to it first. Delivery runs on one goroutine per subscriber;
// Emit never blocks on the network.
package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// API is one of the two subscription APIs, named by its version as it
// appears in the path.
type API string

const (
	// Telemetry is the Telemetry API, PUT /2022-07-01/telemetry.
	Telemetry API = "2022-07-01"
	// Logs is the Logs API, PUT /2020-08-15/logs, which the Telemetry API
	// supersedes.
	Logs API = "2020-08-15"
)

// Event types that are not platform events.
const (
	TypeFunction  = "function"
	TypeExtension = "extension"
)

// timeFormat is how Lambda writes an event's time: UTC, milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z"

// Bounds of the events kept for subscriptions that come later in init.
const (
	backlogMaxItems = 10000
	backlogMaxBytes = 1 << 20
)

// Options configure a Hub.
type Options struct {
	// Log receives ember's own diagnostics (failed deliveries, drops).
	Log *slog.Logger
	// Now is the clock that stamps events; time.Now if nil.
	Now func() time.Time
	// Dial connects to a subscriber's listener inside the environment, such
	// as ("tcp", "127.0.0.1:8080"). A sandboxed environment passes a dialer
	// that connects inside the sandbox's network namespace. A net.Dialer if
	// nil.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// HTTPClient delivers to HTTP destinations. If nil, the Hub builds one
	// that dials with Dial and closes its idle connections on Close.
	HTTPClient *http.Client
	// PlatformLine, if set, receives the lines Lambda writes to the
	// function's log for what the Hub sees: "TELEMETRY\tName: ...\tState:
	// Subscribed\t..." on each subscription and "EXTENSION\tName: ..." for
	// each Extension call. It is a return path to the environment, called
	// without any lock of the Hub held.
	PlatformLine func(line string)
}

// Hub holds the subscriptions of one environment and the events that are
// not yet delivered.
type Hub struct {
	log          *slog.Logger
	now          func() time.Time
	dial         func(ctx context.Context, network, addr string) (net.Conn, error)
	client       *http.Client
	ownClient    bool
	platformLine func(string)

	// ctx is cancelled to stop every delivery at once, after Close's grace.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// mu guards the fields below. Lock order: Hub.mu before subscriber.mu.
	mu sync.Mutex
	// subs are the subscriptions, by extension identifier, in the order made.
	subs []*subscriber
	byID map[string]*subscriber
	// backlog keeps every event emitted while subscriptions are open, so
	// that a subscriber made later in init still receives platform.initStart
	// and what followed it.
	backlog      []*event
	backlogBytes int
	// subsClosed is set when init ends: no subscription is taken after it.
	subsClosed bool
	// paused is set while the environment is frozen or about to be.
	paused bool
	closed bool
}

// New returns a Hub with no subscriptions. Close stops it.
func New(opts Options) *Hub {
	h := &Hub{
		log:          opts.Log,
		now:          opts.Now,
		dial:         opts.Dial,
		client:       opts.HTTPClient,
		platformLine: opts.PlatformLine,
		byID:         make(map[string]*subscriber),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.dial == nil {
		var d net.Dialer
		h.dial = d.DialContext
	}
	if h.client == nil {
		h.client = &http.Client{Transport: &http.Transport{
			DialContext:     h.dial,
			MaxIdleConns:    16,
			IdleConnTimeout: 90 * time.Second,
		}}
		h.ownClient = true
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h
}

// apiMask says which subscribers an event goes to.
type apiMask uint8

const (
	toTelemetry apiMask = 1 << iota
	// toLogs goes to every Logs API subscriber.
	toLogs
	// toLogsRuntimeDone goes only to Logs API subscribers of schema
	// 2021-03-18, the one that adds platform.runtimeDone.
	toLogsRuntimeDone
	toBoth = toTelemetry | toLogs
)

// event is one encoded item, {"time","type","record"}, ready to deliver.
type event struct {
	typ  string
	to   apiMask
	data []byte
}

// category is the subscription type that selects the event.
func (e *event) category() string {
	if len(e.typ) > len("platform.") && e.typ[:len("platform.")] == "platform." {
		return "platform"
	}
	return e.typ
}

// encode builds the wire form of one event stamped t.
func encode(t time.Time, typ string, record any) ([]byte, error) {
	rec, err := json.Marshal(record)
	if err != nil {
		return nil, fmt.Errorf("encode %s record: %w", typ, err)
	}
	return json.Marshal(struct {
		Time   string          `json:"time"`
		Type   string          `json:"type"`
		Record json.RawMessage `json:"record"`
	}{t.UTC().Format(timeFormat), typ, rec})
}

// Emit records one event now for subscribers of both APIs: its type (such
// as "function", "extension" or "platform.fault") and its record, any value
// that encodes to JSON (a string for a text log line, a map for a JSON one).
// Emit never blocks on delivery; a subscriber whose buffer is full drops the
// event and is told with platform.logsDropped.
func (h *Hub) Emit(typ string, record any) {
	h.emit(typ, toBoth, record)
}

// emit encodes one event and hands it to the backlog and to every
// subscriber of the APIs in to.
func (h *Hub) emit(typ string, to apiMask, record any) {
	if !h.listened() {
		// Most environments have no subscriber: once init is over,
		// their events are not even encoded.
		return
	}
	data, err := encode(h.now(), typ, record)
	if err != nil {
		h.log.Warn("telemetry event dropped", "type", typ, "err", err)
		return
	}
	h.deliver(&event{typ: typ, to: to, data: data})
}

// listened reports whether an event emitted now can reach anyone: a
// subscriber, or one that may still subscribe.
func (h *Hub) listened() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.closed && (!h.subsClosed || len(h.subs) > 0)
}

// deliver hands an encoded event on. Offering under h.mu keeps every
// subscriber's order the order of emission; offer never blocks.
func (h *Hub) deliver(e *event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if !h.subsClosed && len(h.backlog) < backlogMaxItems && h.backlogBytes+len(e.data) <= backlogMaxBytes {
		h.backlog = append(h.backlog, e)
		h.backlogBytes += len(e.data)
	}
	for _, s := range h.subs {
		s.offer(e)
	}
}

// CloseSubscriptions ends the subscription window, as Lambda does when init
// completes: later subscribe requests get 403 *.SubscriptionClosed, and the
// events kept for late subscribers are let go.
func (h *Hub) CloseSubscriptions() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subsClosed = true
	h.backlog, h.backlogBytes = nil, 0
}

// Pause stops delivery: no new batch starts until Resume. It waits for the
// batches in flight to finish or ctx to end, so that none is cut in half by
// a freeze. The environment calls it before it freezes the sandbox.
func (h *Hub) Pause(ctx context.Context) error {
	h.mu.Lock()
	h.paused = true
	subs := append([]*subscriber(nil), h.subs...)
	h.mu.Unlock()
	for _, s := range subs {
		s.setPaused(true)
	}
	for _, s := range subs {
		if err := s.waitIdle(ctx, false); err != nil {
			return fmt.Errorf("pause telemetry delivery: %w", err)
		}
	}
	return nil
}

// Resume lets delivery go on after Pause. The environment calls it right
// after it thaws the sandbox.
func (h *Hub) Resume() {
	h.mu.Lock()
	h.paused = false
	subs := append([]*subscriber(nil), h.subs...)
	h.mu.Unlock()
	for _, s := range subs {
		s.setPaused(false)
	}
}

// Flush delivers every buffered event now, without waiting for the
// subscribers' buffering timeouts, and returns when all are delivered or
// ctx ends. It does nothing while paused beyond waiting for ctx.
func (h *Hub) Flush(ctx context.Context) error {
	h.mu.Lock()
	subs := append([]*subscriber(nil), h.subs...)
	h.mu.Unlock()
	for _, s := range subs {
		s.flushing(1)
	}
	defer func() {
		for _, s := range subs {
			s.flushing(-1)
		}
	}()
	for _, s := range subs {
		if err := s.waitIdle(ctx, true); err != nil {
			return fmt.Errorf("flush telemetry: %w", err)
		}
	}
	return nil
}

// Close delivers what is buffered, even while paused, until ctx ends, then
// stops every delivery goroutine and waits for them. Events emitted after
// Close are dropped. The environment calls it during shutdown, while the
// sandbox is thawed and before the extensions are killed, so that they
// receive the last platform.report. It returns ctx's error if some events
// could not be delivered in time.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed, h.subsClosed = true, true
	h.backlog = nil
	subs := append([]*subscriber(nil), h.subs...)
	h.mu.Unlock()
	for _, s := range subs {
		s.stop()
	}
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("close telemetry: %w", ctx.Err())
		h.cancel()
		<-done
	}
	h.cancel()
	for _, s := range subs {
		if n, b := s.undelivered(); n > 0 {
			h.log.Warn("telemetry events not delivered", "extension", s.name, "records", n, "bytes", b)
		}
	}
	if h.ownClient {
		h.client.CloseIdleConnections()
	}
	return err
}
