// Package rie owns the invoke endpoint of AWS's runtime interface emulator,
// POST /2015-03-31/functions/function/invocations, served with Lambda's
// behaviour where the emulator's differs: concurrent invocations, function
// errors flagged with X-Amz-Function-Error, a request id on every answer,
// Lambda's payload limits and error shapes, Event and DryRun invocations.
package rie

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/invokewire"
)

// Invoker runs invocations; *invoke.Limited is one.
type Invoker interface {
	Invoke(ctx context.Context, req invocation.Request) (invocation.Response, <-chan invocation.Report, error)
}

// Handler serves the emulator's endpoint for one function.
type Handler struct {
	fn      function.Config
	invoker Invoker
	// bw is how fast a streamed response is relayed.
	bw  invokewire.Bandwidth
	log *slog.Logger
	mux *http.ServeMux
	// async tracks Event invocations still running.
	async sync.WaitGroup
}

// New returns the handler for fn, whose invocations invoker runs; a
// response the function streams is relayed within bw.
func New(fn function.Config, invoker Invoker, bw invokewire.Bandwidth, log *slog.Logger) *Handler {
	h := &Handler{fn: fn, invoker: invoker, bw: bw, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", h.invoke)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		invokewire.SetRequestID(w)
		invokewire.WriteError(w, invocation.Errorf(invocation.ErrNotFound, "%s %s: no such resource; invoke with POST /2015-03-31/functions/function/invocations", r.Method, r.URL.Path))
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
			invokewire.WriteError(w, fmt.Errorf("panic: %v", v))
		}
	}()
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) invoke(w http.ResponseWriter, r *http.Request) {
	id := invokewire.SetRequestID(w)
	call, err := invokewire.ReadRequest(r, id)
	if err != nil {
		invokewire.WriteError(w, err)
		return
	}
	req := call.Request
	req.InvokedARN = h.fn.ARN()
	switch call.Type {
	case invokewire.DryRun:
		w.WriteHeader(http.StatusNoContent)
		return
	case invokewire.Event:
		h.async.Add(1)
		go func() {
			defer h.async.Done()
			h.runEvent(req)
		}()
		invokewire.WriteAccepted(w)
		return
	}
	resp, reports, err := h.invoker.Invoke(r.Context(), req)
	if err != nil {
		invokewire.WriteError(w, err)
		return
	}
	invokewire.WriteResult(w, resp, reports, req.WantLog, h.fn.Version, h.bw)
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
