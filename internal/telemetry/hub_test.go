package telemetry

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	requestID = "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa"
	traceID   = "Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"
)

// A subscription is answered 200 "OK", logged as Lambda logs it, and the
// subscriber receives what happened before it subscribed, in order, then
// its own platform.telemetrySubscription.
func TestSubscribeGetsEarlierEvents(t *testing.T) {
	r := newReceiver(t)
	var mu sync.Mutex
	var lines []string
	h := newHub(t, Options{PlatformLine: func(l string) {
		mu.Lock()
		lines = append(lines, l)
		mu.Unlock()
	}})
	h.InitStart(InitStart{InitializationType: OnDemand, Phase: PhaseInit, FunctionName: "hello", FunctionVersion: "$LATEST"})
	h.Emit(TypeExtension, "starting")

	mustSubscribe(t, h, "id-1", "collector", Telemetry, subscription("2022-12-13", r.uri(), allTypes, nil))
	h.Emit(TypeFunction, "after")
	flush(t, h)

	want := []string{"platform.initStart", "extension", "platform.telemetrySubscription", "function"}
	if got := r.types(); !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	wantLine := "TELEMETRY\tName: collector\tState: Subscribed\tTypes: [Platform, Function, Extension]"
	if len(lines) != 1 || lines[0] != wantLine {
		t.Errorf("platform lines %q, want %q", lines, wantLine)
	}
	if r.methods[0] != http.MethodPost || r.paths[0] != "/lambda/telemetry" || r.hosts[0] != "sandbox.localdomain:"+r.port() {
		t.Errorf("delivered by %s to host %s path %s", r.methods[0], r.hosts[0], r.paths[0])
	}
}

// Every platform event's record has the fields of the schema reference.
func TestTelemetryRecordsMatchSchema(t *testing.T) {
	r := newReceiver(t)
	h := newHub(t, Options{Now: func() time.Time { return fixedTime }})
	mustSubscribe(t, h, "id-1", "collector", Telemetry, subscription("2022-07-01", r.uri(), allTypes, nil))
	trace := XRay(traceID, "54565fb41ac79632")

	h.InitStart(InitStart{InitializationType: OnDemand, Phase: PhaseInit,
		RuntimeVersion: "python:3.12.v18", RuntimeVersionArn: "arn:aws:lambda:us-east-1::runtime:0b1c",
		FunctionName: "hello", FunctionVersion: "$LATEST"})
	h.Extension(Extension{Name: "collector", State: "Ready", Events: []string{"INVOKE", "SHUTDOWN"}})
	h.InitRuntimeDone(InitRuntimeDone{InitializationType: OnDemand, Phase: PhaseInit, Status: StatusSuccess})
	h.InitReport(InitReport{InitializationType: OnDemand, Phase: PhaseInit, Status: StatusSuccess,
		Metrics: InitReportMetrics{DurationMs: Millis(125330 * time.Microsecond)}})
	h.Start(Start{RequestID: requestID, Version: "$LATEST", Tracing: trace})
	h.Emit(TypeFunction, "[INFO] Hello world, I am a function!")
	h.RuntimeDone(RuntimeDone{RequestID: requestID, Status: StatusSuccess,
		Metrics: &RuntimeDoneMetrics{DurationMs: 140, ProducedBytes: 16},
		Spans: []Span{
			{Name: "responseLatency", Start: fixedTime.Add(6 * time.Millisecond), DurationMs: 23.02},
			{Name: "responseDuration", Start: fixedTime.Add(29 * time.Millisecond), DurationMs: 0.5},
		},
		Tracing: trace})
	h.Emit(TypeExtension, "[INFO] Hello world, I am an extension!")
	h.Report(Report{RequestID: requestID, Status: StatusSuccess, Metrics: ReportMetrics{
		DurationMs: 693.92, BilledDurationMs: 694, MemorySizeMB: 128, MaxMemoryUsedMB: 84, InitDurationMs: 397.68}})
	h.Fault("not a Telemetry API event")
	flush(t, h)

	want := []string{"platform.telemetrySubscription", "platform.initStart", "platform.extension",
		"platform.initRuntimeDone", "platform.initReport", "platform.start", "function",
		"platform.runtimeDone", "extension", "platform.report"}
	if got := r.types(); !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	for _, e := range r.events() {
		compareGolden(t, "telemetry", e)
	}
}

