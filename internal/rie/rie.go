// Package rie owns the invoke endpoint of AWS's runtime interface emulator,
// POST /2015-03-31/functions/function/invocations, served with Lambda's
// behaviour where the emulator's differs: concurrent invocations, function
// errors flagged with X-Amz-Function-Error, a request id on every answer,
// Lambda's payload limits and error shapes, Event and DryRun invocations.
package rie

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/emberfn/ember/internal/api"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
)

// Invoker runs invocations; *envpool.Pool is one.
type Invoker interface {
	Invoke(ctx context.Context, req invocation.Request) (invocation.Response, <-chan invocation.Report, error)
}

// Handler serves the emulator's endpoint for one function.
type Handler struct {
	fn      function.Config
	invoker Invoker
	log     *slog.Logger
	mux     *http.ServeMux
	// async tracks Event invocations still running.
	async sync.WaitGroup
}

// New returns the handler for fn, whose invocations invoker runs.
func New(fn function.Config, invoker Invoker, log *slog.Logger) *Handler {
	h := &Handler{fn: fn, invoker: invoker, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", h.invoke)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-RequestId", invocation.NewRequestID())
		api.WriteError(w, invocation.Errorf(invocation.ErrNotFound, "%s %s: no such resource; invoke with POST /2015-03-31/functions/function/invocations", r.Method, r.URL.Path))
	})
	return h
}

// Wait waits for the Event invocations that were accepted to end.
func (h *Handler) Wait() { h.async.Wait() }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.Error("invoke handler panicked", "panic", v)
			api.WriteError(w, fmt.Errorf("panic: %v", v))
		}
	}()
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) invoke(w http.ResponseWriter, r *http.Request) {
	req := invocation.Request{ID: invocation.NewRequestID(), InvokedARN: h.fn.ARN()}
	w.Header().Set("X-Amzn-RequestId", req.ID)

	invType := r.Header.Get("X-Amz-Invocation-Type")
	limit := int64(invocation.MaxSyncRequest)
	switch invType {
	case "", "RequestResponse":
	case "Event":
		limit = invocation.MaxAsyncRequest
	case "DryRun":
	default:
		api.WriteError(w, invocation.Errorf(invocation.ErrInvalid,
			"1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", invType))
		return
	}
	payload, err := readPayload(r, limit)
	if err != nil {
		api.WriteError(w, err)
		return
	}
	req.Payload = payload
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		decoded, err := base64.StdEncoding.DecodeString(cc)
		if err != nil || !json.Valid(decoded) {
			api.WriteError(w, invocation.Errorf(invocation.ErrInvalidContent, "Client context must be a valid Base64-encoded JSON object."))
			return
		}
		req.ClientContext = string(decoded)
	}
	req.TraceID = r.Header.Get("X-Amzn-Trace-Id")
	if req.TraceID == "" {
		req.TraceID = newTraceID(time.Now())
	}
	req.WantLog = r.Header.Get("X-Amz-Log-Type") == "Tail" && invType != "Event"

	switch invType {
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	case "Event":
		h.async.Add(1)
		go func() {
			defer h.async.Done()
			h.runEvent(req)
		}()
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return
	}

	resp, reports, err := h.invoker.Invoke(r.Context(), req)
	if err != nil {
		api.WriteError(w, err)
		return
	}
	hdr := w.Header()
	hdr.Set("X-Amz-Executed-Version", h.fn.Version)
	if resp.Stream != nil {
		h.relay(w, resp)
		return
	}
	if req.WantLog {
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

// runEvent runs an Event invocation, which nobody waits for. It queues
// for an environment as long as the function's timeout allows.
func (h *Handler) runEvent(req invocation.Request) {
	ctx, cancel := context.WithTimeout(context.Background(), h.fn.WithDefaults().Timeout)
	defer cancel()
	resp, reports, err := h.invoker.Invoke(ctx, req)
	if err != nil {
		h.log.Warn("event invocation not run", "request_id", req.ID, "err", err)
		return
	}
	if resp.Stream != nil {
		io.Copy(io.Discard, resp.Stream)
		resp.Stream.Close()
	}
	<-reports
}

// relay copies a streamed response to the caller as it comes, and an error
// the runtime reports mid-stream as HTTP trailers.
func (h *Handler) relay(w http.ResponseWriter, resp invocation.Response) {
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

// newTraceID returns an X-Ray trace header for an untraced request.
func newTraceID(now time.Time) string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("read random bytes: %v", err))
	}
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", now.Unix(), hex.EncodeToString(b[:12]), hex.EncodeToString(b[12:]))
}
