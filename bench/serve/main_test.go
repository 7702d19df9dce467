package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestMain lets the test binary be the echo server, which the benchmark
// starts as a child process of its own binary.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == echoServerArg {
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
	want := map[string]bool{
		"warm_p50": true, "warm_p90": true, "warm_p99": true, "warm_rate": true, "concurrent_rate": true,
		"create_p50": true, "create_p90": true, "create_same_p50": true, "create_same_p90": true,
		"create_small_p50": true, "list_all": true,
	}
	for _, m := range res.Metrics {
		if !want[m.ID] {
			t.Errorf("unexpected or repeated metric %q", m.ID)
		}
		delete(want, m.ID)
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
