package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
	"github.com/emberfn/ember/internal/codezip"
)

// functionName is the benchmark's function.
const functionName = "hold"

// emberResult is what ember cost with every invocation busy.
type emberResult struct {
	// Up is the time from the first Invoke sent until every handler ran
	// (or its invocation failed); Held counts those that ran.
	Up   time.Duration `json:"up_ns"`
	Held int           `json:"held"`
	// Threads, FDs, RSS and HWM are ember's own, while every invocation
	// was busy; Idle are the same of the fresh ember before.
	Busy procFigures `json:"busy"`
	Idle procFigures `json:"idle"`
	// Failed counts the invocations that did not answer 200 with the
	// hold's result; FirstError is the first of their errors.
	Failed     int    `json:"failed"`
	FirstError string `json:"first_error,omitempty"`
}

// procFigures are what /proc says of one process.
type procFigures struct {
	Threads int   `json:"threads"`
	FDs     int   `json:"fds"`
	RSS     int64 `json:"vm_rss"`
	HWM     int64 `json:"vm_hwm"`
}

// readProc reads the figures of pid.
func readProc(pid int) (procFigures, error) {
	var f procFigures
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return f, err
	}
	for line := range strings.Lines(string(b)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB"))
		n, _ := strconv.ParseInt(value, 10, 64)
		switch name {
		case "Threads":
			f.Threads = int(n)
		case "VmRSS":
			f.RSS = n << 10
		case "VmHWM":
			f.HWM = n << 10
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return f, err
	}
	f.FDs = len(fds)
	return f, nil
}

// runEmber starts ember serve, creates the hold function and invokes it
// cfg.n times at once; once every handler holds its invocation it reads
// ember's figures, then releases them all. It reports whether an
// invocation failed.
func runEmber(ctx context.Context, cfg config, procs *harness.Children, tmp, emberBin, fnDir string, res *results, progress func(string, ...any)) (bool, error) {
	h, err := newHolder("0.0.0.0:0", cfg.n)
	if err != nil {
		return false, err
	}
	defer h.close()
	host := "host.ember.internal"
	if cfg.noSandbox {
		host = "127.0.0.1"
	}
	event, err := json.Marshal(map[string]any{"addr": fmt.Sprintf("%s:%d", host, h.port()), "ms": cfg.hold.Milliseconds()})
	if err != nil {
		return false, err
	}

	progress("starting ember serve (%s)", emberBin)
	em, err := harness.StartServe(ctx, procs, emberBin, tmp, "ember", cfg.noSandbox)
	if err != nil {
		return false, err
	}
	stopped := false
	defer func() {
		if !stopped {
			harness.StopServe(em, progress)
		}
	}()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.n, IdleConnTimeout: time.Minute}}
	if err := createFunction(ctx, hc, em.URL, fnDir, cfg); err != nil {
		return false, err
	}
	if res.Ember.Idle, err = readProc(em.Pid()); err != nil {
		return false, err
	}

	progress("invoking %d times at once", cfg.n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	t0 := time.Now()
	for range cfg.n {
		wg.Go(func() {
			err := invoke(ctx, hc, em.URL, event)
			if err != nil {
				h.fail()
				mu.Lock()
				if res.Ember.Failed++; res.Ember.FirstError == "" {
					res.Ember.FirstError = err.Error()
				}
				mu.Unlock()
			}
		})
	}
	// Each start is a cold start; a 128 MB function's share of CPU is small.
	waitCtx, cancel := context.WithTimeout(ctx, cfg.hold)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-waitCtx.Done():
				return
			case <-t.C:
				held, failed := h.held()
				progress("%d of %d invocations held, %d failed, after %v", held, cfg.n, failed, time.Since(t0).Round(time.Second))
			}
		}
	}()
	last, err := h.wait(waitCtx)
	cancel()
	<-watchDone
	if err != nil {
		progress("%v", err)
		last = time.Now()
	}
	res.Ember.Up = last.Sub(t0)
	res.Ember.Held, _ = h.held()
	progress("%d held after %v", res.Ember.Held, res.Ember.Up.Round(time.Millisecond))
	res.Ember.Busy, err = readProc(em.Pid())
	h.release()
	wg.Wait()
	if err != nil {
		return false, err
	}
	stopped = true
	progress("stopping ember")
	harness.StopServe(em, progress)
	return res.Ember.Failed > 0, nil
}

// createFunction creates the hold function from the code in fnDir.
func createFunction(ctx context.Context, hc *http.Client, url, fnDir string, cfg config) error {
	var zip bytes.Buffer
	if err := codezip.Create(fnDir, &zip); err != nil {
		return err
	}
	body, err := json.Marshal(map[string]any{
		"FunctionName": functionName,
		"Role":         "arn:aws:iam::123456789012:role/ember-bench",
		"Runtime":      "provided.al2023",
		"Handler":      "bootstrap",
		"MemorySize":   cfg.memory,
		"Timeout":      int((cfg.hold + time.Minute).Seconds()),
		"Code":         map[string]any{"ZipFile": zip.Bytes()},
	})
	if err != nil {
		return err
	}
	status, answer, err := post(ctx, hc, url+"/2015-03-31/functions", body)
	if err != nil {
		return fmt.Errorf("CreateFunction: %w", err)
	}
	if status != http.StatusCreated {
		return fmt.Errorf("CreateFunction: status %d: %s", status, harness.Clip(string(answer), 300))
	}
	return nil
}

// invoke invokes the hold function with event and expects its result.
func invoke(ctx context.Context, hc *http.Client, url string, event []byte) error {
	status, answer, err := post(ctx, hc, url+"/2015-03-31/functions/"+functionName+"/invocations", event)
	switch {
	case err != nil:
		return err
	case status != http.StatusOK:
		return fmt.Errorf("status %d: %s", status, harness.Clip(string(answer), 200))
	case !bytes.Contains(answer, []byte(`"held"`)):
		return fmt.Errorf("not the hold's result: %s", harness.Clip(string(answer), 200))
	}
	return nil
}

// post posts body to url and returns the status and the answer.
func post(ctx context.Context, hc *http.Client, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	return resp.StatusCode, answer, err
}
