package telemetry

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// InitType is how the environment was initialized.
type InitType string

const (
	OnDemand               InitType = "on-demand"
	ProvisionedConcurrency InitType = "provisioned-concurrency"
	SnapStart              InitType = "snap-start"
)

// Phase is when the function's init code ran: in the init phase, or again
// in the invoke phase after a failed init (a suppressed init).
type Phase string

const (
	PhaseInit   Phase = "init"
	PhaseInvoke Phase = "invoke"
)

// Status is how a phase or an invocation ended. Failure and error carry an
// errorType beside them.
type Status string

const (
	StatusSuccess Status = "success"
	StatusFailure Status = "failure"
	StatusError   Status = "error"
	StatusTimeout Status = "timeout"
)

// TraceContext is the trace an event belongs to.
type TraceContext struct {
	SpanID string `json:"spanId,omitempty"`
	// Type is always "X-Amzn-Trace-Id".
	Type  string `json:"type"`
	Value string `json:"value"`
}

// XRay returns the trace context of an X-Amzn-Trace-Id header value, or nil
// for an empty one, so that records without tracing leave it out.
func XRay(value, spanID string) *TraceContext {
	if value == "" {
		return nil
	}
	return &TraceContext{SpanID: spanID, Type: "X-Amzn-Trace-Id", Value: value}
}

// Span is a timed part of a phase, such as responseLatency and
// responseDuration in platform.runtimeDone.
type Span struct {
	Name       string
	Start      time.Time
	DurationMs float64
}

// MarshalJSON writes the span with its start in the events' time format.
func (s Span) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name       string  `json:"name"`
		Start      string  `json:"start"`
		DurationMs float64 `json:"durationMs"`
	}{s.Name, s.Start.UTC().Format(timeFormat), s.DurationMs})
}

// Millis is a duration in milliseconds, to the microsecond, as the records'
// durationMs fields carry it.
func Millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// InitStart is the record of platform.initStart.
type InitStart struct {
	InitializationType InitType      `json:"initializationType"`
	Phase              Phase         `json:"phase"`
	RuntimeVersion     string        `json:"runtimeVersion,omitempty"`
	RuntimeVersionArn  string        `json:"runtimeVersionArn,omitempty"`
	FunctionName       string        `json:"functionName"`
	FunctionVersion    string        `json:"functionVersion"`
	InstanceID         string        `json:"instanceId,omitempty"`
	InstanceMaxMemory  int           `json:"instanceMaxMemory,omitempty"`
	Tracing            *TraceContext `json:"tracing,omitempty"`
}

// InitRuntimeDone is the record of platform.initRuntimeDone.
type InitRuntimeDone struct {
	InitializationType InitType      `json:"initializationType"`
	Phase              Phase         `json:"phase"`
	Status             Status        `json:"status"`
	ErrorType          string        `json:"errorType,omitempty"`
	Spans              []Span        `json:"spans,omitempty"`
	Tracing            *TraceContext `json:"tracing,omitempty"`
}

// InitReport is the record of platform.initReport.
type InitReport struct {
	InitializationType InitType          `json:"initializationType"`
	Phase              Phase             `json:"phase"`
	Status             Status            `json:"status,omitempty"`
	ErrorType          string            `json:"errorType,omitempty"`
	Metrics            InitReportMetrics `json:"metrics"`
	Spans              []Span            `json:"spans,omitempty"`
	Tracing            *TraceContext     `json:"tracing,omitempty"`
}

// InitReportMetrics are the metrics of platform.initReport.
type InitReportMetrics struct {
	DurationMs float64 `json:"durationMs"`
}

// Start is the record of platform.start.
type Start struct {
	RequestID string        `json:"requestId"`
	Version   string        `json:"version,omitempty"`
	TenantID  string        `json:"tenantId,omitempty"`
	Tracing   *TraceContext `json:"tracing,omitempty"`
}

// RuntimeDone is the record of platform.runtimeDone.
type RuntimeDone struct {
	RequestID string              `json:"requestId"`
	Status    Status              `json:"status"`
	ErrorType string              `json:"errorType,omitempty"`
	Metrics   *RuntimeDoneMetrics `json:"metrics,omitempty"`
	Spans     []Span              `json:"spans,omitempty"`
	Tracing   *TraceContext       `json:"tracing,omitempty"`
}

// RuntimeDoneMetrics are the metrics of platform.runtimeDone.
type RuntimeDoneMetrics struct {
	DurationMs    float64 `json:"durationMs"`
	ProducedBytes int64   `json:"producedBytes"`
}

