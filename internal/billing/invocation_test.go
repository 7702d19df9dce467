package billing

import (
	"math"
	"testing"
	"time"
)

func TestRoundUp(t *testing.T) {
	for _, tc := range []struct {
		in, want time.Duration
	}{
		{0, 0},
		{100 * time.Microsecond, time.Millisecond},                   // 0.1 ms
		{time.Nanosecond, time.Millisecond},                          // anything above zero is a millisecond
		{1000100 * time.Nanosecond, 2 * time.Millisecond},            // 1.0001 ms
		{5 * time.Millisecond, 5 * time.Millisecond},                 // exact
		{5*time.Millisecond + time.Nanosecond, 6 * time.Millisecond}, // just over
		{2230 * time.Microsecond, 3 * time.Millisecond},              // REPORT: Duration 2.23 ms, Billed 3 ms
		{3 * time.Second, 3 * time.Second},                           // REPORT: a 3 s timeout bills 3000 ms
		{15*time.Minute - time.Nanosecond, 15 * time.Minute},         // the longest invoke
	} {
		if got := RoundUp(tc.in); got != tc.want {
			t.Errorf("RoundUp(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestInitBilled checks that a cold start bills invoke and init together,
// rounded up once, and costs the init's GB-s more than a warm start.
func TestInitBilled(t *testing.T) {
	p := Default()
	warm := Invocation{Duration: 2230 * time.Microsecond, MemoryMB: 128}
	cold := warm
	cold.InitDuration = 143400 * time.Microsecond // the REPORT line's Init Duration: 143.40 ms

	if got, want := p.BilledDuration(warm), 3*time.Millisecond; got != want {
		t.Errorf("warm billed %v, want %v", got, want)
	}
	// 2.23 + 143.40 = 145.63 ms, rounded once: 146, not 3 + 144 = 147.
	if got, want := p.BilledDuration(cold), 146*time.Millisecond; got != want {
		t.Errorf("cold billed %v, want %v", got, want)
	}
	if got, want := p.GBSeconds(cold), 0.125*0.146; math.Abs(got-want) > 1e-12 {
		t.Errorf("cold GB-s %v, want %v", got, want)
	}
	extra := p.Cost(cold) - p.Cost(warm)
	if want := 0.125 * 0.143 * 0.0000166667; math.Abs(extra-want) > 1e-15 {
		t.Errorf("a cold start costs %v more, want %v", extra, want)
	}
}

func TestBilledDurationIgnoresNegative(t *testing.T) {
	p := Default()
	got := p.BilledDuration(Invocation{Duration: -time.Second, InitDuration: 1500 * time.Microsecond})
	if got != 2*time.Millisecond {
		t.Errorf("billed %v, want 2ms", got)
	}
}

// TestCost prices one invocation by hand at first-tier rates.
func TestCost(t *testing.T) {
	p := Default()
	inv := Invocation{Duration: 120 * time.Millisecond, MemoryMB: 1536}
	want := 0.20/1e6 + 1.5*0.120*0.0000166667
	if got := p.Cost(inv); math.Abs(got-want) > 1e-15 {
		t.Errorf("Cost = %v, want %v", got, want)
	}
	if got := p.PerMillion(inv); math.Abs(got-want*1e6) > 1e-9 {
		t.Errorf("PerMillion = %v, want %v", got, want*1e6)
	}
	// Empty Arch is x86_64.
	empty := p.Cost(inv)
	inv.Arch = X86_64
	if got := p.Cost(inv); got != empty {
		t.Errorf("x86_64 costs %v, empty arch %v", got, empty)
	}
}

// TestArm64Cheaper checks that arm64 duration is priced at the arm64 rate,
// about 20% under x86_64, and that the request costs the same.
func TestArm64Cheaper(t *testing.T) {
	p := Default()
	x86 := Invocation{Duration: time.Second, MemoryMB: 1024, Arch: X86_64}
	arm := x86
	arm.Arch = ARM64
	request := 0.20 / 1e6
	dx, da := p.Cost(x86)-request, p.Cost(arm)-request
	if math.Abs(dx-0.0000166667) > 1e-15 || math.Abs(da-0.0000133334) > 1e-15 {
		t.Fatalf("1 GB-s costs %v on x86_64 and %v on arm64", dx, da)
	}
	if ratio := da / dx; ratio >= 0.81 || ratio <= 0.79 {
		t.Errorf("arm64/x86_64 = %.4f, want about 0.8", ratio)
	}
}

// TestEphemeralExcess checks that only storage beyond 512 MB is billed,
// for the billed duration.
func TestEphemeralExcess(t *testing.T) {
	p := Default()
	base := Invocation{Duration: 999500 * time.Microsecond, MemoryMB: 128} // billed 1000 ms
	for _, tc := range []struct {
		mb      int
		extraGB float64
	}{
		{0, 0},   // unset
		{256, 0}, // below the free size
		{512, 0},
		{513, 1.0 / 1024},
		{2048, 1.5},
		{10240, 9.5},
	} {
		inv := base
		inv.EphemeralMB = tc.mb
		extra := p.Cost(inv) - p.Cost(base)
		if want := tc.extraGB * 1.0 * 0.0000000309; math.Abs(extra-want) > 1e-18 {
			t.Errorf("%d MB of /tmp costs %v extra, want %v", tc.mb, extra, want)
		}
	}
}

func TestUnknownArchIsNaN(t *testing.T) {
	p := Default()
	if c := p.Cost(Invocation{Duration: time.Millisecond, MemoryMB: 128, Arch: "riscv64"}); !math.IsNaN(c) {
		t.Errorf("riscv64 costs %v, want NaN", c)
	}
}
