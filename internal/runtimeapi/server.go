// Package runtimeapi owns the Runtime API (2018-06-01) that the runtime
// inside one execution environment calls: /next, /response (buffered and
// streamed), /error and /init/error, with one explicit state machine per
// environment. On the same listener it serves the Extensions API
// (2020-01-01) to the environment's extensions, and hands the Telemetry
// (2022-07-01) and Logs (2020-08-15) subscriptions to a Telemetry. The
// environment drives it through AwaitInit, Invoke, AfterNext, Shutdown and
// Reset; the runtime and the extensions drive it over HTTP.
package runtimeapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/emberfn/ember/internal/invocation"
)

// ErrClosed is returned to the environment once the server is closed.
var ErrClosed = errors.New("runtime api closed")

// InitError is the error a runtime reported through /runtime/init/error.
type InitError struct {
	Type string
	Body []byte
}

func (e *InitError) Error() string { return "runtime init error: " + e.Type }

// Server is the Runtime API of one execution environment.
type Server struct {
	log  *slog.Logger
	http *http.Server

	mu sync.Mutex
	// state is the protocol state; change it only with transitionLocked.
	state State
	// initDone is closed when the runtime leaves StateInit.
	initDone chan struct{}
	initErr  *InitError
	// waiter is the /next call that waits for an event, if any.
	waiter chan *invocation.Request
	// cur is the invocation in flight or last answered.
	cur *call
	// ext is the Extensions API's state; see extensions.go.
	ext extensions
	// everything below is closed by Close.
	closed chan struct{}
}

// call is one invocation as the server tracks it.
type call struct {
	req *invocation.Request
	// pending is true until a /next call has taken the event.
	pending bool
	// answer receives the runtime's answer once.
	answer chan invocation.Response
	// next is closed when the runtime asks for its next event.
	next chan struct{}
	// asked is set, and afterNext taken, when the runtime asks for its
	// next event.
	asked     bool
	afterNext func()
	// oversized is set when the response was refused as too large.
	oversized bool
}

// New returns a server in StateInit. It serves nothing until Serve.
func New(log *slog.Logger) *Server {
	s := &Server{
		log:      log,
		state:    StateInit,
		initDone: make(chan struct{}),
		closed:   make(chan struct{}),
	}
	s.resetExtensionsLocked()
	s.http = &http.Server{Handler: s.Handler(), ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	return s
}

// Handler returns the HTTP handler of the Runtime API.
func (s *Server) Handler() http.Handler { return s }

// The Runtime API's paths.
const (
	pathNext       = "/2018-06-01/runtime/invocation/next"
	pathInvocation = "/2018-06-01/runtime/invocation/"
	pathInitError  = "/2018-06-01/runtime/init/error"
)

// ServeHTTP routes a request of the runtime. It is a plain switch rather
// than a ServeMux: every environment has a server of its own, and the
// routes are few. A panic in a handler becomes a 500, so that no runtime
// can bring ember down.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("runtime api handler panicked", "path", r.URL.Path, "panic", v)
			writeError(w, http.StatusInternalServerError, "InternalServerError", "internal error")
		}
	}()
	p := r.URL.Path
	if !cleanPath(p) {
		// Not in its clean form (an empty request id, "..", doubled
		// slashes): the API's JSON 404, where ServeMux would redirect.
		writeError(w, http.StatusNotFound, "InvalidRequest", fmt.Sprintf("%s %q is not part of the Runtime API", r.Method, p))
		return
	}
	if s.serveExtensions(w, r) {
		return
	}
	switch {
	case p == pathNext && r.Method == http.MethodGet:
		s.handleNext(w, r)
		return
	case p == pathNext && r.Method == http.MethodHead:
		writeError(w, http.StatusMethodNotAllowed, "InvalidRequest", "HEAD is not allowed: ask for the next event with GET")
		return
	case p == pathInitError && r.Method == http.MethodPost:
		s.handleInitError(w, r)
		return
	case strings.HasPrefix(p, pathInvocation) && r.Method == http.MethodPost:
		id, what, _ := strings.Cut(p[len(pathInvocation):], "/")
		if id != "" && (what == "response" || what == "error") {
			r.SetPathValue("id", id)
			if what == "response" {
				s.handleResponse(w, r)
			} else {
				s.handleError(w, r)
			}
			return
		}
	}
	writeError(w, http.StatusNotFound, "InvalidRequest", fmt.Sprintf("%s %s is not part of the Runtime API", r.Method, p))
}

