package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestRun runs the whole benchmark with the smallest settings and checks
// that every figure came out, positive and finite, and that no request
// failed.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ember and runs the whole benchmark against ember serve child processes; skipped with -short")
	}
	out := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"-cold", "2", "-n", "20", "-warmup", "5", "-json", out}, &stdout, &stderr)
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

	if len(res.Runtimes) == 0 || res.Runtimes[len(res.Runtimes)-1].Runtime != goRuntime {
		t.Fatalf("runtimes %+v: want the Go echo last", res.Runtimes)
	}
	want := make(map[[2]string]bool)
	for _, rt := range res.Runtimes {
		for _, id := range []string{idColdP50, idColdP90, idInitP50, idExecP50, idExecP90, idWarmP50, idWarmP90, idWarmP99} {
			want[[2]string{id, rt.Runtime}] = true
		}
	}
	for _, m := range res.Metrics {
		key := [2]string{m.ID, m.Runtime}
		if !want[key] {
			t.Errorf("unexpected or repeated metric %s of %s", m.ID, m.Runtime)
		}
		delete(want, key)
		if !(m.Value > 0) || math.IsInf(m.Value, 0) {
			t.Errorf("%s of %s is %v, want a positive finite number", m.ID, m.Runtime, m.Value)
		}
	}
	for key := range want {
		t.Errorf("metric %s of %s missing", key[0], key[1])
	}

	if len(res.Checks) != 3*len(res.Runtimes) {
		t.Errorf("%d checks for %d runtimes, want 3 each", len(res.Checks), len(res.Runtimes))
	}
	for _, c := range res.Checks {
		if c.Requests == 0 || c.Errors > 0 {
			t.Errorf("%s, %s, %s: %d requests, %d errors %s", c.Phase, c.Runtime, c.Path, c.Requests, c.Errors, c.ErrorDetail)
		}
		switch {
		case c.Path == pathPlain:
		case c.ColdStarts == nil:
			t.Errorf("%s, %s, %s: cold starts not counted", c.Phase, c.Runtime, c.Path)
		case c.Phase == phaseCold && *c.ColdStarts != c.Requests:
			// Each cold-start turn waits for ember's last environment
			// to end, so that none is left to take the Invoke.
			t.Errorf("%s, %s: %d of %d Invokes were cold starts", c.Phase, c.Runtime, *c.ColdStarts, c.Requests)
		case c.Phase == phaseWarm && *c.ColdStarts > 0:
			// Ember may start an environment when a warm Invoke comes
			// before the last one's environment is free again: a note
			// says so, and it is not a failed request.
			t.Logf("%s, %s: %d of %d Invokes were cold starts", c.Phase, c.Runtime, *c.ColdStarts, c.Requests)
		}
	}
	if res.Sandboxed == nil {
		t.Error("no sandbox check")
	}
	if res.Summary == "" {
		t.Error("no summary")
	}
}
