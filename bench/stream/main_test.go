package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestMain lets the test binary be the plain server, which the benchmark
// starts as a child process of its own binary.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == baselineArg {
		if err := serveBaseline(os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRun runs the whole benchmark with small streams and few
// repetitions, and checks that every figure came out, positive and
// finite, that no stream failed, and that every target has a figure.
// Streaming needs no sandbox: as another user than root it measures an
// ember started with --no-sandbox.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ember and runs the whole benchmark against ember serve child processes; skipped with -short")
	}
	out := filepath.Join(t.TempDir(), "bench.json")
	args := []string{"-first", "2", "-size", "8", "-n", "2", "-capped", "7", "-capped-n", "1", "-json", out}
	if os.Geteuid() != 0 {
		t.Log("not root: ember runs with --no-sandbox")
		args = append(args, "-no-sandbox")
	}
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
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

	want := map[[3]string]bool{}
	for _, p := range []string{pathPlain, pathEmber} {
		for _, id := range []string{idFirstP50, idFirstP90, idTotalP50, idTotalP90} {
			want[[3]string{id, phaseFirst, p}] = true
		}
		for _, id := range []string{idTimeP50, idRate, idServerCPU, idClientCPU} {
			want[[3]string{id, phaseThroughput, p}] = true
		}
	}
	want[[3]string{idRatio, phaseThroughput, pathEmber}] = true
	for _, id := range []string{idTimeP50, idRate, idRule, idRatio} {
		want[[3]string{id, phaseCapped, pathCapped}] = true
	}
	for _, m := range res.Metrics {
		key := [3]string{m.ID, m.Phase, m.Path}
		if !want[key] {
			t.Errorf("unexpected or repeated metric %v", key)
		}
		delete(want, key)
		if !(m.Value > 0) || math.IsInf(m.Value, 0) {
			t.Errorf("metric %v is %v, want a positive finite number", key, m.Value)
		}
	}
	for key := range want {
		t.Errorf("metric %v missing", key)
	}

	// The whole stream of 10 chunks takes at least its 9 pauses.
	if v, _ := res.value(idTotalP50, phaseFirst, pathEmber); v < 900 {
		t.Errorf("the first byte's streams took %.1f ms at p50 through ember, less than their pauses", v)
	}
	// 7 MB under Lambda's bandwidth takes 0.5 s past its 6 MB burst.
	if v, _ := res.value(idTimeP50, phaseCapped, pathCapped); v < 450 {
		t.Errorf("7 MB under Lambda's bandwidth took %.1f ms, want at least about 500 ms", v)
	}

	if len(res.Checks) != 5 {
		t.Errorf("%d checks, want 5", len(res.Checks))
	}
	for _, c := range res.Checks {
		if c.Requests == 0 || c.Errors > 0 {
			t.Errorf("%s, %s: %d streams, %d errors %s", c.Phase, c.Path, c.Requests, c.Errors, c.ErrorDetail)
		}
	}
	if len(res.Targets) != 3 {
		t.Errorf("%d targets, want 3", len(res.Targets))
	}
	for _, tg := range res.Targets {
		if tg.Value == nil {
			t.Errorf("target %q has no figure", tg.Name)
		}
	}
	if res.Sandboxed == nil {
		t.Error("no sandbox check")
	}
	if res.Summary == "" {
		t.Error("no summary")
	}
}