// cleanPath reports whether p is in its clean form.
func cleanPath(p string) bool {
	if p == "" {
		return false
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean == p
}

// Serve serves the Runtime API on l until Close.
func (s *Server) Serve(l net.Listener) error {
	err := s.http.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close fails every pending call and stops serving.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.state != StateClosed {
		s.transitionLocked(StateClosed)
		close(s.closed)
	}
	s.mu.Unlock()
	return s.http.Close()
}

// State returns the current protocol state.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// transitionLocked moves to state to, or says why it may not.
func (s *Server) transitionLocked(to State) error {
	if !s.state.canMoveTo(to) {
		return &transitionError{from: s.state, to: to}
	}
	if s.state == StateInit && to != StateInit {
		close(s.initDone)
	}
	if to == StateInit && s.state != StateInit {
		s.initDone = make(chan struct{})
		s.initErr = nil
	}
	s.state = to
	return nil
}

// Reset returns the server to StateInit for a new runtime process of the
// same environment. Whatever the old runtime left pending is dropped.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == StateClosed {
		return
	}
	if s.waiter != nil {
		close(s.waiter)
		s.waiter = nil
	}
	s.cur = nil
	s.resetExtensionsLocked()
	s.transitionLocked(StateInit)
}

// AwaitInit waits until the runtime asks for its first event and every
// extension has registered and asked for its own. It returns an
// *InitError when the runtime reported one, an *ExtensionError when an
// extension failed, or ctx's error.
func (s *Server) AwaitInit(ctx context.Context) error {
	s.mu.Lock()
	done, extFailed := s.initDone, s.ext.failed
	s.mu.Unlock()
	select {
	case <-done:
	case <-extFailed:
		return s.ExtensionFailure()
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	s.mu.Lock()
	initErr, closed := s.initErr, s.state == StateClosed
	s.mu.Unlock()
	switch {
	case initErr != nil:
		return initErr
	case closed:
		return ErrClosed
	}
	return s.awaitExtensions(ctx)
}

// Invoke hands req to the runtime and waits for its answer: a buffered
// response, the start of a streamed one, or an error it posted. It may be
// called only after AwaitInit succeeded and, for later invocations, after
// AwaitNext returned.
func (s *Server) Invoke(ctx context.Context, req *invocation.Request) (invocation.Response, error) {
	c := &call{req: req, answer: make(chan invocation.Response, 1), next: make(chan struct{})}
	s.mu.Lock()
	if s.state == StateClosed {
		s.mu.Unlock()
		return invocation.Response{}, ErrClosed
	}
	if err := s.transitionLocked(StateInvoking); err != nil {
		s.mu.Unlock()
		return invocation.Response{}, fmt.Errorf("invoke %s: %w", req.ID, err)
	}
	s.cur = c
	s.dispatchInvokeLocked(req)
	if s.waiter != nil {
		s.waiter <- req
		s.waiter = nil
	} else {
		c.pending = true
	}
	s.mu.Unlock()

	select {
	case resp := <-c.answer:
		return resp, nil
	case <-ctx.Done():
		return invocation.Response{}, context.Cause(ctx)
	case <-s.closed:
		return invocation.Response{}, ErrClosed
	}
}

// AfterNext arranges for f to be called once the runtime, having answered
// the current invocation, asks for its next event, and every extension
// sent the invocation's INVOKE has asked for its own: the end of the
// invocation. f is a return path: it runs on the goroutine that serves the
// last of those calls (the runtime's /next or an extension's), after the server is ready to hand that call an event and
// before it waits for one, so it must not wait for the next invocation.
// asked is true, and f is not kept, when they all have asked already: the
// caller goes on itself. Once the server is closed or reset, f is never
// called.
func (s *Server) AfterNext(f func()) (asked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cur
	switch {
	case c == nil || s.state == StateClosed:
		return false
	case c.asked && s.extensionsIdleLocked():
		return true
	}
	c.afterNext = f
	return false
}

// AwaitNext waits until the runtime, having answered the current
// invocation, asks for its next event: the end of the invocation. It is
// AfterNext for a caller that can block a goroutine on it.
func (s *Server) AwaitNext(ctx context.Context) error {
	s.mu.Lock()
	c, state := s.cur, s.state
	s.mu.Unlock()
	if state == StateClosed {
		return ErrClosed
	}
	if c == nil {
		return errors.New("await next: no invocation")
	}
	select {
	case <-c.next:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-s.closed:
		return ErrClosed
	}
}
