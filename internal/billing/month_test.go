package billing

import (
	"math"
	"testing"
	"time"
)

func near(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

// TestTierBoundaries prices months that end on, and span, the tier
// boundaries of each architecture; the wants are worked by hand from the
// published rates, each span at its own tier's rate.
func TestTierBoundaries(t *testing.T) {
	p := Default()
	for _, tc := range []struct {
		name  string
		usage map[string]float64
		want  float64
	}{
		{"x86 at 6B", map[string]float64{X86_64: 6e9}, 6e9 * 0.0000166667},
		{"x86 7B spans tiers 1-2", map[string]float64{X86_64: 7e9}, 6e9*0.0000166667 + 1e9*0.000015},
		{"x86 9B, the blog's month", map[string]float64{X86_64: 9e9}, 145000.2},
		{"x86 at 15B", map[string]float64{X86_64: 15e9}, 6e9*0.0000166667 + 9e9*0.000015},
		{"x86 20B spans all three", map[string]float64{X86_64: 20e9}, 6e9*0.0000166667 + 9e9*0.000015 + 5e9*0.0000133334},
		{"arm64 at 7.5B", map[string]float64{ARM64: 7.5e9}, 7.5e9 * 0.0000133334},
		{"arm64 10B spans tiers 1-2", map[string]float64{ARM64: 10e9}, 7.5e9*0.0000133334 + 2.5e9*0.0000120001},
		{"arm64 25B spans all three", map[string]float64{ARM64: 25e9}, 7.5e9*0.0000133334 + 11.25e9*0.0000120001 + 6.25e9*0.0000106667},
		// Each architecture counts its own tiers: 7B + 7B is not 14B of x86.
		{"x86 7B and arm64 7B", map[string]float64{X86_64: 7e9, ARM64: 7e9}, 6e9*0.0000166667 + 1e9*0.000015 + 7e9*0.0000133334},
		// An empty architecture is x86_64, and adds to its tiers.
		{"empty arch joins x86", map[string]float64{"": 4e9, X86_64: 4e9}, 6e9*0.0000166667 + 2e9*0.000015},
	} {
		got := p.Monthly(Month{GBSeconds: tc.usage}, false)
		if !near(got.DurationUSD, tc.want) || !near(got.TotalUSD, tc.want) {
			t.Errorf("%s: duration $%.6f total $%.6f, want $%.6f", tc.name, got.DurationUSD, got.TotalUSD, tc.want)
		}
	}
}

// TestTierContinuity checks that one more GB-s across a boundary costs the
// next tier's rate, not a re-pricing of the whole month.
func TestTierContinuity(t *testing.T) {
	p := Default()
	for _, tc := range []struct {
		arch     string
		boundary float64
		next     float64
	}{
		{X86_64, 6e9, 0.000015},
		{X86_64, 15e9, 0.0000133334},
		{ARM64, 7.5e9, 0.0000120001},
		{ARM64, 18.75e9, 0.0000106667},
	} {
		at := p.Monthly(Month{GBSeconds: map[string]float64{tc.arch: tc.boundary}}, false).DurationUSD
		past := p.Monthly(Month{GBSeconds: map[string]float64{tc.arch: tc.boundary + 1e6}}, false).DurationUSD
		if got := (past - at) / 1e6; math.Abs(got-tc.next) > 1e-12 {
			t.Errorf("%s past %g: %v per GB-s, want %v", tc.arch, tc.boundary, got, tc.next)
		}
	}
}

func TestFreeTier(t *testing.T) {
	p := Default()

	t.Run("requests", func(t *testing.T) {
		for _, tc := range []struct {
			requests   int64
			free, paid float64
		}{
			{500_000, 0, 0.10},
			{1_000_000, 0, 0.20},
			{1_500_000, 0.10, 0.30},
		} {
			m := Month{Requests: tc.requests}
			if got := p.Monthly(m, true).RequestsUSD; !near(got, tc.free) {
				t.Errorf("%d requests with the free tier: $%v, want $%v", tc.requests, got, tc.free)
			}
			if got := p.Monthly(m, false).RequestsUSD; !near(got, tc.paid) {
				t.Errorf("%d requests without it: $%v, want $%v", tc.requests, got, tc.paid)
			}
		}
	})

	t.Run("one allowance, dearest architecture first", func(t *testing.T) {
		m := Month{GBSeconds: map[string]float64{X86_64: 300_000, ARM64: 300_000}}
		// x86_64 takes 300,000 of the 400,000 free GB-s, arm64 the other 100,000.
		if got, want := p.Monthly(m, true).DurationUSD, 200_000*0.0000133334; !near(got, want) {
			t.Errorf("duration $%v, want $%v", got, want)
		}
	})

	t.Run("free GB-s are the month's first", func(t *testing.T) {
		m := Month{GBSeconds: map[string]float64{X86_64: 6e9 + 400_000}}
		// The free 400,000 take the first places of tier 1, so 400,000
		// GB-s fall past the 6 B boundary, at tier 2.
		want := (6e9-400_000)*0.0000166667 + 400_000*0.000015
		if got := p.Monthly(m, true).DurationUSD; !near(got, want) {
			t.Errorf("duration $%.6f, want $%.6f", got, want)
		}
	})

	t.Run("not for ephemeral storage", func(t *testing.T) {
		m := Month{EphemeralGBSeconds: 1_000_000}
		if got, want := p.Monthly(m, true).EphemeralUSD, 0.0309; !near(got, want) {
			t.Errorf("ephemeral $%v, want $%v", got, want)
		}
	})
}

func TestMonthAdd(t *testing.T) {
	var m Month
	m.Add(Invocation{Duration: time.Second, MemoryMB: 1024}, 0) // nothing
	if m.Requests != 0 || len(m.GBSeconds) != 0 {
		t.Fatalf("adding none recorded %+v", m)
	}
	cold := Invocation{Duration: 1500 * time.Microsecond, InitDuration: 998 * time.Millisecond, MemoryMB: 2048, EphemeralMB: 1024}
	m.Add(cold, 10) // billed 1000 ms each
	m.Add(Invocation{Duration: time.Second, MemoryMB: 512, Arch: ARM64}, 4)
	if m.Requests != 14 {
		t.Errorf("requests %d, want 14", m.Requests)
	}
	if got := m.GBSeconds[X86_64]; !near(got, 20) {
		t.Errorf("x86_64 GB-s %v, want 20", got)
	}
	if got := m.GBSeconds[ARM64]; !near(got, 2) {
		t.Errorf("arm64 GB-s %v, want 2", got)
	}
	if got := m.EphemeralGBSeconds; !near(got, 5) {
		t.Errorf("ephemeral GB-s %v, want 5", got)
	}
}

func TestMonthlyUnknownArchIsNaN(t *testing.T) {
	b := Default().Monthly(Month{GBSeconds: map[string]float64{"riscv64": 1}}, true)
	if !math.IsNaN(b.DurationUSD) || !math.IsNaN(b.TotalUSD) {
		t.Errorf("bill %+v, want NaN duration and total", b)
	}
}
