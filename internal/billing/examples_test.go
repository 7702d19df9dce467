package billing

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// example is one worked example of testdata/billing/examples.json.
type example struct {
	Name         string  `json:"name"`
	Source       string  `json:"source"`
	Invocations  int64   `json:"invocations"`
	DurationMS   int64   `json:"duration_ms"`
	MemoryMB     int     `json:"memory_mb"`
	EphemeralMB  int     `json:"ephemeral_mb"`
	Arch         string  `json:"arch"`
	FreeTier     bool    `json:"free_tier"`
	PrecisionUSD float64 `json:"precision_usd"`
	Page         struct {
		GBSeconds          *float64 `json:"gb_seconds"`
		EphemeralGBSeconds *float64 `json:"ephemeral_gb_seconds"`
		RequestsUSD        *float64 `json:"requests_usd"`
		DurationUSD        *float64 `json:"duration_usd"`
		EphemeralUSD       *float64 `json:"ephemeral_usd"`
		TotalUSD           *float64 `json:"total_usd"`
	} `json:"page"`
}

func loadExamples(t *testing.T) []example {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "billing", "examples.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Examples []example `json:"examples"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Examples) == 0 {
		t.Fatal("no examples")
	}
	return file.Examples
}

// TestWorkedExamples prices each worked example of AWS's pages with the
// default prices and compares every figure the page prints, dollars
// rounded as the page rounds them.
func TestWorkedExamples(t *testing.T) {
	p := Default()
	for _, ex := range loadExamples(t) {
		t.Run(ex.Name, func(t *testing.T) {
			if ex.PrecisionUSD <= 0 || ex.Source == "" {
				t.Fatalf("example needs precision_usd and source: %+v", ex)
			}
			var m Month
			m.Add(Invocation{
				Duration:    time.Duration(ex.DurationMS) * time.Millisecond,
				MemoryMB:    ex.MemoryMB,
				EphemeralMB: ex.EphemeralMB,
				Arch:        ex.Arch,
			}, ex.Invocations)
			bill := p.Monthly(m, ex.FreeTier)

			quantity := func(what string, page *float64, got float64) {
				if page != nil && math.Abs(got-*page) > 1e-6**page {
					t.Errorf("%s = %v, page says %v", what, got, *page)
				}
			}
			quantity("GB-s", ex.Page.GBSeconds, m.GBSeconds[ex.Arch])
			quantity("ephemeral GB-s", ex.Page.EphemeralGBSeconds, m.EphemeralGBSeconds)

			dollars := func(what string, page *float64, got float64) {
				if page == nil {
					return
				}
				if math.Round(got/ex.PrecisionUSD) != math.Round(*page/ex.PrecisionUSD) {
					t.Errorf("%s = $%.6f, page says $%.2f", what, got, *page)
				}
			}
			dollars("requests", ex.Page.RequestsUSD, bill.RequestsUSD)
			dollars("duration", ex.Page.DurationUSD, bill.DurationUSD)
			dollars("ephemeral", ex.Page.EphemeralUSD, bill.EphemeralUSD)
			dollars("total", ex.Page.TotalUSD, bill.TotalUSD)
		})
	}
}