// A Logs API subscriber gets the 2020-08-15 shapes: no init events,
// platform.end before platform.report, platform.fault, and
// platform.runtimeDone only with schema 2021-03-18.
func TestLogsAPIRecords(t *testing.T) {
	v1, v2 := newReceiver(t), newReceiver(t)
	h := newHub(t, Options{Now: func() time.Time { return fixedTime }})
	h.InitStart(InitStart{InitializationType: OnDemand, Phase: PhaseInit, FunctionName: "hello", FunctionVersion: "$LATEST"})
	mustSubscribe(t, h, "id-1", "Foo.bar", Logs, subscription("2021-03-18", v2.uri(), []string{"platform", "function"}, nil))
	mustSubscribe(t, h, "id-2", "Old", Logs, subscription("", v1.uri(), []string{"platform"}, nil))

	const id = "6f7f0961f83442118a7af6fe80b88d56"
	h.Extension(Extension{Name: "Foo.bar", State: "Ready", Events: []string{"INVOKE", "SHUTDOWN"}})
	h.Start(Start{RequestID: id, Version: "$LATEST", Tracing: XRay(traceID, "")})
	h.Emit(TypeFunction, "ERROR encountered. Stack trace:\n\\my-function (line 10)\n")
	h.RuntimeDone(RuntimeDone{RequestID: id, Status: StatusSuccess, Metrics: &RuntimeDoneMetrics{DurationMs: 100}})
	h.Report(Report{RequestID: id, Status: StatusSuccess, Metrics: ReportMetrics{
		DurationMs: 101.51, BilledDurationMs: 300, MemorySizeMB: 512, MaxMemoryUsedMB: 33, InitDurationMs: 116.67}})
	h.Fault("RequestId: d783b35e-a91d-4251-af17-035953428a2c Process exited before completing request")
	flush(t, h)

	want := []string{"platform.logsSubscription", "platform.logsSubscription", "platform.extension", "platform.start", "function",
		"platform.runtimeDone", "platform.end", "platform.report", "platform.fault"}
	if got := v2.types(); !slices.Equal(got, want) {
		t.Fatalf("2021-03-18 subscriber got %v, want %v", got, want)
	}
	for _, e := range v2.events() {
		if e.Type == "platform.logsSubscription" && !strings.Contains(string(e.Record), `"Foo.bar"`) {
			continue
		}
		compareGolden(t, "logs", e)
	}
	// The older schema has no runtimeDone; it sees both subscriptions (the
	// first from before its own) and not function lines it did not ask for.
	want = []string{"platform.logsSubscription", "platform.logsSubscription", "platform.extension", "platform.start",
		"platform.end", "platform.report", "platform.fault"}
	if got := v1.types(); !slices.Equal(got, want) {
		t.Fatalf("2020-08-15 subscriber got %v, want %v", got, want)
	}
}

// A subscriber receives only the types it asked for.
func TestTypeFiltering(t *testing.T) {
	fn, ext := newReceiver(t), newReceiver(t)
	h := newHub(t, Options{})
	mustSubscribe(t, h, "id-1", "fn", Telemetry, subscription("2022-12-13", fn.uri(), []string{"function"}, nil))
	mustSubscribe(t, h, "id-2", "ext", Telemetry, subscription("2022-12-13", ext.uri(), []string{"extension", "platform"}, nil))
	h.Start(Start{RequestID: requestID})
	h.Emit(TypeFunction, "f")
	h.Emit(TypeExtension, "e")
	flush(t, h)
	if got := fn.types(); !slices.Equal(got, []string{"function"}) {
		t.Errorf("function subscriber got %v", got)
	}
	want := []string{"platform.telemetrySubscription", "platform.telemetrySubscription", "platform.start", "extension"}
	if got := ext.types(); !slices.Equal(got, want) {
		t.Errorf("extension+platform subscriber got %v, want %v", got, want)
	}
}

