package store

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkEnqueue measures an accepted event's durable write (synced to
// disk) and reports its median.
func BenchmarkEnqueue(b *testing.B) {
	s, err := Open(b.Context(), Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := make([]byte, 1024)
	var took []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if err := s.Enqueue(b.Context(), Event{ID: fmt.Sprint(i), FunctionName: "f", Payload: payload}); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
}

// BenchmarkListFunctions1000 lists a thousand functions.
func BenchmarkListFunctions1000(b *testing.B) {
	s, err := Open(b.Context(), Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := range 1000 {
		if _, err := s.CreateFunction(b.Context(), testFunction(fmt.Sprintf("fn-%04d", i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		fs, err := s.ListFunctions(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if len(fs) != 1000 {
			b.Fatalf("listed %d", len(fs))
		}
	}
}

// BenchmarkOpen opens a fresh directory.
func BenchmarkOpen(b *testing.B) {
	for b.Loop() {
		s, err := Open(b.Context(), Options{DataDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
