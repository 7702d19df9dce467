package tune

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/emberfn/ember/internal/billing"
)

// Size is what was measured at one memory size.
type Size struct {
	MemoryMB int
	Cold     Sample   // the first invocation after the memory changed
	Warm     []Sample // the invocations after it

	// WarmOK is how many warm runs succeeded; WarmP50 and WarmP90 are the
	// nearest-rank percentiles of their REPORT Duration (0 when none did).
	WarmOK           int
	WarmP50, WarmP90 time.Duration
	MaxMemoryUsedMB  int       // the highest Max Memory Used of every run
	Failures         []Failure // of every run, cold and warm; most frequent first
	Failed           int       // runs that failed
	// CostPerMillion is the bill of a million invocations that each take
	// WarmP50 at this size, in USD; valid when WarmOK > 0.
	CostPerMillion float64
}

// Failure counts the runs that failed with one error type.
type Failure struct {
	Type  string
	Count int
}

// Invocations is how many runs were made at this size, cold and warm.
func (s Size) Invocations() int { return 1 + len(s.Warm) }

// Measured tells whether the size has a warm duration and so a cost.
func (s Size) Measured() bool { return s.WarmOK > 0 }

// summarize makes a Size of its samples.
func summarize(mb int, cold Sample, warm []Sample, prices billing.Prices, ephemeralMB int, arch string) Size {
	s := Size{MemoryMB: mb, Cold: cold, Warm: warm}
	var ok []time.Duration
	counts := map[string]int{}
	for i, smp := range append([]Sample{cold}, warm...) {
		s.MaxMemoryUsedMB = max(s.MaxMemoryUsedMB, smp.Report.MaxMemoryUsedMB)
		if smp.Failure != "" {
			s.Failed++
			counts[smp.Failure]++
			continue
		}
		if i > 0 && smp.HasReport {
			ok = append(ok, smp.Report.Duration)
		}
	}
	for typ, n := range counts {
		s.Failures = append(s.Failures, Failure{Type: typ, Count: n})
	}
	slices.SortFunc(s.Failures, func(a, b Failure) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Type, b.Type))
	})
	s.WarmOK = len(ok)
	if s.WarmOK > 0 {
		s.WarmP50 = percentile(ok, 0.50)
		s.WarmP90 = percentile(ok, 0.90)
		s.CostPerMillion = prices.PerMillion(billing.Invocation{
			Duration: s.WarmP50, MemoryMB: mb, EphemeralMB: ephemeralMB, Arch: arch,
		})
	}
	return s
}

// percentile is the nearest-rank q-quantile (0 < q ≤ 1) of ds: the
// smallest value that at least a q share of them do not exceed.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := int(math.Ceil(q*float64(len(sorted)) - 1e-9)) // ⌈q·n⌉, clear of float error
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
