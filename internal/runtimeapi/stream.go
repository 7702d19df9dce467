package runtimeapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/emberfn/ember/internal/invocation"
)

var errStreamClosed = errors.New("stream closed by its reader")

// stream is a response the runtime streams with chunked encoding. The
// environment's caller reads it; the /response handler waits on done.
type stream struct {
	body io.Reader
	req  *http.Request
	done chan struct{}

	mu      sync.Mutex
	n       int64
	ended   bool
	readErr error
	fnErr   *invocation.FunctionError
}

var _ invocation.Stream = (*stream)(nil)

func newStream(r *http.Request) *stream {
	return &stream{body: r.Body, req: r, done: make(chan struct{})}
}

func (s *stream) Read(p []byte) (int, error) {
	s.mu.Lock()
	if s.ended {
		err := s.readErr
		s.mu.Unlock()
		if err == nil || errors.Is(err, errStreamClosed) {
			return 0, io.EOF
		}
		return 0, err
	}
	s.mu.Unlock()
	n, err := s.body.Read(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n += int64(n)
	if s.n > invocation.MaxStreamedBytes {
		s.fnErr = &invocation.FunctionError{Type: "Function.ResponseSizeTooLarge",
			Body: invocation.ErrorResponse("Function.ResponseSizeTooLarge",
				fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", invocation.MaxStreamedBytes)).Payload}
		s.endLocked(nil)
		return n, io.EOF
	}
	if err == io.EOF {
		s.fnErr = trailerError(s.req.Trailer)
		s.endLocked(nil)
		return n, io.EOF
	}
	if err != nil {
		s.fnErr = &invocation.FunctionError{Type: "Runtime.TruncatedResponse",
			Body: invocation.ErrorResponse("Runtime.TruncatedResponse", fmt.Sprintf("read streamed response: %v", err)).Payload}
		s.endLocked(err)
		return n, err
	}
	return n, nil
}

// Close ends the stream early; the runtime's request is then answered.
func (s *stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(errStreamClosed)
	return nil
}

func (s *stream) endLocked(err error) {
	if s.ended {
		return
	}
	s.ended = true
	s.readErr = err
	close(s.done)
}

// Err is the error the runtime sent in its trailers, or a truncation.
func (s *stream) Err() *invocation.FunctionError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fnErr
}

// chunked reports a request body sent in chunks: a runtime that streams
// without the streaming mode header, as aws-lambda-go's function URL
// handlers do, still sends its response so.
func chunked(r *http.Request) bool {
	return len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked"
}

// trailerError reads the error trailers a streaming runtime sends after a
// failure mid-stream.
func trailerError(t http.Header) *invocation.FunctionError {
	typ := t.Get(hdrErrorType)
	if typ == "" {
		return nil
	}
	body, err := base64.StdEncoding.DecodeString(t.Get(hdrErrorBody))
	if err != nil {
		body = nil
	}
	fe := errorFromBody(typ, "", body)
	return &fe
}
