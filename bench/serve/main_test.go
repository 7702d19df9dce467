package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/emberfn/ember/bench/internal/harness"
)

// TestMain lets the test binary be the echo server, which the benchmark
// starts as a child process of its own binary.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == harness.EchoServerArg {
		if err := serveEcho(os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRun runs the whole benchmark with the smallest settings and checks
// that every figure came out.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ember and runs the whole benchmark against ember serve child processes; skipped with -short")
	}
	out := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"-n", "20", "-warmup", "5", "-clients", "2", "-duration", "300ms",
		"-creates", "2", "-functions", "20", "-json", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	t.Logf("stdout:\n%s", &stdout)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}

	positive := func(what string, v float64) {
		t.Helper()
		if !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("%s is %v, want a positive finite number", what, v)
		}
	}
	finite := func(what string, v float64) {
		t.Helper()
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%s is %v, want a finite number", what, v)
		}
	}
	want := map[string]bool{
		"warm_p50": true, "warm_p90": true, "warm_p99": true, "warm_rate": true, "concurrent_rate": true,
		"record_p50": true, "record_p90": true, "record_concurrent_rate": true,
		"create_p50": true, "create_p90": true, "create_same_p50": true, "create_same_p90": true,
		"create_small_p50": true, "list_all": true,
	}
	if runtime.GOOS == "linux" {
		want["record_cpu"], want["record_concurrent_cpu"] = true, true
	}
	for _, m := range res.Metrics {
		if !want[m.ID] {
			t.Errorf("unexpected or repeated metric %q", m.ID)
		}
		delete(want, m.ID)
		if m.Group == groupRecord {
			// Recording's overhead is a small difference of two figures,
			// which the noise of a few requests may make negative.
			// A CPU time per request from few requests may be less than
			// one clock tick, and read as nothing.
			figure := positive
			if m.Unit == harness.UnitMicros {
				figure = finite
			}
			figure(m.ID+" ember", m.Ember)
			figure(m.ID+" baseline", m.Baseline)
			switch {
			case m.OverheadPct != nil:
				finite(m.ID+" overhead_pct", *m.OverheadPct)
			case m.Unit != harness.UnitMicros:
				t.Errorf("metric %s has no overhead_pct", m.ID)
			}
			if (m.ID == "record_p50") != (m.TargetPct != nil) {
				t.Errorf("metric %s: target_pct %v", m.ID, m.TargetPct)
			}
			continue
		}
		if m.OverheadPct != nil || m.TargetPct != nil {
			t.Errorf("metric %s of group %s has an overhead or a target", m.ID, m.Group)
		}
		positive(m.ID+" ember", m.Ember)
		positive(m.ID+" baseline", m.Baseline)
		positive(m.ID+" ratio", m.Ratio)
		for name, v := range map[string]*float64{"echo_sdk": m.EchoSDK, "echo_sdk_ratio": m.EchoSDKRatio,
			"ember_http": m.EmberHTTP, "ember_http_ratio": m.EmberHTTPRatio} {
			if v != nil {
				positive(m.ID+" "+name, *v)
			}
		}
		if (m.Group == groupInvoke) != (m.EchoSDK != nil) || (m.Group == groupCreate) != (m.EmberHTTP != nil) {
			t.Errorf("metric %s of group %s: echo_sdk %v, ember_http %v", m.ID, m.Group, m.EchoSDK, m.EmberHTTP)
		}
	}
	for id := range want {
		t.Errorf("metric %s missing", id)
	}
	for _, c := range res.Checks {
		if c.Requests == 0 || c.Errors > 0 {
			t.Errorf("%s, %s: %d requests, %d errors %s", c.Phase, c.Path, c.Requests, c.Errors, c.ErrorDetail)
		}
	}
	if res.Sandboxed == nil {
		t.Error("no sandbox check")
	}
	for _, phase := range []string{phaseRecord, phaseRecord + ", 2 clients"} {
		for _, path := range []string{pathEmberSDK, pathNoRecord} {
			if !slices.ContainsFunc(res.Checks, func(c check) bool { return c.Phase == phase && c.Path == path }) {
				t.Errorf("no check of %s, %s", phase, path)
			}
			if _, ok := res.cpu(phase, path); !ok && runtime.GOOS == "linux" {
				t.Errorf("no CPU time of %s, %s", phase, path)
			}
		}
	}

	if runtime.GOOS != "linux" {
		return
	}
	m := res.Memory
	if m == nil {
		t.Fatal("no memory figures")
	}
	for name, v := range map[string]int64{"idle VmRSS": m.Idle.RSS, "idle VmHWM": m.Idle.HWM,
		"created VmRSS": m.Created.RSS, "created VmHWM": m.Created.HWM, "listed VmRSS": m.Listed.RSS, "listed VmHWM": m.Listed.HWM} {
		positive(name, float64(v))
	}
	// With 20 functions the growth per function is within the noise of
	// the Go runtime's heap and may be nothing or less than nothing.
	for name, v := range map[string]float64{"per_function_rss": m.PerFunctionRSS, "per_function_hwm": m.PerFunctionHWM} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%s is %v", name, v)
		}
	}
}
