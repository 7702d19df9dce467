package tune

import (
	"testing"
	"time"
)

func TestTunePercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	for _, tc := range []struct {
		in       []time.Duration
		q        float64
		wantMS   int
		wantNone bool
	}{
		{in: nil, q: 0.5, wantNone: true},
		{in: ms(7), q: 0.5, wantMS: 7},
		{in: ms(7), q: 0.9, wantMS: 7},
		{in: ms(3, 1, 2), q: 0.5, wantMS: 2},
		{in: ms(3, 1, 2), q: 0.9, wantMS: 3},
		{in: ms(4, 3, 2, 1), q: 0.5, wantMS: 2},
		{in: ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), q: 0.9, wantMS: 9},
		{in: ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), q: 0.5, wantMS: 5},
		{in: ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), q: 0.9, wantMS: 10},
	} {
		got := percentile(tc.in, tc.q)
		want := time.Duration(tc.wantMS) * time.Millisecond
		if tc.wantNone {
			want = 0
		}
		if got != want {
			t.Errorf("percentile(%v, %v) = %v; want %v", tc.in, tc.q, got, want)
		}
	}
	in := ms(3, 1, 2)
	percentile(in, 0.5)
	if in[0] != 3*time.Millisecond {
		t.Error("percentile sorted its argument")
	}
}

func TestTuneRecommend(t *testing.T) {
	size := func(mb, p50ms int, cost float64, failed int) Size {
		return Size{MemoryMB: mb, WarmOK: 3, WarmP50: time.Duration(p50ms) * time.Millisecond, CostPerMillion: cost, Failed: failed}
	}
	for _, tc := range []struct {
		name  string
		sizes []Size
		want  Recommendation
	}{{
		name:  "nothing measured",
		sizes: nil,
		want:  Recommendation{-1, -1, -1},
	}, {
		name:  "every size failed",
		sizes: []Size{size(128, 10, 1, 1), size(256, 5, 1, 4)},
		want:  Recommendation{-1, -1, -1},
	}, {
		name: "a failing size is never picked, however cheap or fast",
		// 128 MB is cheapest and 3008 fastest, but both failed once.
		sizes: []Size{size(128, 900, 0.1, 1), size(512, 300, 0.5, 0), size(1024, 150, 0.6, 0), size(3008, 10, 0.05, 1)},
		want:  Recommendation{Cheapest: 1, Fastest: 2, Balanced: 2},
	}, {
		name: "balanced: the cheapest within 10% of the fastest",
		// 1769 is within 10% of 3008's 100 ms and cheaper; 1024 is not within.
		sizes: []Size{size(128, 1400, 0.40, 0), size(1024, 180, 0.50, 0), size(1769, 109, 0.52, 0), size(3008, 100, 0.80, 0)},
		want:  Recommendation{Cheapest: 0, Fastest: 3, Balanced: 2},
	}, {
		name:  "a function that waits: every size as fast, the smallest is every pick",
		sizes: []Size{size(128, 100, 0.41, 0), size(512, 100, 1.03, 0), size(1024, 99, 1.87, 0)},
		want:  Recommendation{Cheapest: 0, Fastest: 2, Balanced: 0},
	}, {
		name:  "of equal costs the faster is cheapest; of equal speeds the cheaper is fastest",
		sizes: []Size{size(128, 200, 0.5, 0), size(256, 100, 0.5, 0), size(512, 100, 0.9, 0)},
		want:  Recommendation{Cheapest: 1, Fastest: 1, Balanced: 1},
	}, {
		name:  "a size without a successful warm run is not measured",
		sizes: []Size{{MemoryMB: 128}, size(256, 100, 0.5, 0)},
		want:  Recommendation{Cheapest: 1, Fastest: 1, Balanced: 1},
	}} {
		if got := Recommend(tc.sizes); got != tc.want {
			t.Errorf("%s: %+v; want %+v", tc.name, got, tc.want)
		}
	}
}
