package api

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/invokewire"
)

// invoke serves Invoke. Its body was read once, by ServeHTTP, and becomes
// the payload as it is.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request, body []byte) error {
	ref, err := s.ref(r)
	if err != nil {
		return err
	}
	call, err := invokewire.DecodeRequest(r.Header, body, w.Header().Get(invokewire.RequestIDHeader))
	if err != nil {
		return err
	}
	ctx := r.Context()
	switch call.Type {
	case invokewire.DryRun:
		if _, err := s.opts.Invoke.Resolve(ctx, ref.Name, ref.Qualifier); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	case invokewire.Event:
		if err := s.opts.Invoke.Enqueue(ctx, ref.Name, ref.Qualifier, call.Request); err != nil {
			return err
		}
		invokewire.WriteAccepted(w)
		return nil
	}
	resp, reports, target, err := s.opts.Invoke.Invoke(ctx, ref.Name, ref.Qualifier, call.Request)
	if err != nil {
		return err
	}
	invokewire.WriteResult(w, resp, reports, call.Request.WantLog, target.Version.Version, s.opts.StreamBandwidth)
	return nil
}

type concurrencyRequest struct {
	ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions"`
}

func (s *Server) putConcurrency(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req concurrencyRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return err
	}
	if req.ReservedConcurrentExecutions == nil {
		return missing("reservedConcurrentExecutions")
	}
	n := *req.ReservedConcurrentExecutions
	if err := s.ctl.PutConcurrency(r.Context(), ref.Name, n); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, concurrency{ReservedConcurrentExecutions: &n})
}

func (s *Server) deleteConcurrency(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return err
	}
	if err := s.ctl.DeleteConcurrency(r.Context(), ref.Name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getConcurrency(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return err
	}
	n, err := s.ctl.Concurrency(r.Context(), ref.Name)
	if err != nil {
		return err
	}
	if n == nil {
		return writeJSON(w, http.StatusOK, struct{}{})
	}
	return writeJSON(w, http.StatusOK, concurrency{ReservedConcurrentExecutions: n})
}

type accountSettings struct {
	AccountLimit struct {
		TotalCodeSize                  int64 `json:"TotalCodeSize"`
		CodeSizeUnzipped               int64 `json:"CodeSizeUnzipped"`
		CodeSizeZipped                 int64 `json:"CodeSizeZipped"`
		ConcurrentExecutions           int   `json:"ConcurrentExecutions"`
		UnreservedConcurrentExecutions int   `json:"UnreservedConcurrentExecutions"`
	} `json:"AccountLimit"`
	AccountUsage struct {
		TotalCodeSize int64 `json:"TotalCodeSize"`
		FunctionCount int64 `json:"FunctionCount"`
	} `json:"AccountUsage"`
}

func (s *Server) accountSettings(w http.ResponseWriter, r *http.Request, _ []byte) error {
	a, err := s.ctl.AccountSettings(r.Context())
	if err != nil {
		return err
	}
	var out accountSettings
	out.AccountLimit.TotalCodeSize = a.TotalCodeSize
	out.AccountLimit.CodeSizeUnzipped = a.CodeSizeUnzipped
	out.AccountLimit.CodeSizeZipped = a.CodeSizeZipped
	out.AccountLimit.ConcurrentExecutions = a.ConcurrentExecutions
	out.AccountLimit.UnreservedConcurrentExecutions = a.UnreservedConcurrentExecutions
	out.AccountUsage.TotalCodeSize = a.CodeStored
	out.AccountUsage.FunctionCount = a.FunctionCount
	return writeJSON(w, http.StatusOK, out)
}

// functionLogs serves ember's log endpoint: the function's log events as
// text lines "TIME<TAB>STREAM<TAB>MESSAGE", since a time, and with
// follow=true live until the client goes.
func (s *Server) functionLogs(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := s.ctl.FunctionExists(ctx, ref.Name); err != nil {
		return err
	}
	q := r.URL.Query()
	var since time.Time
	if v := q.Get("since"); v != "" {
		if since, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return invocation.Errorf(invocation.ErrInvalid, "since %q is not an RFC 3339 time", v)
		}
	}
	group := function.Config{Name: ref.Name}.LogGroup()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	line := func(t time.Time, stream, msg string) error {
		_, err := fmt.Fprintf(w, "%s\t%s\t%s\n", t.UTC().Format(time.RFC3339Nano), stream, msg)
		return err
	}
	if q.Get("follow") != "true" {
		for _, e := range s.opts.Logs.Events(group, since, 0) {
			if err := line(e.Time, e.Stream, e.Message); err != nil {
				return nil
			}
		}
		return nil
	}
	rc := http.NewResponseController(w)
	rc.Flush()
	for e := range s.opts.Logs.Follow(ctx, group, since) {
		if err := line(e.Time, e.Stream, e.Message); err != nil {
			return nil
		}
		rc.Flush()
	}
	return nil
}

var digestPattern = pattern(`^[0-9a-f]{64}$`)

// code serves a stored zip: GetFunction's Code.Location.
func (s *Server) code(w http.ResponseWriter, r *http.Request, _ []byte) error {
	digest := r.PathValue("digest")
	if !digestPattern().MatchString(digest) {
		return invocation.Errorf(invocation.ErrNotFound, "No code with digest %q", digest)
	}
	dir, err := os.MkdirTemp("", "ember-code-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "code.zip")
	if err := s.ctl.CodeFile(r.Context(), digest, path); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/zip")
	http.ServeFile(w, r, path)
	return nil
}
