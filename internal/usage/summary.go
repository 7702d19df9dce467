package usage

import (
	"cmp"
	"slices"
	"time"
)

// Summary aggregates the records of one function version since a time.
type Summary struct {
	Function    string `json:"function"`
	Version     string `json:"version"`
	Invocations int    `json:"invocations"` // ran (success+error+timeout)
	Errors      int    `json:"errors"`      // error+timeout
	Throttles   int    `json:"throttles"`
	ColdStarts  int    `json:"cold_starts"`
	// GBSeconds sums MemoryMB/1024 × billed seconds of the invocations
	// that ran.
	GBSeconds float64 `json:"gb_seconds"`
	CostUSD   float64 `json:"cost_usd"` // sum of CostUSD
	// PerMillionUSD projects the cost of a million invocations like these:
	// CostUSD / Invocations × 1e6.
	PerMillionUSD float64       `json:"per_million_usd"`
	AvgDuration   time.Duration `json:"avg_duration_ns"` // of the invocations that ran
}

// Summaries aggregates the records of function ("" for every function)
// that started at or after since, one Summary per function version,
// sorted by function, then version ("$LATEST" first, then by number).
func (s *Store) Summaries(function string, since time.Time) []Summary {
	type key struct{ function, version string }
	type sum struct {
		Summary
		duration time.Duration
	}
	sums := make(map[key]*sum)
	s.each(function, func(r *Record) {
		if r.Start.Before(since) {
			return
		}
		k := key{r.Function, r.Version}
		m := sums[k]
		if m == nil {
			m = &sum{Summary: Summary{Function: r.Function, Version: r.Version}}
			sums[k] = m
		}
		m.CostUSD += r.CostUSD
		if !r.ran() {
			m.Throttles++
			return
		}
		m.Invocations++
		if r.failed() {
			m.Errors++
		}
		if r.Cold {
			m.ColdStarts++
		}
		m.GBSeconds += float64(r.MemoryMB) / 1024 * r.BilledDuration.Seconds()
		m.duration += r.Duration
	})
	out := make([]Summary, 0, len(sums))
	for _, m := range sums {
		if m.Invocations > 0 {
			m.PerMillionUSD = m.CostUSD / float64(m.Invocations) * 1e6
			m.AvgDuration = m.duration / time.Duration(m.Invocations)
		}
		out = append(out, m.Summary)
	}
	slices.SortFunc(out, func(a, b Summary) int {
		if c := cmp.Compare(a.Function, b.Function); c != 0 {
			return c
		}
		return compareVersions(a.Version, b.Version)
	})
	return out
}

// compareVersions orders "$LATEST" first, then published versions by
// number, then anything else by its text.
func compareVersions(a, b string) int {
	ka, na := versionKey(a)
	kb, nb := versionKey(b)
	if c := cmp.Compare(ka, kb); c != 0 {
		return c
	}
	if c := cmp.Compare(na, nb); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// versionKey classes v for compareVersions: 0 for $LATEST, 1 and its
// number for a published version, 2 for anything else.
func versionKey(v string) (class int, n uint64) {
	if v == "$LATEST" {
		return 0, 0
	}
	if v == "" || len(v) > 19 {
		return 2, 0
	}
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			return 2, 0
		}
		n = n*10 + uint64(c-'0')
	}
	return 1, n
}
