package harness

import (
	"math"
	"slices"
	"time"
)

// Samples are the latencies of the successful requests of a path and the
// wall time its turns took.
type Samples struct {
	Lat  []time.Duration
	Wall time.Duration
}

// Add adds the latencies and the wall time of o.
func (s *Samples) Add(o Samples) {
	s.Lat = append(s.Lat, o.Lat...)
	s.Wall += o.Wall
}

// Percentile returns the nearest-rank p-th percentile, 0 < p <= 100; 0
// without latencies.
func (s Samples) Percentile(p float64) time.Duration {
	if len(s.Lat) == 0 {
		return 0
	}
	sorted := slices.Clone(s.Lat)
	slices.Sort(sorted)
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Rate is successful requests per second of wall time.
func (s Samples) Rate() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return float64(len(s.Lat)) / s.Wall.Seconds()
}
