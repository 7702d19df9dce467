package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/emberfn/ember/internal/invocation"
)

// Invocation types of X-Amz-Invocation-Type.
const (
	InvokeRequestResponse = "RequestResponse"
	InvokeEvent           = "Event"
	InvokeDryRun          = "DryRun"
)

// InvokeCall is an Invoke request as the wire carries it.
type InvokeCall struct {
	// Type is InvokeRequestResponse, InvokeEvent or InvokeDryRun.
	Type    string
	Request invocation.Request
}

// DecodeInvoke reads an Invoke request: its invocation type, payload
// (JSON, within the type's limit), client context, trace id and log type.
func DecodeInvoke(r *http.Request, id string) (InvokeCall, error) {
	call := InvokeCall{Type: r.Header.Get("X-Amz-Invocation-Type"), Request: invocation.Request{ID: id}}
	limit := int64(invocation.MaxSyncRequest)
	switch call.Type {
	case "":
		call.Type = InvokeRequestResponse
	case InvokeRequestResponse, InvokeDryRun:
	case InvokeEvent:
		limit = invocation.MaxAsyncRequest
	default:
		return call, invocation.Errorf(invocation.ErrInvalid,
			"1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", call.Type)
	}
	payload, err := readPayload(r, limit)
	if err != nil {
		return call, err
	}
	req := &call.Request
	req.Payload = payload
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		decoded, err := base64.StdEncoding.DecodeString(cc)
		if err != nil || !json.Valid(decoded) {
			return call, invocation.Errorf(invocation.ErrInvalidContent, "Client context must be a valid Base64-encoded JSON object.")
		}
		req.ClientContext = string(decoded)
	}
	req.TraceID = r.Header.Get("X-Amzn-Trace-Id")
	if req.TraceID == "" {
		req.TraceID = invocation.NewTraceID(time.Now())
	}
	switch lt := r.Header.Get("X-Amz-Log-Type"); lt {
	case "", "None":
	case "Tail":
		req.WantLog = call.Type == InvokeRequestResponse
	default:
		return call, invocation.Errorf(invocation.ErrInvalid,
			"1 validation error detected: Value '%s' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]", lt)
	}
	return call, nil
}

// WriteAccepted answers an Event invocation that was accepted.
func WriteAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}

// WriteInvokeResult answers a RequestResponse invocation: the payload or
// the function's error with X-Amz-Function-Error, the executed version,
// and with wantLog the log tail from the report; a streamed response is
// relayed as it comes.
func WriteInvokeResult(w http.ResponseWriter, resp invocation.Response, reports <-chan invocation.Report, wantLog bool, version string) {
	hdr := w.Header()
	hdr.Set("X-Amz-Executed-Version", version)
	if resp.Stream != nil {
		relay(w, resp)
		return
	}
	if wantLog {
		if rep, ok := <-reports; ok {
			hdr.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString(rep.LogTail))
		}
	}
	if resp.FunctionError != "" {
		hdr.Set("X-Amz-Function-Error", resp.FunctionError)
	}
	ct := resp.ContentType
	if ct == "" {
		ct = invocation.ContentTypeJSON
	}
	hdr.Set("Content-Type", ct)
	hdr.Set("Content-Length", strconv.Itoa(len(resp.Payload)))
	w.WriteHeader(http.StatusOK)
	w.Write(resp.Payload)
}

// relay copies a streamed response to the caller as it comes, and an error
// the runtime reports mid-stream as HTTP trailers.
func relay(w http.ResponseWriter, resp invocation.Response) {
	defer resp.Stream.Close()
	hdr := w.Header()
	hdr.Set("Content-Type", resp.ContentType)
	hdr.Set("Trailer", "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	buf := make([]byte, 32*1024)
	for {
		n, err := resp.Stream.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			rc.Flush()
		}
		if err != nil {
			break
		}
	}
	if fe := resp.Stream.Err(); fe != nil {
		hdr.Set("Lambda-Runtime-Function-Error-Type", fe.Type)
		hdr.Set("Lambda-Runtime-Function-Error-Body", base64.StdEncoding.EncodeToString(fe.Body))
	}
}

// readPayload reads an invoke body of at most limit bytes that must be
// JSON; an empty body is the empty object, as Lambda passes it.
func readPayload(r *http.Request, limit int64) ([]byte, error) {
	tooLarge := invocation.Errorf(invocation.ErrTooLarge,
		"Request must be smaller than %d bytes for the InvokeFunction operation", limit)
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	size := int64(512)
	if r.ContentLength > 0 {
		size = r.ContentLength + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, invocation.Errorf(invocation.ErrInvalidContent, "Could not read request body: %v", err)
	}
	if n > limit {
		return nil, tooLarge
	}
	body := buf.Bytes()
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
