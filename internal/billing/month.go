package billing

import (
	"cmp"
	"maps"
	"math"
	"slices"
)

// Month is a month's usage of one account in one region.
type Month struct {
	Requests  int64
	GBSeconds map[string]float64 // by architecture; "" counts as x86_64
	// EphemeralGBSeconds is the ephemeral storage beyond FreeEphemeralMB,
	// in GB, times the billed duration in seconds.
	EphemeralGBSeconds float64
}

// Add records n invocations like inv.
func (m *Month) Add(inv Invocation, n int64) {
	if n <= 0 {
		return
	}
	if m.GBSeconds == nil {
		m.GBSeconds = make(map[string]float64)
	}
	m.Requests += n
	m.GBSeconds[arch(inv.Arch)] += gbSeconds(inv) * float64(n)
	m.EphemeralGBSeconds += ephemeralGBSeconds(inv) * float64(n)
}

// Bill is what a month costs, in USD, unrounded: AWS's worked examples round
// each line to the cent, and so should whoever shows a Bill.
type Bill struct {
	RequestsUSD, DurationUSD, EphemeralUSD, TotalUSD float64
}

// Monthly prices a month's usage with the tiers, and with the free tier when freeTier.
//
// Each architecture's GB-s go through its own tiers, whose boundaries count
// the month's GB-s from the first. The free GB-s are the first GB-s of the
// month: they take the first places on the tier scale, so tier boundaries
// count them too. One allowance serves both architectures; it goes first to
// the architecture whose first tier is dearest (x86_64 with the default
// prices). The free tier does not cover ephemeral storage. An architecture
// with no duration table makes DurationUSD and TotalUSD NaN.
func (p Prices) Monthly(m Month, freeTier bool) Bill {
	var b Bill

	requests := max(m.Requests, 0)
	if freeTier {
		requests = max(requests-p.FreeRequests, 0)
	}
	b.RequestsUSD = float64(requests) / 1e6 * p.RequestUSDPerMillion

	usage := make(map[string]float64, len(m.GBSeconds))
	for a, gbs := range m.GBSeconds {
		usage[arch(a)] += max(gbs, 0)
	}
	free := 0.0
	if freeTier {
		free = p.FreeGBSeconds
	}
	for _, a := range p.freeTierOrder(usage) {
		tiers, ok := p.Duration[a]
		if !ok || len(tiers) == 0 {
			b.DurationUSD = math.NaN()
			continue
		}
		used := usage[a]
		covered := min(free, used)
		free -= covered
		b.DurationUSD += tierCost(tiers, covered, used)
	}

	b.EphemeralUSD = max(m.EphemeralGBSeconds, 0) * p.EphemeralUSDPerGBSecond
	b.TotalUSD = b.RequestsUSD + b.DurationUSD + b.EphemeralUSD
	return b
}

// freeTierOrder lists the architectures in usage in the order the free GB-s
// are spent on them: dearest first tier first, then by name, so that a Bill
// does not depend on map order.
func (p Prices) freeTierOrder(usage map[string]float64) []string {
	first := func(a string) float64 {
		if tiers := p.Duration[a]; len(tiers) > 0 {
			return tiers[0].USDPerGBSecond
		}
		return math.Inf(-1)
	}
	return slices.SortedFunc(maps.Keys(usage), func(a, b string) int {
		if c := cmp.Compare(first(b), first(a)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
}

// tierCost prices the GB-s between from and to on the cumulative monthly
// scale, each part at the rate of the tier it falls in.
func tierCost(tiers []Tier, from, to float64) float64 {
	cost, lo := 0.0, 0.0
	for _, t := range tiers {
		hi := t.UpToGBSeconds
		if hi == 0 {
			hi = math.Inf(1)
		}
		if a, b := max(from, lo), min(to, hi); b > a {
			cost += (b - a) * t.USDPerGBSecond
		}
		if hi >= to {
			break
		}
		lo = hi
	}
	return cost
}
