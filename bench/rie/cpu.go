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

// cpuPIDs are the server processes whose CPU time a phase measures: the
// sandboxed ember, the --no-sandbox one, the echo server and the proxy.
type cpuPIDs struct {
	ember, plain, echo, proxy int
}

// cpuSnapshot is the CPU time (user and system) the server processes of a
// phase have used so far.
type cpuSnapshot struct {
	ember, plain, echo, proxy time.Duration
	// runtimes and plainRuntimes are the children of the sandboxed and the
	// --no-sandbox ember, and their descendants.
	runtimes, plainRuntimes map[procKey]time.Duration
}

// sampleCPU reads the CPU time of the processes of p and of the embers'
// descendants alive now.
func sampleCPU(p cpuPIDs) (cpuSnapshot, error) {
	var s cpuSnapshot
	for _, one := range []struct {
		pid int
		cpu *time.Duration
	}{{p.ember, &s.ember}, {p.plain, &s.plain}, {p.echo, &s.echo}, {p.proxy, &s.proxy}} {
		_, cpu, err := procCPU(one.pid)
		if err != nil {
			return s, err
		}
		*one.cpu = cpu
	}
	var err error
	if s.runtimes, err = descendantsCPU(p.ember); err != nil {
		return s, err
	}
	s.plainRuntimes, err = descendantsCPU(p.plain)
	return s, err
}

// descendantsCPU reads the CPU time of the descendants of pid alive now.
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

// The paths a request takes, in the order of cpuMeter.client.
const (
	// pathEmber is through the sandboxed ember.
	pathEmber = iota
	// pathNoSandbox is through the --no-sandbox ember.
	pathNoSandbox
	pathEcho
	pathProxy
	numPaths
)

// The names of the paths in the CPU table and the JSON.
const (
	pathNameEmber     = "ember"
	pathNameNoSandbox = "ember " + variantNoSandbox
	pathNameEcho      = "echo"
	pathNameProxy     = "proxy"
)

// cpuMeter measures the CPU time of a phase's processes from its start.
type cpuMeter struct {
	pids   cpuPIDs
	before cpuSnapshot
	// client is the benchmark's own CPU time during the turns of each
	// path.
	client [numPaths]time.Duration
	err    error
}

// startCPU samples the CPU time that the sandboxed ember em, the
// --no-sandbox ember plain, their runtimes, and the baselines have used so
// far.
func (b *bench) startCPU(em, plain *emberServer) *cpuMeter {
	m := &cpuMeter{pids: cpuPIDs{
		ember: em.child.cmd.Process.Pid,
		plain: plain.child.cmd.Process.Pid,
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
// used since startCPU, given the requests sent to the sandboxed ember, the
// --no-sandbox one, the echo server and the proxy.
func (b *bench) stopCPU(m *cpuMeter, phase string, et, nt, bt, pt tally) {
	after, err := sampleCPU(m.pids)
	if err = errors.Join(m.err, err); err != nil {
		if !errors.Is(err, errNoProcCPU) {
			b.res.note("%s: CPU time not measured: %v", phase, err)
		}
		return
	}
	en, nn, bn, pn := et.requests(), nt.requests(), bt.requests(), pt.requests()
	// The echo server answers the proxy's requests too, alike.
	echo := perRequest(after.echo-m.before.echo, bn+pn)
	b.res.addCPU(cpuUse{Phase: phase, Path: pathNameEmber,
		Client:       perRequest(m.client[pathEmber], en),
		Ember:        perRequest(after.ember-m.before.ember, en),
		Runtimes:     perRequest(b.runtimesCPU(phase, pathNameEmber, m.before.runtimes, after.runtimes), en),
		RuntimeProcs: len(after.runtimes),
	})
	b.res.addCPU(cpuUse{Phase: phase, Path: pathNameNoSandbox,
		Client:       perRequest(m.client[pathNoSandbox], nn),
		Ember:        perRequest(after.plain-m.before.plain, nn),
		Runtimes:     perRequest(b.runtimesCPU(phase, pathNameNoSandbox, m.before.plainRuntimes, after.plainRuntimes), nn),
		RuntimeProcs: len(after.plainRuntimes),
	})
	b.res.addCPU(cpuUse{Phase: phase, Path: pathNameEcho, Client: perRequest(m.client[pathEcho], bn), Echo: echo})
	b.res.addCPU(cpuUse{Phase: phase, Path: pathNameProxy, Client: perRequest(m.client[pathProxy], pn), Echo: echo,
		Proxy: perRequest(after.proxy-m.before.proxy, pn)})
}

// runtimesCPU is the CPU time the runtimes of one ember used between two
// samples. A runtime that started in between counts from its start; one
// that ended in between is lost, with what it used, and a note says so.
func (b *bench) runtimesCPU(phase, path string, before, after map[procKey]time.Duration) time.Duration {
	var d time.Duration
	for key, cpu := range after {
		d += cpu - before[key]
	}
	ended := 0
	for key := range before {
		if _, ok := after[key]; !ok {
			ended++
		}
	}
	if ended > 0 {
		b.res.note("%s, %s: %d runtime processes ended during the measurement; their CPU time is not counted", phase, path, ended)
	}
	return d
}

// perRequest is d per request in microseconds.
func perRequest(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d) / float64(time.Microsecond) / float64(n)
}
