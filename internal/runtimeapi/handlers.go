package runtimeapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/emberfn/ember/internal/invocation"
)

// Header names of the Runtime API.
const (
	hdrRequestID       = "Lambda-Runtime-Aws-Request-Id"
	hdrDeadline        = "Lambda-Runtime-Deadline-Ms"
	hdrFunctionARN     = "Lambda-Runtime-Invoked-Function-Arn"
	hdrTraceID         = "Lambda-Runtime-Trace-Id"
	hdrClientContext   = "Lambda-Runtime-Client-Context"
	hdrCognitoIdentity = "Lambda-Runtime-Cognito-Identity"
	hdrTenantID        = "Lambda-Runtime-Aws-Tenant-Id"
	hdrErrorType       = "Lambda-Runtime-Function-Error-Type"
	hdrErrorBody       = "Lambda-Runtime-Function-Error-Body"
	hdrResponseMode    = "Lambda-Runtime-Function-Response-Mode"
	errorCauseType     = "application/vnd.aws.lambda.error.cause+json"
)

// handleNext serves GET /runtime/invocation/next: it ends the init phase or
// the current invocation, then waits for the next event.
func (s *Server) handleNext(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var afterNext func()
	switch s.state {
	case StateInit, StateAnswered:
		if s.state == StateAnswered {
			close(s.cur.next)
			s.cur.asked = true
			afterNext = s.endLocked()
		}
		s.transitionLocked(StateIdle)
	case StateIdle:
		if s.waiter != nil {
			s.mu.Unlock()
			writeStateError(w, &transitionError{from: StateIdle, to: StateIdle})
			return
		}
	case StateInvoking:
		if !s.cur.pending {
			s.mu.Unlock()
			writeStateError(w, &transitionError{from: StateInvoking, to: StateIdle})
			return
		}
	default:
		from := s.state
		s.mu.Unlock()
		writeStateError(w, &transitionError{from: from, to: StateIdle})
		return
	}
	if s.state == StateInvoking {
		// The event was handed over before this call arrived.
		s.cur.pending = false
		req := s.cur.req
		s.mu.Unlock()
		writeEvent(w, req)
		return
	}
	wait := make(chan *invocation.Request, 1)
	s.waiter = wait
	s.mu.Unlock()
	if afterNext != nil {
		// The invocation ends here; the next may be handed over at once.
		afterNext()
	}

	select {
	case req, ok := <-wait:
		if !ok {
			writeError(w, http.StatusInternalServerError, "InternalServerError", "The environment was reset")
			return
		}
		writeEvent(w, req)
	case <-r.Context().Done():
		s.mu.Lock()
		if s.waiter == wait {
			s.waiter = nil
		}
		s.mu.Unlock()
		// If the event reached wait just now, put it back for the next call.
		select {
		case req, ok := <-wait:
			if ok {
				s.mu.Lock()
				if s.cur != nil && s.cur.req == req {
					s.cur.pending = true
				}
				s.mu.Unlock()
			}
		default:
		}
	case <-s.closed:
		writeError(w, http.StatusInternalServerError, "InternalServerError", "The environment is shutting down")
	}
}

func writeEvent(w http.ResponseWriter, req *invocation.Request) {
	h := w.Header()
	h[hdrRequestID] = []string{req.ID}
	h[hdrDeadline] = []string{strconv.FormatInt(req.Deadline.UnixMilli(), 10)}
	setIfNotEmpty(h, hdrFunctionARN, req.InvokedARN)
	setIfNotEmpty(h, hdrTraceID, req.TraceID)
	setIfNotEmpty(h, hdrClientContext, req.ClientContext)
	setIfNotEmpty(h, hdrCognitoIdentity, req.CognitoIdentity)
	setIfNotEmpty(h, hdrTenantID, req.TenantID)
	ct := req.ContentType
	if ct == "" {
		ct = invocation.ContentTypeJSON
	}
	h["Content-Type"] = []string{ct}
	h["Content-Length"] = []string{strconv.Itoa(len(req.Payload))}
	w.WriteHeader(http.StatusOK)
	w.Write(req.Payload)
}

func setIfNotEmpty(h http.Header, k, v string) {
	if v != "" {
		h[k] = []string{v}
	}
}

