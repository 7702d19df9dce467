package tune

import "time"

// BalancedTolerance is how much slower than the fastest size the balanced
// pick may be: it is the cheapest size whose warm p50 is within this share
// of the fastest one's.
const BalancedTolerance = 0.10

// BalancedRule says in words how the balanced size is chosen.
const BalancedRule = "the cheapest size whose warm p50 is within 10% of the fastest's"

// Recommendation names sizes by their index in the measured sizes; -1
// when no size qualifies. Only sizes where every run succeeded qualify.
type Recommendation struct {
	Cheapest int // the lowest cost per million (of equals, the faster)
	Fastest  int // the lowest warm p50 (of equals, the cheaper)
	Balanced int // see BalancedRule
}

// None tells whether no size qualified.
func (r Recommendation) None() bool { return r.Cheapest < 0 }

// Recommend picks the cheapest, the fastest and the balanced size among
// those that ran without a failure.
func Recommend(sizes []Size) Recommendation {
	r := Recommendation{Cheapest: -1, Fastest: -1, Balanced: -1}
	ok := func(i int) bool { return sizes[i].Failed == 0 && sizes[i].Measured() }
	for i := range sizes {
		if !ok(i) {
			continue
		}
		if r.Cheapest < 0 || cheaper(sizes[i], sizes[r.Cheapest]) {
			r.Cheapest = i
		}
		if r.Fastest < 0 || faster(sizes[i], sizes[r.Fastest]) {
			r.Fastest = i
		}
	}
	if r.Fastest < 0 {
		return r
	}
	limit := time.Duration(float64(sizes[r.Fastest].WarmP50) * (1 + BalancedTolerance))
	for i := range sizes {
		if !ok(i) || sizes[i].WarmP50 > limit {
			continue
		}
		if r.Balanced < 0 || cheaper(sizes[i], sizes[r.Balanced]) {
			r.Balanced = i
		}
	}
	return r
}

func cheaper(a, b Size) bool {
	if a.CostPerMillion != b.CostPerMillion {
		return a.CostPerMillion < b.CostPerMillion
	}
	return a.WarmP50 < b.WarmP50
}

func faster(a, b Size) bool {
	if a.WarmP50 != b.WarmP50 {
		return a.WarmP50 < b.WarmP50
	}
	return a.CostPerMillion < b.CostPerMillion
}
