package harness

import (
	"context"
	"time"
)

// Path is one way a benchmark sends requests (a client, to a server) and
// what came of those it sent while measured.
type Path struct {
	Name    string
	Do      Request
	Tally   Tally
	Samples Samples
}

// TurnFunc runs f, the timed part of a turn of the path named path; a
// CPUMeter's Turn is one. Nil runs f alone.
type TurnFunc func(path string, f func())

func (t TurnFunc) run(path string, f func()) {
	if t == nil {
		f()
		return
	}
	t(path, f)
}

// RunSequential sends n requests through each of paths, one after the
// other, in blocks of block that take turns as InBlocks has them, each
// block within turn, and adds what came of them to the path.
func RunSequential(ctx context.Context, paths []*Path, n, block int, turn TurnFunc) {
	sends := make([]func(int), len(paths))
	for i, p := range paths {
		sends[i] = func(k int) {
			turn.run(p.Name, func() { p.Samples.Add(Sequential(ctx, p.Do, k, &p.Tally)) })
		}
	}
	InBlocks(ctx, n, block, sends...)
}

// RunConcurrent runs clients concurrent clients through each of paths for
// d in all, in turns of round that take turns as InBlocks has them, each
// within turn, and adds what came of them to the path.
func RunConcurrent(ctx context.Context, paths []*Path, clients int, d, round time.Duration, turn TurnFunc) {
	runs := make([]func(time.Duration), len(paths))
	for i, p := range paths {
		runs[i] = func(t time.Duration) {
			turn.run(p.Name, func() { p.Samples.Add(Concurrent(ctx, p.Do, clients, t, &p.Tally)) })
		}
	}
	InBlocks(ctx, d, round, runs...)
}

// Warmup sends n requests through each of paths, one after the other,
// unmeasured, and returns what came of each, in the order of paths.
func Warmup(ctx context.Context, paths []*Path, n int) []Tally {
	tallies := make([]Tally, len(paths))
	for i, p := range paths {
		Sequential(ctx, p.Do, n, &tallies[i])
	}
	return tallies
}

// WarmupConcurrent runs clients concurrent clients through each of paths
// for d, unmeasured (long enough for ember to start an environment for
// each client), and returns what came of each, in the order of paths.
func WarmupConcurrent(ctx context.Context, paths []*Path, clients int, d time.Duration) []Tally {
	tallies := make([]Tally, len(paths))
	for i, p := range paths {
		Concurrent(ctx, p.Do, clients, d, &tallies[i])
	}
	return tallies
}