// answerable checks that id names the invocation in flight. It returns the
// call, or writes the protocol's error and returns nil.
func (s *Server) answerableLocked(w http.ResponseWriter, id string, to State) *call {
	c := s.cur
	switch {
	case c != nil && c.req.ID == id && s.state == StateInvoking && !c.pending:
		return c
	case c != nil && c.req.ID == id && c.oversized:
		// After a 413 the invocation has failed; Lambda answers a
		// follow-up /error with 403.
		writeStateError(w, &transitionError{from: s.state, to: to})
	case c != nil && (s.state == StateInvoking || c.req.ID == id):
		// Another invocation is in flight, or this one was answered already.
		writeError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
	default:
		writeStateError(w, &transitionError{from: s.state, to: to})
	}
	return nil
}

// stillAnswerableLocked checks, after a body was read without the lock,
// that c is still the invocation in flight and unanswered: a reset or a
// concurrent answer may have come in between.
func (s *Server) stillAnswerableLocked(w http.ResponseWriter, id string, c *call) bool {
	got := s.answerableLocked(w, id, StateAnswered)
	if got == c {
		return true
	}
	if got != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
	}
	return false
}

// answerLocked records the runtime's answer to c and wakes the environment.
func (s *Server) answerLocked(c *call, resp invocation.Response) {
	s.transitionLocked(StateAnswered)
	c.answer <- resp
}

