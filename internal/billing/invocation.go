package billing

import (
	"math"
	"time"
)

// FreeEphemeralMB is the ephemeral storage (/tmp) every function has at no
// extra cost; only the configured size beyond it is billed.
const FreeEphemeralMB = 512

// Invocation is what one invocation used.
type Invocation struct {
	Duration     time.Duration
	InitDuration time.Duration // zero on a warm start
	MemoryMB     int
	EphemeralMB  int    // size of /tmp; 512 costs nothing extra
	Arch         string // "x86_64" (default when empty) or "arm64"
}

// RoundUp rounds a duration up to whole milliseconds, as Lambda bills.
func RoundUp(d time.Duration) time.Duration {
	t := d.Truncate(time.Millisecond)
	if t < d {
		t += time.Millisecond
	}
	return t
}

// BilledDuration is the duration Lambda bills for inv: the invoke and the
// init phase together, rounded up once to the millisecond. On-demand init
// has been billed this way since InitBilledSince; before that, functions on
// managed runtimes packaged as ZIP files were billed for the invoke alone.
// A negative duration counts as zero.
func (p Prices) BilledDuration(inv Invocation) time.Duration {
	return billed(inv)
}

// GBSeconds is the configured memory in GB (1024 MB) times the billed
// duration in seconds.
func (p Prices) GBSeconds(inv Invocation) float64 {
	return gbSeconds(inv)
}

// Cost is what one invocation costs at first-tier rates and without the
// free tier: the request, the duration, and the ephemeral storage beyond
// FreeEphemeralMB for the billed duration. An architecture with no duration
// table in p costs NaN, which no caller can mistake for a price.
func (p Prices) Cost(inv Invocation) float64 {
	tiers, ok := p.Duration[arch(inv.Arch)]
	if !ok || len(tiers) == 0 {
		return math.NaN()
	}
	request := p.RequestUSDPerMillion / 1e6
	duration := gbSeconds(inv) * tiers[0].USDPerGBSecond
	ephemeral := ephemeralGBSeconds(inv) * p.EphemeralUSDPerGBSecond
	return request + duration + ephemeral
}

// PerMillion is the cost of a million invocations like inv, at first-tier
// rates and without the free tier.
func (p Prices) PerMillion(inv Invocation) float64 {
	return p.Cost(inv) * 1e6
}

// The quantities below depend on what inv used, not on any price.

func billed(inv Invocation) time.Duration {
	return RoundUp(max(inv.Duration, 0) + max(inv.InitDuration, 0))
}

func gbSeconds(inv Invocation) float64 {
	return gb(inv.MemoryMB) * billed(inv).Seconds()
}

// ephemeralGBSeconds is the billed part of inv's ephemeral storage, in GB,
// times the billed duration in seconds.
func ephemeralGBSeconds(inv Invocation) float64 {
	return gb(inv.EphemeralMB-FreeEphemeralMB) * billed(inv).Seconds()
}

// gb converts megabytes to Lambda's gigabytes (1 GB = 1024 MB); less than
// nothing is nothing.
func gb(mb int) float64 {
	return float64(max(mb, 0)) / 1024
}

// arch names the duration table an architecture is priced by: empty means
// x86_64, as in the Lambda API.
func arch(a string) string {
	if a == "" {
		return X86_64
	}
	return a
}