// Report is the record of platform.report.
type Report struct {
	RequestID string        `json:"requestId"`
	Status    Status        `json:"status"`
	ErrorType string        `json:"errorType,omitempty"`
	Metrics   ReportMetrics `json:"metrics"`
	Spans     []Span        `json:"spans,omitempty"`
	Tracing   *TraceContext `json:"tracing,omitempty"`
}

// ReportMetrics are the metrics of platform.report. InitDurationMs is set
// on an environment's first invocation only, as in the REPORT line.
type ReportMetrics struct {
	DurationMs              float64 `json:"durationMs"`
	BilledDurationMs        int64   `json:"billedDurationMs"`
	MemorySizeMB            int     `json:"memorySizeMB"`
	MaxMemoryUsedMB         int     `json:"maxMemoryUsedMB"`
	InitDurationMs          float64 `json:"initDurationMs,omitempty"`
	RestoreDurationMs       float64 `json:"restoreDurationMs,omitempty"`
	BilledRestoreDurationMs int64   `json:"billedRestoreDurationMs,omitempty"`
}

// Extension is the record of platform.extension.
type Extension struct {
	Name      string   `json:"name"`
	State     string   `json:"state"`
	Events    []string `json:"events"`
	ErrorType string   `json:"errorType,omitempty"`
}

// LogsDropped is the record of platform.logsDropped.
type LogsDropped struct {
	Reason         string `json:"reason"`
	DroppedRecords int    `json:"droppedRecords"`
	DroppedBytes   int    `json:"droppedBytes"`
}

// InitStart emits platform.initStart (Telemetry API only).
func (h *Hub) InitStart(r InitStart) { h.emit("platform.initStart", toTelemetry, r) }

// InitRuntimeDone emits platform.initRuntimeDone (Telemetry API only).
func (h *Hub) InitRuntimeDone(r InitRuntimeDone) {
	h.emit("platform.initRuntimeDone", toTelemetry, r)
}

// InitReport emits platform.initReport (Telemetry API only).
func (h *Hub) InitReport(r InitReport) { h.emit("platform.initReport", toTelemetry, r) }

// Start emits platform.start: the whole record to the Telemetry API,
// requestId and version to the Logs API.
func (h *Hub) Start(r Start) {
	h.emit("platform.start", toTelemetry, r)
	h.emit("platform.start", toLogs, struct {
		RequestID string `json:"requestId"`
		Version   string `json:"version,omitempty"`
	}{r.RequestID, r.Version})
}

// RuntimeDone emits platform.runtimeDone: the whole record to the Telemetry
// API, requestId and status to Logs API subscribers of schema 2021-03-18.
func (h *Hub) RuntimeDone(r RuntimeDone) {
	h.emit("platform.runtimeDone", toTelemetry, r)
	h.emit("platform.runtimeDone", toLogsRuntimeDone, struct {
		RequestID string `json:"requestId"`
		Status    Status `json:"status"`
	}{r.RequestID, r.Status})
}

// Report emits platform.report. The Logs API has no status, spans or
// tracing in it, and receives platform.end just before it, as Lambda
// writes END before REPORT.
func (h *Hub) Report(r Report) {
	h.emit("platform.report", toTelemetry, r)
	h.emit("platform.end", toLogs, struct {
		RequestID string `json:"requestId"`
	}{r.RequestID})
	h.emit("platform.report", toLogs, struct {
		RequestID string        `json:"requestId"`
		Metrics   ReportMetrics `json:"metrics"`
	}{r.RequestID, r.Metrics})
}

// Extension emits platform.extension, for an extension that registered
// (state "Ready") or failed.
func (h *Hub) Extension(r Extension) { h.emit("platform.extension", toBoth, r) }

// Fault emits platform.fault (Logs API only), a runtime or environment
// error such as "RequestId: ... Process exited before completing request".
func (h *Hub) Fault(message string) { h.emit("platform.fault", toLogs, message) }

// ExtensionLine is the line Lambda writes to the function's log when an
// extension registers, such as
// "EXTENSION\tName: collector\tState: Ready\tEvents: [INVOKE,SHUTDOWN]".
func ExtensionLine(r Extension) string {
	return fmt.Sprintf("EXTENSION\tName: %s\tState: %s\tEvents: [%s]", r.Name, r.State, strings.Join(r.Events, ","))
}