// handleResponse serves POST /runtime/invocation/{id}/response.
func (s *Server) handleResponse(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	mode := r.Header.Get(hdrResponseMode)
	if mode != "" && !strings.EqualFold(mode, "streaming") {
		writeError(w, http.StatusBadRequest, "InvalidFunctionResponseMode", fmt.Sprintf("Invalid function response mode %q", mode))
		return
	}
	s.mu.Lock()
	c := s.answerableLocked(w, id, StateAnswered)
	if c == nil {
		s.mu.Unlock()
		return
	}
	if mode != "" || (c.req.Streaming && chunked(r)) {
		s.streamLocked(w, r, c)
		return
	}
	s.mu.Unlock()

	body, tooLarge, err := readLimited(r, invocation.MaxSyncResponse)
	if err != nil {
		writeError(w, http.StatusBadRequest, "TruncatedHTTPRequest", fmt.Sprintf("read response body: %v", err))
		return
	}

	s.mu.Lock()
	if !s.stillAnswerableLocked(w, id, c) {
		s.mu.Unlock()
		return
	}
	if tooLarge {
		c.oversized = true
		s.answerLocked(c, invocation.ErrorResponse("Function.ResponseSizeTooLarge",
			fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", invocation.MaxSyncResponse)))
		s.mu.Unlock()
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", invocation.MaxSyncResponse))
		return
	}
	if fe := trailerError(r.Trailer); fe != nil {
		// A runtime that streamed without the streaming mode header (as
		// aws-lambda-go does for an io.Reader) failed mid-way.
		s.answerLocked(c, invocation.Response{Payload: fe.Body, ContentType: invocation.ContentTypeJSON,
			FunctionError: invocation.FunctionErrorUnhandled, ErrorType: fe.Type})
		s.mu.Unlock()
		writeAccepted(w)
		return
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = invocation.ContentTypeJSON
	}
	s.answerLocked(c, invocation.Response{Payload: body, ContentType: ct})
	s.mu.Unlock()
	writeAccepted(w)
}

// streamLocked hands a streamed response to the environment and relays the
// request body until the reader has taken all of it. It unlocks s.mu.
func (s *Server) streamLocked(w http.ResponseWriter, r *http.Request, c *call) {
	s.transitionLocked(StateStreaming)
	st := newStream(r)
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.answer <- invocation.Response{Stream: st, ContentType: ct}
	s.mu.Unlock()

	select {
	case <-st.done:
	case <-s.closed:
		st.Close()
		return
	}
	s.mu.Lock()
	if s.state == StateStreaming && s.cur == c {
		s.transitionLocked(StateAnswered)
	}
	s.mu.Unlock()
	if st.readErr != nil && !errors.Is(st.readErr, errStreamClosed) && st.fnErr == nil {
		writeError(w, http.StatusBadRequest, "TruncatedHTTPRequest", fmt.Sprintf("read streamed response: %v", st.readErr))
		return
	}
	writeAccepted(w)
}

// handleError serves POST /runtime/invocation/{id}/error.
func (s *Server) handleError(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	c := s.answerableLocked(w, id, StateAnswered)
	s.mu.Unlock()
	if c == nil {
		return
	}
	fe, err := readFunctionError(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidErrorBody", err.Error())
		return
	}
	s.mu.Lock()
	if !s.stillAnswerableLocked(w, id, c) {
		s.mu.Unlock()
		return
	}
	s.answerLocked(c, invocation.Response{
		Payload:       fe.Body,
		ContentType:   invocation.ContentTypeJSON,
		FunctionError: invocation.FunctionErrorUnhandled,
		ErrorType:     fe.Type,
	})
	s.mu.Unlock()
	writeAccepted(w)
}

// handleInitError serves POST /runtime/init/error.
func (s *Server) handleInitError(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.state != StateInit {
		from := s.state
		s.mu.Unlock()
		writeStateError(w, &transitionError{from: from, to: StateInitFailed})
		return
	}
	s.mu.Unlock()
	fe, err := readFunctionError(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidErrorBody", err.Error())
		return
	}
	s.mu.Lock()
	if err := s.transitionLocked(StateInitFailed); err != nil {
		s.mu.Unlock()
		writeStateError(w, err.(*transitionError))
		return
	}
	s.initErr = &InitError{Type: fe.Type, Body: fe.Body}
	s.mu.Unlock()
	writeAccepted(w)
}

// readFunctionError reads an error a runtime posted: its type from the
// header, its body as Lambda passes it to the caller.
func readFunctionError(r *http.Request) (invocation.FunctionError, error) {
	body, tooLarge, err := readLimited(r, invocation.MaxErrorBody)
	if err != nil {
		return invocation.FunctionError{}, fmt.Errorf("read error body: %w", err)
	}
	if tooLarge {
		body = nil
	}
	typ := r.Header.Get(hdrErrorType)
	return errorFromBody(typ, r.Header.Get("Content-Type"), body), nil
}

// errorFromBody shapes what a runtime reported as the error body the caller
// gets: the runtime's JSON object as it is (less the X-Ray errorCause), or
// Lambda's {errorMessage, errorType} when the body is not a JSON object.
func errorFromBody(typ, contentType string, body []byte) invocation.FunctionError {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) == nil && obj != nil {
		if typ == "" {
			var t string
			if json.Unmarshal(obj["errorType"], &t) == nil && t != "" {
				typ = t
			}
		}
		if strings.HasPrefix(contentType, errorCauseType) {
			if _, ok := obj["errorCause"]; ok {
				delete(obj, "errorCause")
				if b, err := marshalOrdered(obj); err == nil {
					body = b
				}
			}
		}
	} else {
		if typ == "" {
			typ = "Runtime.Unknown"
		}
		body = invocation.ErrorResponse(typ, string(bytes.TrimSpace(body))).Payload
	}
	if typ == "" {
		typ = "Runtime.Unknown"
	}
	return invocation.FunctionError{Type: typ, Body: body}
}

// marshalOrdered writes the error members Lambda puts first in their usual
// order, then the rest.
func marshalOrdered(obj map[string]json.RawMessage) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	put := func(k string, v json.RawMessage) error {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		kb, err := json.Marshal(k)
		if err != nil {
			return err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(v)
		return nil
	}
	for _, k := range []string{"errorMessage", "errorType", "stackTrace"} {
		if v, ok := obj[k]; ok {
			if err := put(k, v); err != nil {
				return nil, err
			}
			delete(obj, k)
		}
	}
	rest, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	if len(obj) > 0 {
		if !first {
			buf.WriteByte(',')
		}
		buf.Write(rest[1 : len(rest)-1])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// readLimited reads r's body up to limit bytes. tooLarge reports a body
// longer than limit, of which only a part was read.
func readLimited(r *http.Request, limit int64) (body []byte, tooLarge bool, err error) {
	if r.ContentLength > limit {
		return nil, true, nil
	}
	size := int64(512)
	if r.ContentLength > 0 {
		size = r.ContentLength + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, false, err
	}
	if n > limit {
		return nil, true, nil
	}
	return buf.Bytes(), false, nil
}

type errorBody struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	b, err := json.Marshal(errorBody{ErrorMessage: msg, ErrorType: typ})
	if err != nil {
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func writeStateError(w http.ResponseWriter, err *transitionError) {
	writeError(w, http.StatusForbidden, "InvalidStateTransition", err.Error())
}

var acceptedBody = []byte(`{"status":"OK"}` + "\n")

func writeAccepted(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(acceptedBody))}
	w.WriteHeader(http.StatusAccepted)
	w.Write(acceptedBody)
}
