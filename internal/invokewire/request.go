// Package invokewire owns the wire of Lambda's Invoke operation, shared by
// ember's Lambda API and its runtime interface emulator: reading an Invoke
// request (payload limits, X-Amz-Invocation-Type, X-Amz-Log-Type,
// X-Amz-Client-Context), writing its answer (X-Amz-Function-Error,
// X-Amz-Log-Result, X-Amz-Executed-Version, X-Amzn-RequestId) and AWS's
// error shapes, the one place where ember's error classes become them. It
// knows nothing of the store or of signatures.
package invokewire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/emberfn/ember/internal/invocation"
)

// Invocation types of X-Amz-Invocation-Type.
const (
	RequestResponse = "RequestResponse"
	Event           = "Event"
	DryRun          = "DryRun"
)

// RequestIDHeader carries the request id of every answer.
const RequestIDHeader = "X-Amzn-RequestId"

// SetRequestID gives an answer a new request id and returns it.
func SetRequestID(w http.ResponseWriter) string {
	id := invocation.NewRequestID()
	w.Header().Set(RequestIDHeader, id)
	return id
}

// Call is an Invoke request as the wire carries it.
type Call struct {
	// Type is RequestResponse, Event or DryRun.
	Type    string
	Request invocation.Request
}

// ReadRequest reads an Invoke request whose body is still unread: its
// invocation type, payload (JSON, within the type's limit), client
// context, trace id and log type.
func ReadRequest(r *http.Request, id string) (Call, error) {
	typ, limit, err := invocationType(r.Header)
	if err != nil {
		return Call{Type: typ}, err
	}
	body, err := ReadBody(r, limit, "InvokeFunction")
	if err != nil {
		return Call{Type: typ}, err
	}
	return decode(r.Header, typ, body, id)
}

// DecodeRequest reads an Invoke request whose body was read already, with
// ReadBody within MaxSyncRequest: the body becomes the payload as it is.
func DecodeRequest(h http.Header, body []byte, id string) (Call, error) {
	typ, limit, err := invocationType(h)
	if err != nil {
		return Call{Type: typ}, err
	}
	if int64(len(body)) > limit {
		return Call{Type: typ}, tooLarge(limit, "InvokeFunction")
	}
	return decode(h, typ, body, id)
}

// ReadBody reads a request body of at most limit bytes; operation names
// the API operation in the error of a body too large.
func ReadBody(r *http.Request, limit int64, operation string) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit, operation)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + 1)
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, invocation.Errorf(invocation.ErrInvalidContent, "Could not read request body: %v", err)
	}
	if n > limit {
		return nil, tooLarge(limit, operation)
	}
	return buf.Bytes(), nil
}

func tooLarge(limit int64, operation string) error {
	return invocation.Errorf(invocation.ErrTooLarge, "Request must be smaller than %d bytes for the %s operation", limit, operation)
}

// invocationType reads X-Amz-Invocation-Type and the payload limit of its
// type.
func invocationType(h http.Header) (string, int64, error) {
	switch typ := h.Get("X-Amz-Invocation-Type"); typ {
	case "":
		return RequestResponse, invocation.MaxSyncRequest, nil
	case RequestResponse, DryRun:
		return typ, invocation.MaxSyncRequest, nil
	case Event:
		return typ, invocation.MaxAsyncRequest, nil
	default:
		return typ, 0, invocation.Errorf(invocation.ErrInvalid,
			"1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", typ)
	}
}

// decode makes the call of a body within its type's limit and the
// request's headers.
func decode(h http.Header, typ string, body []byte, id string) (Call, error) {
	call := Call{Type: typ, Request: invocation.Request{ID: id}}
	payload, err := payload(body)
	if err != nil {
		return call, err
	}
	req := &call.Request
	req.Payload = payload
	if cc := h.Get("X-Amz-Client-Context"); cc != "" {
		decoded, err := base64.StdEncoding.DecodeString(cc)
		if err != nil || !json.Valid(decoded) {
			return call, invocation.Errorf(invocation.ErrInvalidContent, "Client context must be a valid Base64-encoded JSON object.")
		}
		req.ClientContext = string(decoded)
	}
	req.TraceID = h.Get("X-Amzn-Trace-Id")
	if req.TraceID == "" {
		req.TraceID = invocation.NewTraceID(time.Now())
	}
	switch lt := h.Get("X-Amz-Log-Type"); lt {
	case "", "None":
	case "Tail":
		req.WantLog = call.Type == RequestResponse
	default:
		return call, invocation.Errorf(invocation.ErrInvalid,
			"1 validation error detected: Value '%s' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]", lt)
	}
	return call, nil
}

// payload checks that an invoke body is JSON; an empty body is the empty
// object, as Lambda passes it.
func payload(body []byte) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return []byte("{}"), nil
	}
	if !json.Valid(body) {
		var v any
		detail := "invalid JSON"
		if err := json.Unmarshal(body, &v); err != nil {
			detail = err.Error()
		}
		return nil, invocation.Errorf(invocation.ErrInvalidContent,
			"Could not parse request body into json: Could not parse payload into json: %s", detail)
	}
	return body, nil
}
