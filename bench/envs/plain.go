package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

// plainResult is the baseline: the bootstrap started n times with a
// plain fork/exec.
type plainResult struct {
	// Start is the time the n fork/execs took, and Up the time until
	// every handler ran.
	Start time.Duration `json:"start_ns"`
	Up    time.Duration `json:"up_ns"`
}

// runPlain starts the bootstrap n times, each a process of its own with
// the environment of a runtime, against one minimal Runtime API that
// gives each the hold event once, and times them until every handler
// holds its invocation; then it kills them all.
func runPlain(ctx context.Context, bootstrap string, n int, hold time.Duration) (plainResult, error) {
	var res plainResult
	h, err := newHolder("127.0.0.1:0", n)
	if err != nil {
		return res, err
	}
	defer h.close()
	event, err := json.Marshal(map[string]any{"addr": fmt.Sprintf("127.0.0.1:%d", h.port()), "ms": hold.Milliseconds()})
	if err != nil {
		return res, err
	}
	api, err := newRuntimeAPI(event, hold)
	if err != nil {
		return res, err
	}
	defer api.close()

	env := append(harness.Environ("AWS_", "_HANDLER="),
		"AWS_LAMBDA_RUNTIME_API="+api.addr(),
		"AWS_LAMBDA_FUNCTION_NAME=hold",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"_HANDLER=bootstrap",
	)
	cmds := make([]*exec.Cmd, 0, n)
	var waits sync.WaitGroup
	defer func() {
		for _, cmd := range cmds {
			cmd.Process.Kill()
		}
		waits.Wait()
	}()
	t0 := time.Now()
	for range n {
		cmd := exec.Command(bootstrap)
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return res, fmt.Errorf("start bootstrap %d of %d: %w", len(cmds)+1, n, err)
		}
		cmds = append(cmds, cmd)
		waits.Go(func() { cmd.Wait() })
	}
	res.Start = time.Since(t0)
	ctx, cancel := context.WithTimeout(ctx, hold)
	defer cancel()
	last, err := h.wait(ctx)
	if err != nil {
		return res, err
	}
	res.Up = last.Sub(t0)
	return res, nil
}

// runtimeAPI is the least of a Runtime API: each runtime's first
// /next gets the event, its response is accepted, and its next /next
// waits until the end.
type runtimeAPI struct {
	l   net.Listener
	srv *http.Server
	ids atomic.Int64
}

func newRuntimeAPI(event []byte, hold time.Duration) (*runtimeAPI, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &runtimeAPI{l: l}
	stop := make(chan struct{})
	mux := http.NewServeMux()
	given := sync.Map{}
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		// Each runtime holds one connection; its second /next comes on it.
		if _, again := given.LoadOrStore(r.RemoteAddr, true); again {
			select {
			case <-stop:
			case <-r.Context().Done():
			}
			return
		}
		id := strconv.FormatInt(a.ids.Add(1), 10)
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", id)
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(hold).UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:hold")
		w.Header().Set("Content-Type", "application/json")
		w.Write(event)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/{what}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: time.Minute}
	a.srv.RegisterOnShutdown(func() { close(stop) })
	go a.srv.Serve(l)
	return a, nil
}

func (a *runtimeAPI) addr() string { return a.l.Addr().String() }

func (a *runtimeAPI) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		a.srv.Close()
	}
	a.srv.Close()
}
