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

// TestRun runs the whole benchmark with the smallest settings, and checks
// that every figure came out, positive and finite, that no request
// failed, that each ember started an environment, whose EXTENSION lines
// show the extension in the one ember only, and that the target has a
// verdict. As another user than root it measures embers started with
// --no-sandbox.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ember and runs the whole benchmark against ember rie child processes; skipped with -short")
	}
	out := filepath.Join(t.TempDir(), "bench.json")
	args := []string{"-n", "20", "-warmup", "5", "-json", out}
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

	if len(res.Paths) != 3 {
		t.Fatalf("%d paths, want the echo and the two embers", len(res.Paths))
	}
	for _, p := range res.Paths {
		figures := map[string]float64{"p50": p.P50, "p90": p.P90, "p99": p.P99}
		if p.Kind != kindEcho {
			figures["REPORT Duration p50"] = p.DurationP50
			if p.StartedAll < 1 || p.Reports != p.Requests || p.Failed != 0 {
				t.Errorf("%s: %d environments started, %d REPORTs of %d requests, %d failed", p.Name, p.StartedAll, p.Reports, p.Requests, p.Failed)
			}
			want := 0
			if p.Kind == kindExtension {
				want = p.StartedAll
			}
			if p.Extensions != want {
				t.Errorf("%s: %d EXTENSION lines, want %d", p.Name, p.Extensions, want)
			}
		}
		for name, v := range figures {
			if !(v > 0) || math.IsInf(v, 0) {
				t.Errorf("%s: %s is %v, want a positive finite number", p.Name, name, v)
			}
		}
		if p.Errors > 0 || p.Requests != 20 {
			t.Errorf("%s: %d errors of %d requests: %s", p.Name, p.Errors, p.Requests, p.ErrorDetail)
		}
	}
	if len(res.Targets) != 1 || res.Targets[0].Met == nil {
		t.Errorf("targets %+v, want one with a verdict", res.Targets)
	}
	if !strings.Contains(stdout.String(), "verdict") || !strings.Contains(stdout.String(), "where the time goes") {
		t.Errorf("no targets table or summary in the output")
	}
}

func TestParseFlags(t *testing.T) {
	var stderr bytes.Buffer
	if _, err := parseFlags([]string{"-n", "0"}, &stderr); err == nil {
		t.Error("-n 0 was accepted")
	}
	if _, err := parseFlags([]string{"extra"}, &stderr); err == nil {
		t.Error("an argument left over was accepted")
	}
	cfg, err := parseFlags(nil, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.n != 2000 || cfg.warmup != 200 || cfg.memory != 1769 || cfg.noSandbox {
		t.Errorf("defaults %+v", cfg)
	}
}
