// Package invocation owns the values that travel with one invocation: the
// request handed to a runtime, the response handed back to the caller, the
// report that closes it, and the error classes that the edges translate
// into AWS error shapes. It imports nothing else of ember's.
package invocation

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Payload limits, in bytes, as Lambda enforces them.
const (
	MaxSyncRequest         = 6 * 1024 * 1024      // 6291456: a RequestResponse invoke body
	MaxAsyncRequest        = 1024 * 1024          // an Event invoke body
	MaxSyncResponse        = MaxSyncRequest + 100 // 6291556: a buffered response
	MaxStreamedBytes       = 200 * 1024 * 1024    // a streamed response
	MaxErrorBody           = MaxSyncResponse      // an error posted by the runtime
	MaxLogTail             = 4 * 1024             // X-Amz-Log-Result
	ContentTypeJSON        = "application/json"
	FunctionErrorUnhandled = "Unhandled"
)

// Request is one invocation as the runtime receives it.
type Request struct {
	ID              string
	Payload         []byte
	ContentType     string // empty means application/json
	InvokedARN      string
	TraceID         string
	ClientContext   string // JSON, already decoded from the caller's base64
	CognitoIdentity string // JSON
	TenantID        string
	// Deadline is set by the environment: the time the invocation was
	// received plus the function timeout.
	Deadline time.Time
	// WantLog asks for the invocation's log lines in Report.LogTail.
	WantLog bool
	// Streaming is set when the caller takes the response as a stream
	// (InvokeWithResponseStream): a chunked response is then relayed as
	// it comes, whether or not the runtime named the streaming mode.
	Streaming bool
}

// Response is what the caller gets back. A function error is a response,
// not a Go error: Lambda answers it with HTTP 200 and X-Amz-Function-Error.
type Response struct {
	Payload     []byte
	ContentType string
	// FunctionError is "Unhandled" when Payload is an error body.
	FunctionError string
	// ErrorType is the error's type (for REPORT and metrics) when
	// FunctionError is set.
	ErrorType string
	// Stream is set instead of Payload when the runtime streams its
	// response. The caller must read it to the end or close it.
	Stream Stream
}

// Stream is a response that the runtime is still writing.
type Stream interface {
	io.ReadCloser
	// Err is the error the runtime reported in its trailers, valid after
	// Read returned io.EOF; nil when the stream completed.
	Err() *FunctionError
}

// FunctionError is an error reported by or about a function.
type FunctionError struct {
	Type string `json:"errorType"`
	Body []byte `json:"-"`
}

// ErrorBody is Lambda's JSON shape of a function error.
type ErrorBody struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// ErrorResponse builds the response Lambda gives for a platform error of
// the given type, e.g. Sandbox.Timedout.
func ErrorResponse(errorType, message string) Response {
	body, err := json.Marshal(ErrorBody{ErrorMessage: message, ErrorType: errorType})
	if err != nil {
		// Marshalling two strings cannot fail.
		panic(fmt.Sprintf("marshal error body: %v", err))
	}
	return Response{
		Payload:       body,
		ContentType:   ContentTypeJSON,
		FunctionError: FunctionErrorUnhandled,
		ErrorType:     errorType,
	}
}

// Status is how an invocation ended, as REPORT and telemetry name it.
type Status string

const (
	StatusSuccess Status = "success"
	StatusError   Status = "error"
	StatusTimeout Status = "timeout"
)

// Report holds the figures of one finished invocation, as REPORT gives them.
type Report struct {
	RequestID      string
	Version        string
	Duration       time.Duration
	BilledDuration time.Duration
	MemorySizeMB   int
	MaxMemoryUsed  int64         // bytes
	InitDuration   time.Duration // zero on a warm start
	Status         Status
	ErrorType      string // set for platform failures (timeout, exit, OOM)
	// FunctionError and FunctionErrorType are those of the answer the
	// caller got: the function's error or the platform's, empty on success.
	FunctionError     string
	FunctionErrorType string
	// LimitsEnforced is false when the environment runs without a sandbox.
	LimitsEnforced bool
	// LogTail holds the last MaxLogTail bytes of the invocation's log
	// lines when the request asked for them.
	LogTail []byte
}

// NewRequestID returns a random UUID (version 4) as Lambda's request ids are.
func NewRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("read random bytes: %v", err)) // crypto/rand never fails on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// NewTraceID returns an X-Ray trace header for an untraced request.
func NewTraceID(now time.Time) string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("read random bytes: %v", err)) // crypto/rand never fails on Linux
	}
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", now.Unix(), hex.EncodeToString(b[:12]), hex.EncodeToString(b[12:]))
}
