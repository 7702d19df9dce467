package main

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/emberfn/ember/internal/billing"
	"github.com/emberfn/ember/internal/usage"
)

// TestServeCostAndMetrics invokes functions a known number of times and
// checks ember's per-invocation records, their cost at Lambda's prices,
// ember cost's table and the Prometheus endpoint against them.
func TestServeCostAndMetrics(t *testing.T) {
	p := startServe(t, t.TempDir())
	c := sdkClient(p.url, testSecret)
	ctx := context.Background()
	createFunction(t, c, "echo", zipFunction(t, "echo"))
	createFunction(t, c, "failing", zipFunction(t, "error"))
	createFunction(t, c, "blocked", zipFunction(t, "echo"))
	for range 5 {
		if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("failing")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("blocked"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("blocked")}); apiErrorCode(err) != "TooManyRequestsException" {
		t.Fatalf("invoke at reserved concurrency 0: %v", err)
	}

	// The records: one per invocation, each priced as billing prices it.
	resp, err := http.Get(p.url + "/ember/v1/invocations?function=echo")
	if err != nil {
		t.Fatal(err)
	}
	var recs struct{ Invocations []usage.Record }
	err = json.NewDecoder(resp.Body).Decode(&recs)
	resp.Body.Close()
	if err != nil || len(recs.Invocations) != 5 {
		t.Fatalf("records of echo: %d, %v; want 5", len(recs.Invocations), err)
	}
	cold, total := 0, 0.0
	for _, r := range recs.Invocations {
		want := billing.Default().Cost(billing.Invocation{Duration: r.Duration, InitDuration: r.InitDuration, MemoryMB: 128, EphemeralMB: 512, Arch: "x86_64"})
		if r.CostUSD <= 0 || math.Abs(r.CostUSD-want) > 1e-15 || r.MemoryMB != 128 || r.Outcome != "success" {
			t.Errorf("record %+v; want cost %g", r, want)
		}
		if r.Cold {
			cold++
		}
		total += r.CostUSD
	}
	if cold != 1 {
		t.Errorf("%d cold starts among 5 sequential invocations; want 1", cold)
	}

	out, _, code := emberCLI(t, p.url, "cost")
	if code != 0 || !strings.Contains(out, "echo") || !strings.Contains(out, "failing") || !strings.Contains(out, "total ") {
		t.Errorf("ember cost printed %q", out)
	}
	out, _, code = emberCLI(t, p.url, "cost", "echo", "--invocations")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 6 || strings.Count(out, " cold ") != 1 {
		t.Errorf("ember cost echo --invocations printed %q; want a header and 5 rows, one cold", out)
	}

	resp, err = http.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("the metrics do not parse: %v", err)
	}
	value := func(name, function string) float64 {
		t.Helper()
		f, ok := families[name]
		if !ok {
			t.Fatalf("no metric %s", name)
		}
		for _, m := range f.Metric {
			if label(m, "function") == function {
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue()
				case m.Histogram != nil:
					return float64(m.Histogram.GetSampleCount())
				}
			}
		}
		return 0
	}
	for _, tc := range []struct {
		metric, function string
		want             float64
	}{
		{"ember_lambda_invocations_total", "echo", 5},
		{"ember_lambda_cold_starts_total", "echo", 1},
		{"ember_lambda_duration_seconds", "echo", 5},
		{"ember_lambda_errors_total", "echo", 0},
		{"ember_lambda_invocations_total", "failing", 2},
		{"ember_lambda_errors_total", "failing", 2},
		{"ember_lambda_throttles_total", "blocked", 1},
		{"ember_lambda_invocations_total", "blocked", 0},
	} {
		if got := value(tc.metric, tc.function); got != tc.want {
			t.Errorf("%s{function=%q} = %v; want %v", tc.metric, tc.function, got, tc.want)
		}
	}
	if _, ok := families["ember_lambda_async_events_queued"]; !ok {
		t.Error("no ember_lambda_async_events_queued")
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
