package main

import (
	"errors"
	"time"
)

// errNoProcCPU says that this system has no /proc to read the CPU time of
// another process from.
var errNoProcCPU = errors.New("CPU time per process is read from /proc, Linux only")

// errProcGone says that a process ended before its CPU time was read.
var errProcGone = errors.New("process gone")

// procKey names a process: a pid, and its start time since boot, because
// a pid can be used again.
type procKey struct {
	pid   int
	start uint64
}

// cpuPIDs are the server processes whose CPU time a phase measures.
type cpuPIDs struct {
	ember, echo, proxy int
}

// cpuSnapshot is the CPU time (user and system) the server processes of a
// phase have used so far.
type cpuSnapshot struct {
	ember, echo, proxy time.Duration
	// runtimes are ember's children and their descendants.
	runtimes map[procKey]time.Duration
}

// sampleCPU reads the CPU time of the processes of p and of ember's
// descendants alive now.
func sampleCPU(p cpuPIDs) (cpuSnapshot, error) {
	s := cpuSnapshot{runtimes: make(map[procKey]time.Duration)}
	for _, one := range []struct {
		pid int
		cpu *time.Duration
	}{{p.ember, &s.ember}, {p.echo, &s.echo}, {p.proxy, &s.proxy}} {
		_, cpu, err := procCPU(one.pid)
		if err != nil {
			return s, err
		}
		*one.cpu = cpu
	}
	queue, err := childPIDs(p.ember)
	if err != nil {
		return s, err
	}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		key, cpu, err := procCPU(pid)
		if errors.Is(err, errProcGone) {
			continue
		}
		if err != nil {
			return s, err
		}
		s.runtimes[key] = cpu
		kids, err := childPIDs(pid)
		if err != nil {
			return s, err
		}
		queue = append(queue, kids...)
	}
	return s, nil
}

// The paths a request takes, in the order of cpuMeter.client.
const (
	pathEmber = iota
	pathEcho
	pathProxy
)

// cpuMeter measures the CPU time of a phase's processes from its start.
type cpuMeter struct {
	pids   cpuPIDs
	before cpuSnapshot
	// client is the benchmark's own CPU time during the turns of each
	// path.
	client [3]time.Duration
	err    error
}

// startCPU samples the CPU time that ember (serving em) and its runtimes,
// and the baselines have used so far.
func (b *bench) startCPU(em *emberServer) *cpuMeter {
	m := &cpuMeter{pids: cpuPIDs{
		ember: em.child.cmd.Process.Pid,
		echo:  b.echo.child.cmd.Process.Pid,
		proxy: b.proxy.child.cmd.Process.Pid,
	}}
	m.before, m.err = sampleCPU(m.pids)
	return m
}

// turn returns f, which also adds the benchmark's own CPU time while it
// runs to the client CPU time of path. Only the requests of that path
// run then.
func (m *cpuMeter) turn(path int, f func()) func() {
	return func() {
		before, err := selfCPU()
		f()
		after, err2 := selfCPU()
		m.client[path] += after - before
		m.err = errors.Join(m.err, err, err2)
	}
}

// stopCPU adds to the results the CPU time per request that each process
// used since startCPU, given the requests sent to ember, the echo server
// and the proxy.
func (b *bench) stopCPU(m *cpuMeter, phase string, et, bt, pt tally) {
	after, err := sampleCPU(m.pids)
	if err = errors.Join(m.err, err); err != nil {
		if !errors.Is(err, errNoProcCPU) {
			b.res.note("%s: CPU time not measured: %v", phase, err)
		}
		return
	}
	// A runtime that started during the phase counts from its start; one
	// that ended during the phase is lost, with what it used.
	var runtimes time.Duration
	for key, cpu := range after.runtimes {
		runtimes += cpu - m.before.runtimes[key]
	}
	ended := 0
	for key := range m.before.runtimes {
		if _, ok := after.runtimes[key]; !ok {
			ended++
		}
	}
	if ended > 0 {
		b.res.note("%s: %d runtime processes ended during the measurement; their CPU time is not counted", phase, ended)
	}
	en, bn, pn := et.requests(), bt.requests(), pt.requests()
	// The echo server answers the proxy's requests too, alike.
	echo := perRequest(after.echo-m.before.echo, bn+pn)
	b.res.addCPU(cpuUse{Phase: phase, Path: "ember",
		Client:       perRequest(m.client[pathEmber], en),
		Ember:        perRequest(after.ember-m.before.ember, en),
		Runtimes:     perRequest(runtimes, en),
		RuntimeProcs: len(after.runtimes),
	})
	b.res.addCPU(cpuUse{Phase: phase, Path: "echo", Client: perRequest(m.client[pathEcho], bn), Echo: echo})
	b.res.addCPU(cpuUse{Phase: phase, Path: "proxy", Client: perRequest(m.client[pathProxy], pn), Echo: echo,
		Proxy: perRequest(after.proxy-m.before.proxy, pn)})
}

// perRequest is d per request in microseconds.
func perRequest(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d) / float64(time.Microsecond) / float64(n)
}
