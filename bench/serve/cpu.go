package main

import (
	"errors"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

// cpuSample is the CPU time (user and system) the processes of a path
// have used so far.
type cpuSample struct {
	client, ember, echo time.Duration
	// runtimes are ember's descendants.
	runtimes map[harness.ProcKey]time.Duration
}

// cpuTotals add up the CPU time the processes used during the turns of
// one path.
type cpuTotals struct {
	client, ember, runtimes, echo time.Duration
}

// cpuMeter measures the CPU time of the client (the benchmark itself),
// ember and its runtimes (the turn's path's ember), and the echo server
// during each turn, and adds it to the turn's path. A process's work that
// spills over into another path's turn, or that falls between turns, is
// not counted.
type cpuMeter struct {
	ember, echo int
	// embers are the embers of the paths whose ember is not ember.
	embers map[string]int
	paths  map[string]*cpuTotals
	err    error
}

func newCPUMeter(emberPID, echoPID int) *cpuMeter {
	return &cpuMeter{ember: emberPID, echo: echoPID, embers: make(map[string]int), paths: make(map[string]*cpuTotals)}
}

// setEmber makes the turns of path measure the ember at pid, and its
// runtimes, rather than the meter's.
func (m *cpuMeter) setEmber(path string, pid int) { m.embers[path] = pid }

// sample reads the CPU time of the client, the echo server, and the ember
// of path with its runtimes.
func (m *cpuMeter) sample(path string) (cpuSample, error) {
	var s cpuSample
	var err error
	ember, ok := m.embers[path]
	if !ok {
		ember = m.ember
	}
	if s.client, err = harness.SelfCPU(); err != nil {
		return s, err
	}
	if _, s.ember, err = harness.ProcCPU(ember); err != nil {
		return s, err
	}
	if _, s.echo, err = harness.ProcCPU(m.echo); err != nil {
		return s, err
	}
	s.runtimes, err = harness.DescendantsCPU(ember)
	return s, err
}

// turn runs f, the timed part of a turn of path, and adds the CPU time
// each process used meanwhile to path's.
func (m *cpuMeter) turn(path string, f func()) {
	if m.err != nil {
		f()
		return
	}
	before, err := m.sample(path)
	f()
	after, err2 := m.sample(path)
	if err = errors.Join(err, err2); err != nil {
		m.err = err
		return
	}
	t := m.paths[path]
	if t == nil {
		t = &cpuTotals{}
		m.paths[path] = t
	}
	t.client += after.client - before.client
	t.ember += after.ember - before.ember
	t.echo += after.echo - before.echo
	// A runtime that started during the turn counts from its start; one
	// that ended is lost, with what it used.
	runtimes, _ := harness.CPUBetween(before.runtimes, after.runtimes)
	t.runtimes += runtimes
}
