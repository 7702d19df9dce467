package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	// coldIdleTimeout is ember's --idle-timeout: an environment is shut
	// down as soon as its invocation ends, so that every Invoke after the
	// last environment ended starts a new one.
	coldIdleTimeout = "1ms"
	// quiesceTimeout bounds the wait for ember's environments to end
	// before a cold start. Ember gives a runtime 500 ms after SIGTERM
	// before it kills it.
	quiesceTimeout = 10 * time.Second
	// quiescePoll is how often that wait looks at ember's children.
	quiescePoll = 5 * time.Millisecond
	// settle is the pause after ember's last environment ended, in which
	// ember removes its cgroup, mounts and files and starts the sandbox it
	// keeps started ahead again.
	settle = 30 * time.Millisecond
	// sandboxInit ends the command line of a sandbox's init stage: ember's
	// own binary, re-executed.
	sandboxInit = "\x00ember-sandbox-init\x00"
)

// answer is what an Invoke came to.
type answer struct {
	// d is the time from sending the request to the whole answer read.
	d time.Duration
	// sent is when the request was sent.
	sent time.Time
	body []byte
	// init is the Init Duration of its REPORT line, which only a cold
	// start has.
	init time.Duration
}

const (
	reportPrefix = "REPORT RequestId: "
	initField    = "Init Duration: "
)

// invoke sends payload to the function name of the ember at base with
// plain net/http, as a RequestResponse Invoke with its log tail, and
// reads the Init Duration of its REPORT line. Reading the tail is not
// timed; the answer comes once ember has the REPORT line.
func invoke(ctx context.Context, hc *http.Client, base, name, payload string) (answer, error) {
	var a answer
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/2015-03-31/functions/"+name+"/invocations", strings.NewReader(payload))
	if err != nil {
		return a, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Log-Type", "Tail")
	a.sent = time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return a, err
	}
	a.body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	a.d = time.Since(a.sent)
	switch {
	case err != nil:
		return a, fmt.Errorf("read answer: %w", err)
	case resp.StatusCode != http.StatusOK:
		return a, fmt.Errorf("status %d: %s", resp.StatusCode, harness.Clip(string(a.body), 300))
	case resp.Header.Get("X-Amz-Function-Error") != "":
		return a, fmt.Errorf("function error %s: %s", resp.Header.Get("X-Amz-Function-Error"), harness.Clip(string(a.body), 300))
	}
	logs, err := base64.StdEncoding.DecodeString(resp.Header.Get("X-Amz-Log-Result"))
	if err != nil {
		return a, fmt.Errorf("X-Amz-Log-Result: %w", err)
	}
	for line := range strings.Lines(string(logs)) {
		if strings.HasPrefix(line, reportPrefix) {
			a.init, err = initDuration(line)
			return a, err
		}
	}
	return a, fmt.Errorf("no REPORT line in the log tail %q", harness.Clip(string(logs), 300))
}

// initDuration reads a REPORT line's Init Duration, 0 when it has none.
func initDuration(line string) (time.Duration, error) {
	for field := range strings.SplitSeq(strings.TrimSpace(line), "\t") {
		v, ok := strings.CutPrefix(strings.TrimSpace(field), initField)
		if !ok {
			continue
		}
		v, ok = strings.CutSuffix(v, " ms")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil || f <= 0 {
			return 0, fmt.Errorf("REPORT line with %q", field)
		}
		return time.Duration(f * float64(time.Millisecond)), nil
	}
	return 0, nil
}

// runtimes returns the processes under ember's pid that are not a
// sandbox's init stage: the runtimes of its environments, and the tools
// it runs for them.
func runtimes(pid int) ([]int, error) {
	var found []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		kids, err := harness.ChildPIDs(p)
		if err != nil {
			return nil, err
		}
		queue = append(queue, kids...)
		if p == pid {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if err != nil || strings.HasSuffix(string(b), sandboxInit) {
			continue
		}
		found = append(found, p)
	}
	return found, nil
}

// quiesce waits until ember has no child process left but the sandboxes
// it keeps started ahead, and then settle, so that a cold start does not
// share the machine with the end of the last environment.
func (b *bench) quiesce(ctx context.Context) error {
	deadline := time.Now().Add(quiesceTimeout)
	for {
		kids, err := harness.ChildPIDs(b.em.Pid())
		if err != nil {
			return fmt.Errorf("children of %s: %w", b.em.Name, err)
		}
		kids = slices.DeleteFunc(kids, idleSandbox)
		if len(kids) == 0 {
			return sleep(ctx, settle)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still had %d child processes (pids %v) %v after the last invocation", b.em.Name, len(kids), kids, quiesceTimeout)
		}
		if err := sleep(ctx, quiescePoll); err != nil {
			return err
		}
	}
}

// idleSandbox reports whether pid is a sandbox's init stage without a
// runtime: a sandbox started ahead, waiting for a function.
func idleSandbox(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.HasSuffix(string(b), sandboxInit) {
		return false
	}
	kids, err := harness.ChildPIDs(pid)
	return err == nil && len(kids) == 0
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
