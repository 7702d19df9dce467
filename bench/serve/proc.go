package main

import (
	"errors"
	"time"
)

// errNoProc says that this system has no /proc to read the CPU time and
// memory of another process from.
var errNoProc = errors.New("CPU time and memory per process are read from /proc, Linux only")

// errProcGone says that a process ended before its CPU time was read.
var errProcGone = errors.New("process gone")

// procKey names a process: a pid, and its start time since boot, because
// a pid can be used again.
type procKey struct {
	pid   int
	start uint64
}

// descendantsCPU reads the CPU time of the descendants of pid alive now:
// ember's function runtimes and their sandboxes' processes.
func descendantsCPU(pid int) (map[procKey]time.Duration, error) {
	cpus := make(map[procKey]time.Duration)
	queue, err := childPIDs(pid)
	if err != nil {
		return cpus, err
	}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		key, cpu, err := procCPU(pid)
		if errors.Is(err, errProcGone) {
			continue
		}
		if err != nil {
			return cpus, err
		}
		cpus[key] = cpu
		kids, err := childPIDs(pid)
		if err != nil {
			return cpus, err
		}
		queue = append(queue, kids...)
	}
	return cpus, nil
}

// cpuSample is the CPU time (user and system) the processes of a path
// have used so far.
type cpuSample struct {
	client, ember, echo time.Duration
	// runtimes are ember's descendants.
	runtimes map[procKey]time.Duration
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
	if s.client, err = selfCPU(); err != nil {
		return s, err
	}
	if _, s.ember, err = procCPU(ember); err != nil {
		return s, err
	}
	if _, s.echo, err = procCPU(m.echo); err != nil {
		return s, err
	}
	s.runtimes, err = descendantsCPU(ember)
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
	for key, cpu := range after.runtimes {
		t.runtimes += cpu - before.runtimes[key]
	}
}

// perRequest is d per request in microseconds.
func perRequest(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d) / float64(time.Microsecond) / float64(n)
}

// procMemory is the resident memory of a process, from /proc/PID/status:
// VmRSS now, and VmHWM, the most it has had since it started, in bytes.
type procMemory struct {
	RSS int64 `json:"vm_rss"`
	HWM int64 `json:"vm_hwm"`
}
