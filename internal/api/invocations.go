package api

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/invoke"
	"github.com/emberfn/ember/internal/store"
)

func (s *Server) invoke(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.ref(r)
	if err != nil {
		return err
	}
	call, err := DecodeInvoke(r, w.Header().Get("X-Amzn-RequestId"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	switch call.Type {
	case InvokeDryRun:
		if _, err := s.opts.Invoke.Resolve(ctx, ref.Name, ref.Qualifier); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	case InvokeEvent:
		if err := s.opts.Invoke.Enqueue(ctx, ref.Name, ref.Qualifier, call.Request); err != nil {
			return err
		}
		WriteAccepted(w)
		return nil
	}
	resp, reports, target, err := s.opts.Invoke.Invoke(ctx, ref.Name, ref.Qualifier, call.Request)
	if err != nil {
		return err
	}
	WriteInvokeResult(w, resp, reports, call.Request.WantLog, target.Version.Version)
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
	if n < 0 {
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%d' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0", n)
	}
	ctx := r.Context()
	for {
		fns, err := s.opts.Store.ListFunctions(ctx)
		if err != nil {
			return err
		}
		var fn *store.Function
		reserved := 0
		for i := range fns {
			if fns[i].Latest.FunctionName == ref.Name {
				fn = &fns[i]
			} else if fns[i].ReservedConcurrency != nil {
				reserved += *fns[i].ReservedConcurrency
			}
		}
		if fn == nil {
			return s.functionNotFound(ref.Name)
		}
		if s.opts.AccountConcurrency-reserved-n < min(minUnreserved, s.opts.AccountConcurrency/10) {
			return invocation.Errorf(invocation.ErrInvalid,
				"Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", min(minUnreserved, s.opts.AccountConcurrency/10))
		}
		fn.ReservedConcurrency = &n
		if _, err := s.opts.Store.UpdateFunction(ctx, *fn); errors.Is(err, store.ErrChanged) {
			continue
		} else if err != nil {
			return storeError(err, "Function not found: "+s.functionARN(ref.Name), "")
		}
		return writeJSON(w, http.StatusOK, concurrency{ReservedConcurrentExecutions: &n})
	}
}

func (s *Server) deleteConcurrency(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return err
	}
	ctx := r.Context()
	for {
		fn, err := s.opts.Store.GetFunction(ctx, ref.Name)
		if err != nil {
			return storeError(err, "Function not found: "+s.functionARN(ref.Name), "")
		}
		fn.ReservedConcurrency = nil
		if _, err := s.opts.Store.UpdateFunction(ctx, fn); errors.Is(err, store.ErrChanged) {
			continue
		} else if err != nil {
			return storeError(err, "Function not found: "+s.functionARN(ref.Name), "")
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func (s *Server) getConcurrency(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return err
	}
	fn, err := s.opts.Store.GetFunction(r.Context(), ref.Name)
	if err != nil {
		return storeError(err, "Function not found: "+s.functionARN(ref.Name), "")
	}
	if fn.ReservedConcurrency == nil {
		return writeJSON(w, http.StatusOK, struct{}{})
	}
	return writeJSON(w, http.StatusOK, concurrency{ReservedConcurrentExecutions: fn.ReservedConcurrency})
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

// totalCodeSize is Lambda's default code storage quota: 75 GB.
const totalCodeSize = 80530636800

func (s *Server) accountSettings(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ctx := r.Context()
	fns, err := s.opts.Store.ListFunctions(ctx)
	if err != nil {
		return err
	}
	_, bytes, err := s.opts.Store.CodeUsage(ctx)
	if err != nil {
		return err
	}
	var out accountSettings
	out.AccountLimit.TotalCodeSize = totalCodeSize
	out.AccountLimit.CodeSizeUnzipped = invoke.MaxUnzipped
	out.AccountLimit.CodeSizeZipped = MaxZipped
	out.AccountLimit.ConcurrentExecutions = s.opts.AccountConcurrency
	out.AccountLimit.UnreservedConcurrentExecutions = s.opts.AccountConcurrency
	for _, fn := range fns {
		if fn.ReservedConcurrency != nil {
			out.AccountLimit.UnreservedConcurrentExecutions -= *fn.ReservedConcurrency
		}
	}
	out.AccountUsage.TotalCodeSize = bytes
	out.AccountUsage.FunctionCount = int64(len(fns))
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
	if _, err := s.opts.Store.GetFunction(ctx, ref.Name); err != nil {
		return storeError(err, "Function not found: "+s.functionARN(ref.Name), "")
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
	if err := s.opts.Store.CodeFile(r.Context(), digest, path); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return invocation.Errorf(invocation.ErrNotFound, "No code with digest %s", digest)
		}
		return err
	}
	w.Header().Set("Content-Type", "application/zip")
	http.ServeFile(w, r, path)
	return nil
}
