package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

// execTimeout bounds one fork/exec of a baseline.
const execTimeout = 10 * time.Second

// answer is what an Invoke came to.
type answer struct {
	// d is the time from sending the request to the whole answer read.
	d time.Duration
	// report is the REPORT line of the log tail, when it was asked for.
	report report
}

// report is what a REPORT line says.
type report struct {
	// init is its Init Duration, which only an invocation that started
	// its runtime, a cold start, has.
	init time.Duration
	// unlimited says that it ends with "Limits: not enforced", which
	// ember writes when it ran the runtime as a plain process or without
	// cgroups.
	unlimited bool
}

const (
	reportPrefix = "REPORT RequestId: "
	initField    = "Init Duration: "
	limitsOff    = "Limits: not enforced"
)

// invoke sends event to f in the ember at base with plain net/http, as a
// RequestResponse Invoke, and checks its answer; with tail it asks for the
// log tail and reads its REPORT line. Reading the tail is not timed; the
// answer comes once ember has the REPORT line, when the runtime asks for
// its next event.
func invoke(ctx context.Context, hc *http.Client, base string, f *fn, tail bool) (answer, error) {
	var a answer
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/2015-03-31/functions/"+f.name+"/invocations", strings.NewReader(event))
	if err != nil {
		return a, err
	}
	req.Header.Set("Content-Type", "application/json")
	if tail {
		req.Header.Set("X-Amz-Log-Type", "Tail")
	}
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return a, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	a.d = time.Since(t0)
	switch {
	case err != nil:
		return a, fmt.Errorf("read answer: %w", err)
	case resp.StatusCode != http.StatusOK:
		return a, fmt.Errorf("status %d: %s", resp.StatusCode, harness.Clip(string(body), 300))
	case resp.Header.Get("X-Amz-Function-Error") != "":
		return a, fmt.Errorf("function error %s: %s", resp.Header.Get("X-Amz-Function-Error"), harness.Clip(string(body), 300))
	}
	if err := f.answer(body); err != nil {
		return a, err
	}
	if !tail {
		return a, nil
	}
	logs, err := base64.StdEncoding.DecodeString(resp.Header.Get("X-Amz-Log-Result"))
	if err != nil {
		return a, fmt.Errorf("X-Amz-Log-Result: %w", err)
	}
	for line := range strings.Lines(string(logs)) {
		if strings.HasPrefix(line, reportPrefix) {
			a.report, err = parseReport(line)
			return a, err
		}
	}
	return a, fmt.Errorf("no REPORT line in the log tail %q", harness.Clip(string(logs), 300))
}

// warmInvoke is an Invoke of f in the ember at base without its log
// tail, as a request of harness.Sequential.
func warmInvoke(hc *http.Client, base string, f *fn) harness.Request {
	return func(ctx context.Context) (time.Duration, error) {
		a, err := invoke(ctx, hc, base, f, false)
		return a.d, err
	}
}

// parseReport reads a REPORT line's Init Duration and limits.
func parseReport(line string) (report, error) {
	var r report
	for field := range strings.SplitSeq(strings.TrimSpace(line), "\t") {
		field = strings.TrimSpace(field)
		switch {
		case field == limitsOff:
			r.unlimited = true
		case strings.HasPrefix(field, initField):
			v, ok := strings.CutSuffix(strings.TrimPrefix(field, initField), " ms")
			f, err := strconv.ParseFloat(v, 64)
			if !ok || err != nil || f <= 0 {
				return r, fmt.Errorf("REPORT line with %q", field)
			}
			r.init = time.Duration(f * float64(time.Millisecond))
		}
	}
	return r, nil
}

// logReports counts the REPORT lines of f that the ember at base has kept
// since, and those with an Init Duration, from ember's own log endpoint,
// which `ember logs` reads.
func logReports(ctx context.Context, hc *http.Client, base string, f *fn, since time.Time) (reports, inits int, err error) {
	u := base + "/ember/v1/functions/" + f.name + "/logs?since=" + url.QueryEscape(since.UTC().Format(time.RFC3339Nano))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("logs of %s: %w", f.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 300))
		return 0, 0, errors.Join(fmt.Errorf("logs of %s: status %d: %s", f.name, resp.StatusCode, b), err)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// Each line is the time, the stream and the message, by tabs.
		if _, msg, ok := strings.Cut(sc.Text(), "\t"+reportPrefix); ok {
			reports++
			if strings.Contains(msg, "\t"+initField) {
				inits++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return reports, inits, fmt.Errorf("logs of %s: %w", f.name, err)
	}
	return reports, inits, nil
}

// baselineEnv is the environment of the baselines: the variables ember
// gives every runtime besides those of the function and the invocation,
// Lambda's defaults, with the host's directories. The benchmark's own
// environment would not do: a variable such as NODE_EXTRA_CA_CERTS, which
// has node read a bundle of certificates as it starts, can take longer
// than the rest of `node -e 0`, and no runtime in ember sees it.
func baselineEnv() []string {
	return []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"LD_LIBRARY_PATH=/lib64:/usr/lib64",
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
	}
}

// forkExec starts f's baseline as a plain process and waits for it to end:
// what starting the interpreter or the bootstrap costs, nothing of Lambda's.
func forkExec(ctx context.Context, f *fn) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.base[0], f.base[1:]...)
	cmd.Dir = f.dir
	cmd.Env = baselineEnv()
	cmd.SysProcAttr = harness.ChildSysProcAttr(syscall.SIGKILL)
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return d, fmt.Errorf("%s still ran after %v", f.baseLabel, execTimeout)
	case f.baseFails && errors.As(err, &exitErr):
		return d, nil
	case f.baseFails && err == nil:
		return d, fmt.Errorf("%s exited 0; expected it to fail at once", f.baseLabel)
	case err != nil:
		return d, fmt.Errorf("%s: %w", f.baseLabel, err)
	}
	return d, nil
}
