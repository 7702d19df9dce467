package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emberfn/ember/bench/internal/harness"
)

// TestMain lets the test binary be the echo server, which the benchmark
// starts as a child process of its own binary.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == harness.EchoServerArg {
		if err := harness.ServeEcho(os.Stdout, "POST /"); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRun runs the whole benchmark with the smallest settings, with the
// ember it builds as the older one too, and checks that every figure came
// out, positive and finite, that no request failed, that every change was
// seen, and that every target has a verdict.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ember and runs the whole benchmark against ember child processes; skipped with -short")
	}
	dir := t.TempDir()
	bins, err := harness.Build(t.Context(), dir, "function")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bench.json")
	var stdout, stderr bytes.Buffer
	err = run(t.Context(), []string{"-n", "20", "-warmup", "5", "-duration", "300ms", "-changes", "4",
		"-ember", bins.Ember, "-ember-before", bins.Ember, "-json", out}, &stdout, &stderr)
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

	if len(res.Paths) != 9 {
		t.Fatalf("%d paths, want the echo and 4 of each ember", len(res.Paths))
	}
	for _, p := range res.Paths {
		for name, v := range map[string]float64{"p50": p.P50, "p99": p.P99, "rate": p.Rate, "p50 ratio": p.P50Ratio, "rate ratio": p.RateRatio} {
			if !(v > 0) || math.IsInf(v, 0) {
				t.Errorf("%s: %s is %v, want a positive finite number", p.Name, name, v)
			}
		}
		if p.Errors > 0 || p.Requests == 0 {
			t.Errorf("%s: %d errors of %d requests: %s", p.Name, p.Errors, p.Requests, p.ErrorDetail)
		}
		if p.Before != strings.HasPrefix(p.Name, beforePrefix) {
			t.Errorf("%s: before is %v", p.Name, p.Before)
		}
	}
	if len(res.Propagation) != 2 {
		t.Fatalf("%d propagation figures, want the ember's and the older one's", len(res.Propagation))
	}
	for _, p := range res.Propagation {
		if p.Changes != 4 || p.NotSeen != 0 || !(p.P50 > 0) || p.Max < p.P50 {
			t.Errorf("propagation %+v: want 4 changes, all seen", p)
		}
	}
	if len(res.Targets) != 7 {
		t.Errorf("%d targets, want 7", len(res.Targets))
	}
	for _, tr := range res.Targets {
		if tr.Met == nil && !strings.Contains(tr.Label, "CPU") {
			t.Errorf("target %q has no verdict", tr.Label)
		}
	}
	if !strings.Contains(stdout.String(), "verdict") {
		t.Errorf("no targets table in the output")
	}
}

func TestParseFlags(t *testing.T) {
	var stderr bytes.Buffer
	if _, err := parseFlags([]string{"-ember", filepath.Join(t.TempDir(), "missing")}, &stderr); err == nil {
		t.Error("-ember of a missing file was accepted")
	}
	if _, err := parseFlags([]string{"-n", "0"}, &stderr); err == nil {
		t.Error("-n 0 was accepted")
	}
	cfg, err := parseFlags(nil, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.n != 2000 || cfg.clients != 8 || cfg.memory != 1769 || cfg.changes != 20 || !cfg.pin {
		t.Errorf("defaults %+v", cfg)
	}
}