// A batch goes out when maxItems events are pending, without waiting for
// timeoutMs; Close delivers the rest.
func TestBufferingMaxItems(t *testing.T) {
	r := newReceiver(t)
	h := New(Options{})
	mustSubscribe(t, h, "id-1", "c", Telemetry, subscription("2022-12-13", r.uri(), []string{"function"},
		map[string]int{"maxItems": 1000, "timeoutMs": 30000}))
	// Emitting in steps keeps the buffer from overflowing while a batch is
	// in flight; each full step goes out at once.
	for step, n := range []int{1000, 1000, 500} {
		for i := range n {
			h.Emit(TypeFunction, fmt.Sprintf("line %d", step*1000+i))
		}
		if n == 1000 {
			waitFor(t, "a full batch", 5*time.Second, func() bool { return len(r.batchSizes()) == step+1 })
		}
	}
	if got := r.batchSizes(); !slices.Equal(got, []int{1000, 1000}) {
		t.Fatalf("batches %v, want [1000 1000]", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if got := r.batchSizes(); !slices.Equal(got, []int{1000, 1000, 500}) {
		t.Fatalf("after close, batches %v, want [1000 1000 500]", got)
	}
	ev := r.events()
	var last string
	if err := json.Unmarshal(ev[len(ev)-1].Record, &last); err != nil || last != "line 2499" {
		t.Errorf("last record %s (%v), want line 2499", ev[len(ev)-1].Record, err)
	}
}

// A batch goes out when its oldest event has waited timeoutMs, and not
// before.
func TestBufferingTimeout(t *testing.T) {
	fast, slow := newReceiver(t), newReceiver(t)
	h := newHub(t, Options{})
	mustSubscribe(t, h, "id-1", "fast", Telemetry, subscription("2022-12-13", fast.uri(), []string{"function"},
		map[string]int{"timeoutMs": 25}))
	mustSubscribe(t, h, "id-2", "slow", Telemetry, subscription("2022-12-13", slow.uri(), []string{"function"},
		map[string]int{"timeoutMs": 30000}))
	start := time.Now()
	h.Emit(TypeFunction, "one")
	waitFor(t, "the 25 ms batch", 5*time.Second, func() bool { return len(fast.events()) == 1 })
	if d := time.Since(start); d < 25*time.Millisecond {
		t.Errorf("delivered after %v, before timeoutMs", d)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(slow.events()); n != 0 {
		t.Fatalf("the 30 s subscriber got %d events after 100 ms", n)
	}
	flush(t, h)
	if n := len(slow.events()); n != 1 {
		t.Fatalf("after flush the 30 s subscriber has %d events, want 1", n)
	}
}

// A subscriber that does not keep up loses what overflows its buffer and
// is told how much with platform.logsDropped once it accepts again.
func TestLogsDropped(t *testing.T) {
	r := newReceiver(t)
	hold := make(chan struct{})
	r.hold.Store(&hold)
	h := newHub(t, Options{Now: func() time.Time { return fixedTime }})
	mustSubscribe(t, h, "id-1", "c", Telemetry, subscription("2022-12-13", r.uri(), []string{"function"},
		map[string]int{"maxItems": 1000, "timeoutMs": 30000}))
	for i := range 2050 {
		h.Emit(TypeFunction, fmt.Sprintf("line-%04d", i))
	}
	r.hold.Store(nil)
	close(hold)
	flush(t, h)

	ev := r.events()
	if len(ev) != 2001 {
		t.Fatalf("delivered %d events, want 2000 and platform.logsDropped", len(ev))
	}
	for i, e := range ev[:2000] {
		var line string
		if err := json.Unmarshal(e.Record, &line); err != nil || line != fmt.Sprintf("line-%04d", i) {
			t.Fatalf("event %d is %s, want line-%04d in order", i, e.Record, i)
		}
	}
	// Each dropped event is {"time":...,"type":"function","record":"line-NNNN"}.
	if got := len(ev[0].raw); got*50 != 3700 {
		t.Fatalf("an event is %d bytes; the golden droppedBytes assumes 74", got)
	}
	compareGolden(t, "telemetry", ev[2000])
}

// A failed delivery is retried until the subscriber accepts it, once.
func TestRetryUntilAccepted(t *testing.T) {
	r := newReceiver(t)
	r.fail.Store(2)
	h := newHub(t, Options{})
	mustSubscribe(t, h, "id-1", "c", Telemetry, subscription("2022-12-13", r.uri(), []string{"function"},
		map[string]int{"timeoutMs": 25}))
	h.Emit(TypeFunction, "persist")
	flush(t, h)
	r.mu.Lock()
	attempts := r.attempts
	r.mu.Unlock()
	if attempts != 3 || !slices.Equal(r.types(), []string{"function"}) {
		t.Fatalf("%d attempts delivered %v, want 3 attempts and one event", attempts, r.types())
	}
}

// While paused nothing is sent; Resume lets the batch go.
func TestPauseHoldsDelivery(t *testing.T) {
	r := newReceiver(t)
	h := newHub(t, Options{})
	mustSubscribe(t, h, "id-1", "c", Telemetry, subscription("2022-12-13", r.uri(), []string{"platform"},
		map[string]int{"timeoutMs": 25}))
	flush(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	h.Report(Report{RequestID: requestID, Status: StatusSuccess})
	time.Sleep(150 * time.Millisecond)
	if got := r.types(); len(got) != 1 {
		t.Fatalf("delivered while paused: %v", got)
	}
	h.Resume()
	waitFor(t, "platform.report after resume", 5*time.Second, func() bool { return len(r.events()) == 2 })
}

// Subscribing again replaces the subscription; it does not add one.
func TestResubscribeIsIdempotent(t *testing.T) {
	a, b := newReceiver(t), newReceiver(t)
	h := newHub(t, Options{})
	mustSubscribe(t, h, "id-1", "c", Telemetry, subscription("2022-12-13", a.uri(), []string{"function"}, nil))
	mustSubscribe(t, h, "id-1", "c", Telemetry, subscription("2022-12-13", b.uri(), []string{"function"}, nil))
	h.Emit(TypeFunction, "once")
	flush(t, h)
	if len(a.events()) != 0 || len(b.events()) != 1 {
		t.Fatalf("first destination got %d, second %d; want 0 and 1", len(a.events()), len(b.events()))
	}
}

// A TCP destination receives one JSON event per line.
func TestTCPDestination(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lines := make(chan string, 16)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	h := New(Options{})
	port := l.Addr().(*net.TCPAddr).Port
	body := fmt.Sprintf(`{"schemaVersion":"2022-12-13","types":["function"],"buffering":{"timeoutMs":25},"destination":{"protocol":"TCP","port":%d}}`, port)
	mustSubscribe(t, h, "id-1", "c", Telemetry, []byte(body))
	h.Emit(TypeFunction, "a")
	h.Emit(TypeFunction, map[string]any{"level": "INFO", "message": "b"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for line := range lines {
		var e received
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, string(e.Record))
	}
	if want := []string{`"a"`, `{"level":"INFO","message":"b"}`}; !slices.Equal(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
}

// Close returns once every delivery goroutine and connection is gone.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	rs := []*receiver{newReceiver(t), newReceiver(t), newReceiver(t)}
	down := newReceiver(t)
	down.srv.Close() // a subscriber whose listener is gone
	before := runtime.NumGoroutine()

	h := New(Options{})
	for i, r := range append(rs, down) {
		mustSubscribe(t, h, fmt.Sprint("id-", i), fmt.Sprint("ext-", i), Telemetry,
			subscription("2022-12-13", r.uri(), allTypes, map[string]int{"timeoutMs": 25}))
	}
	for i := range 100 {
		h.Emit(TypeFunction, i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := h.Close(ctx); err == nil {
		t.Errorf("close reported success with a subscriber that cannot be reached")
	}
	for _, r := range rs {
		if n := len(r.events()); n != 104 {
			t.Errorf("a live subscriber got %d events by close, want 104", n)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.Emit(TypeFunction, "after close")
}
