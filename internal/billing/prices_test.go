package billing

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDefault(t *testing.T) {
	p := Default()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	// The published table, as read on TakenOn.
	want := map[string][]Tier{
		X86_64: {{6e9, 0.0000166667}, {15e9, 0.000015}, {0, 0.0000133334}},
		ARM64:  {{7.5e9, 0.0000133334}, {18.75e9, 0.0000120001}, {0, 0.0000106667}},
	}
	if !reflect.DeepEqual(p.Duration, want) {
		t.Errorf("duration tiers %v, want %v", p.Duration, want)
	}
	if p.RequestUSDPerMillion != 0.20 || p.EphemeralUSDPerGBSecond != 0.0000000309 ||
		p.FreeRequests != 1_000_000 || p.FreeGBSeconds != 400_000 ||
		p.InitBilledSince != "2025-08-01" || p.Region != "us-east-1" {
		t.Errorf("default prices %+v", p)
	}

	// Each call is a fresh table: a caller's change does not leak.
	p.Duration[X86_64][0].USDPerGBSecond = 1
	delete(p.Duration, ARM64)
	if again := Default(); !reflect.DeepEqual(again.Duration, want) {
		t.Errorf("Default changed by a caller: %v", again.Duration)
	}
}

// TestLoadPartial overrides a few members and keeps the rest of Default.
func TestLoadPartial(t *testing.T) {
	p, err := Load(filepath.Join("..", "..", "testdata", "billing", "partial-prices.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.TakenOn = "2027-01-15"
	want.RequestUSDPerMillion = 0.25
	want.Duration[ARM64] = []Tier{{1e9, 0.00001}, {0, 0.000009}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("loaded\n%+v\nwant\n%+v", p, want)
	}
}

// TestLoadReplacesTierList checks that a shorter tier list replaces the
// default one instead of being merged into it element by element.
func TestLoadReplacesTierList(t *testing.T) {
	path := write(t, `{"duration": {"x86_64": [{"up_to_gb_seconds": 0, "usd_per_gb_second": 0.00002}]}}`)
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Duration[X86_64], []Tier{{0, 0.00002}}; !reflect.DeepEqual(got, want) {
		t.Errorf("x86_64 tiers %v, want %v", got, want)
	}
	if got, want := p.Duration[ARM64], Default().Duration[ARM64]; !reflect.DeepEqual(got, want) {
		t.Errorf("arm64 tiers %v, want the default %v", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	for _, tc := range []struct{ name, json, want string }{
		{"not json", `{`, "decode"},
		{"unknown member", `{"request_usd_per_milion": 0.3}`, "unknown field"},
		{"trailing data", `{} {}`, "trailing"},
		{"bad date", `{"taken_on": "22/11/2026"}`, "taken_on"},
		{"bad init date", `{"init_billed_since": ""}`, "init_billed_since"},
		{"negative request", `{"request_usd_per_million": -1}`, "negative"},
		{"negative free", `{"free_gb_seconds": -1}`, "negative"},
		{"no x86", `{"duration": null}`, "no x86_64"},
		{"no tiers", `{"duration": {"arm64": []}}`, "no tiers"},
		{"bounded last tier", `{"duration": {"arm64": [{"up_to_gb_seconds": 5, "usd_per_gb_second": 1}]}}`, "unbounded"},
		{"descending", `{"duration": {"arm64": [{"up_to_gb_seconds": 5, "usd_per_gb_second": 1}, {"up_to_gb_seconds": 4, "usd_per_gb_second": 1}, {"up_to_gb_seconds": 0, "usd_per_gb_second": 1}]}}`, "does not rise"},
		{"negative tier", `{"duration": {"arm64": [{"up_to_gb_seconds": 0, "usd_per_gb_second": -1}]}}`, "negative"},
	} {
		_, err := Load(write(t, tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}

func write(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// FuzzParse checks that any file either fails or yields prices that
// validate and bill without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"duration": {"arm64": [{"up_to_gb_seconds": 0, "usd_per_gb_second": 1}]}}`))
	if data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "billing", "partial-prices.json")); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parse(data)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("parse accepted prices that do not validate: %v", err)
		}
		m := Month{Requests: 3_000_000, GBSeconds: map[string]float64{X86_64: 2e10, ARM64: 2e10}, EphemeralGBSeconds: 1}
		if b := p.Monthly(m, true); b.TotalUSD < 0 {
			t.Fatalf("negative bill %+v", b)
		}
	})
}
