package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/emberfn/ember/internal/testenv"
)

// TestRun runs the whole benchmark with tiny images and few repetitions,
// and checks that every figure came out, positive or zero and finite,
// that no request failed, that every Invoke measured was a cold start,
// and that every target has a figure.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ember and runs the whole benchmark against an ember serve child process; skipped with -short")
	}
	testenv.Root(t, "ember runs image functions in its sandbox")
	out := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"-size", "4", "-layers", "2", "-loads", "1", "-cold", "2", "-big", "8", "-second", "1", "-json", out}, &stdout, &stderr)
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

	want := map[[3]string]bool{}
	for _, p := range []string{pathCp, pathLoad, pathPull} {
		want[[3]string{idTime, phaseLoad, p}] = true
		want[[3]string{idRate, phaseLoad, p}] = true
	}
	want[[3]string{idRatio, phaseLoad, pathLoad}] = true
	want[[3]string{idRatio, phaseLoad, pathPull}] = true
	for _, p := range []string{pathZip, pathImage} {
		for _, id := range []string{idColdP50, idColdP90, idInitP50} {
			want[[3]string{id, phaseCold, p}] = true
		}
	}
	for _, p := range []string{pathSmall, pathBig} {
		for _, id := range []string{idColdP50, idColdP90, idInitP50, idFirstImages, idSecondImages, idFirstData, idSecondData} {
			want[[3]string{id, phaseSecond, p}] = true
		}
	}
	want[[3]string{idBigLoad, phaseSecond, pathBig}] = true
	want[[3]string{idBigDisk, phaseSecond, pathBig}] = true
	for _, m := range res.Metrics {
		key := [3]string{m.ID, m.Phase, m.Path}
		if !want[key] {
			t.Errorf("unexpected or repeated metric %v", key)
		}
		delete(want, key)
		positive := m.Unit != unitBytes || m.ID == idBigDisk
		if math.IsInf(m.Value, 0) || math.IsNaN(m.Value) || m.Value < 0 || (positive && m.Value == 0) {
			t.Errorf("metric %v is %v", key, m.Value)
		}
	}
	for key := range want {
		t.Errorf("metric %v missing", key)
	}
	// The big image unpacked takes at least its 8 MB of data.
	if v, _ := res.value(idBigDisk, phaseSecond, pathBig); v < 8*mb {
		t.Errorf("the big image's load grew the images directory by %v bytes, want at least 8 MB", v)
	}

	if len(res.Checks) != 7 {
		t.Errorf("%d checks, want 7", len(res.Checks))
	}
	for _, c := range res.Checks {
		if c.Requests == 0 || c.Errors > 0 {
			t.Errorf("%s, %s: %d requests, %d errors %s", c.Phase, c.Path, c.Requests, c.Errors, c.ErrorDetail)
		}
		if c.Phase != phaseLoad && (c.ColdStarts == nil || *c.ColdStarts != c.Requests) {
			t.Errorf("%s, %s: cold starts %v of %d Invokes", c.Phase, c.Path, c.ColdStarts, c.Requests)
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
	if res.Summary == "" {
		t.Error("no summary")
	}
}
