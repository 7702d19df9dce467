package environment

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/runtimeapi"
	"github.com/emberfn/ember/internal/sandbox"
	"github.com/emberfn/ember/internal/telemetry"
)

// telemetryQuiesce bounds what the end of an invocation waits for before
// a freeze: the delivery of the events buffered, platform.report among
// them, and of the batches in flight. Lambda delivers them at the next
// thaw; ember delivers them before the freeze when the subscribers answer
// in time, and at the next thaw (or at shutdown) otherwise.
const telemetryQuiesce = 100 * time.Millisecond

// sandboxDialer connects inside the network namespace of a runtime's
// sandbox, set once the sandbox is built and before anything in it runs.
type sandboxDialer struct {
	sb atomic.Pointer[sandbox.Sandbox]
}

func (d *sandboxDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	sb := d.sb.Load()
	if sb == nil {
		return nil, fmt.Errorf("dial %s: the sandbox is not built yet", addr)
	}
	return sb.Dial(ctx, network, addr)
}

// newHub makes the Telemetry hub of one runtime start, so that a reset
// starts afresh, and makes it the one the Runtime API subscribes to. dial
// is nil for a plain process, which shares the host's network.
func (e *Environment) newHub(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *telemetry.Hub {
	hub := telemetry.New(telemetry.Options{
		Log:          e.log,
		Dial:         dial,
		PlatformLine: func(line string) { e.logs.write([]byte(line)) },
	})
	e.mu.Lock()
	e.hub = hub
	e.mu.Unlock()
	return hub
}

// currentHub is the hub of the runtime started last.
func (e *Environment) currentHub() *telemetry.Hub {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hub
}

// subscriptions hands the Runtime API's subscriptions to the hub of the
// runtime started last.
type subscriptions struct{ e *Environment }

func (s subscriptions) Subscribe(extensionID, name string, body []byte, api string) (int, []byte) {
	a := telemetry.Telemetry
	if api == runtimeapi.LogsAPI {
		a = telemetry.Logs
	}
	hub := s.e.currentHub()
	if hub == nil {
		return http.StatusInternalServerError, []byte(`{"errorType":"InternalServerError","errorMessage":"no runtime is running"}`)
	}
	return hub.Subscribe(extensionID, name, a, body)
}

// registered emits platform.extension for an extension that registered.
func (e *Environment) registered(name string, events []string) {
	if hub := e.currentHub(); hub != nil {
		hub.Extension(telemetry.Extension{Name: name, State: "Ready", Events: events})
	}
}

// output is where a runtime's (or its extensions') log lines go: the
// environment's log, and the hub as events of typ.
func (e *Environment) output(hub *telemetry.Hub, typ string) func([]byte) {
	return func(line []byte) {
		e.logs.write(line)
		hub.Emit(typ, string(line))
	}
}

// initStart emits platform.initStart.
func (e *Environment) initStart(hub *telemetry.Hub) {
	hub.InitStart(telemetry.InitStart{
		InitializationType: telemetry.OnDemand,
		Phase:              telemetry.PhaseInit,
		FunctionName:       e.fn.Name,
		FunctionVersion:    e.fn.Version,
		InstanceMaxMemory:  e.fn.MemoryMB,
	})
}

// initDone emits platform.initRuntimeDone and platform.initReport for an
// init that took d and ended with status, and ends the subscriptions.
func initDone(hub *telemetry.Hub, start time.Time, d time.Duration, status telemetry.Status, errorType string) {
	hub.InitRuntimeDone(telemetry.InitRuntimeDone{
		InitializationType: telemetry.OnDemand,
		Phase:              telemetry.PhaseInit,
		Status:             status,
		ErrorType:          errorType,
	})
	hub.InitReport(telemetry.InitReport{
		InitializationType: telemetry.OnDemand,
		Phase:              telemetry.PhaseInit,
		Status:             status,
		ErrorType:          errorType,
		Metrics:            telemetry.InitReportMetrics{DurationMs: telemetry.Millis(d)},
		Spans:              []telemetry.Span{{Name: "runtimeInit", Start: start, DurationMs: telemetry.Millis(d)}},
	})
	hub.CloseSubscriptions()
}

// runtimeDone emits platform.runtimeDone for an invocation whose runtime
// is done, with status; a failed one also emits platform.fault for the
// Logs API.
func (r *run) runtimeDone(resp invocation.Response, status telemetry.Status, errorType string) {
	if r.hub == nil {
		return
	}
	now := time.Now()
	rd := telemetry.RuntimeDone{RequestID: r.req.ID, Status: status, ErrorType: errorType, Tracing: telemetry.XRay(r.req.TraceID, "")}
	if !r.started.IsZero() {
		rd.Metrics = &telemetry.RuntimeDoneMetrics{DurationMs: telemetry.Millis(now.Sub(r.started)), ProducedBytes: int64(len(resp.Payload))}
		if !r.answered.IsZero() {
			rd.Spans = []telemetry.Span{
				{Name: "responseLatency", Start: r.started, DurationMs: telemetry.Millis(r.answered.Sub(r.started))},
				{Name: "responseDuration", Start: r.answered, DurationMs: telemetry.Millis(now.Sub(r.answered))},
			}
		}
	}
	r.hub.RuntimeDone(rd)
	if status == telemetry.StatusFailure || status == telemetry.StatusTimeout {
		r.hub.Fault(fmt.Sprintf("RequestId: %s Error: %s", r.req.ID, faultText(status, errorType)))
	}
}

// faultText is platform.fault's account of a failed invocation.
func faultText(status telemetry.Status, errorType string) string {
	if status == telemetry.StatusTimeout {
		return "Task timed out"
	}
	if errorType == "" {
		return "Runtime exited without providing a reason"
	}
	return errorType
}

// answerStatus is how the runtime's answer ended: an error when it
// reported the function's error.
func answerStatus(resp invocation.Response) (telemetry.Status, string) {
	if resp.FunctionError != "" {
		return telemetry.StatusError, resp.ErrorType
	}
	return telemetry.StatusSuccess, ""
}

// report emits platform.report for a finished invocation.
func (r *run) report(rep invocation.Report) {
	if r.hub == nil {
		return
	}
	status, errorType := telemetry.StatusSuccess, ""
	switch {
	case rep.Status == invocation.StatusTimeout:
		status = telemetry.StatusTimeout
	case rep.Status != "" && rep.Status != invocation.StatusSuccess:
		status, errorType = telemetry.StatusFailure, rep.ErrorType
	case rep.FunctionError != "":
		status, errorType = telemetry.StatusError, rep.FunctionErrorType
	}
	r.hub.Report(telemetry.Report{
		RequestID: rep.RequestID,
		Status:    status,
		ErrorType: errorType,
		Metrics: telemetry.ReportMetrics{
			DurationMs:       telemetry.Millis(rep.Duration),
			BilledDurationMs: rep.BilledDuration.Milliseconds(),
			MemorySizeMB:     rep.MemorySizeMB,
			MaxMemoryUsedMB:  int(megabytes(rep.MaxMemoryUsed)),
			InitDurationMs:   telemetry.Millis(rep.InitDuration),
		},
		Tracing: telemetry.XRay(r.req.TraceID, ""),
	})
}

// quiesce readies the hub for a freeze of the runtime: what is buffered
// is delivered, bounded by telemetryQuiesce, and no delivery starts
// until the thaw resumes it.
func (e *Environment) quiesce(hub *telemetry.Hub) {
	if hub == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), telemetryQuiesce)
	defer cancel()
	if err := hub.Flush(ctx); err != nil {
		e.log.Debug("telemetry before freeze", "err", err)
	}
	if err := hub.Pause(ctx); err != nil {
		e.log.Warn("telemetry before freeze", "err", err)
	}
}

// closeHub closes hub in the background until deadline; the returned
// function cuts it short and waits for it.
func (e *Environment) closeHub(hub *telemetry.Hub, deadline time.Time) (done <-chan struct{}, stop func()) {
	ch := make(chan struct{})
	if hub == nil {
		close(ch)
		return ch, func() {}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	go func() {
		defer close(ch)
		if err := hub.Close(ctx); err != nil {
			e.log.Debug("telemetry at shutdown", "err", err)
		}
	}()
	return ch, func() {
		cancel()
		<-ch
	}
}
