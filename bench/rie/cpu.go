package main

import (
	"errors"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

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
	runtimes, plainRuntimes map[harness.ProcKey]time.Duration
}

// sampleCPU reads the CPU time of the processes of p and of the embers'
// descendants alive now.
func sampleCPU(p cpuPIDs) (cpuSnapshot, error) {
	var s cpuSnapshot
	for _, one := range []struct {
		pid int
		cpu *time.Duration
	}{{p.ember, &s.ember}, {p.plain, &s.plain}, {p.echo, &s.echo}, {p.proxy, &s.proxy}} {
		_, cpu, err := harness.ProcCPU(one.pid)
		if err != nil {
			return s, err
		}
		*one.cpu = cpu
	}
	var err error
	if s.runtimes, err = harness.DescendantsCPU(p.ember); err != nil {
		return s, err
	}
	s.plainRuntimes, err = harness.DescendantsCPU(p.plain)
	return s, err
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
		ember: em.Pid(),
		plain: plain.Pid(),
		echo:  b.echo.Pid(),
		proxy: b.proxy.Pid(),
	}}
	m.before, m.err = sampleCPU(m.pids)
	return m
}

// turn runs f, and adds the benchmark's own CPU time while it runs to the
// client CPU time of path. Only the requests of that path run then.
func (m *cpuMeter) turn(path int, f func()) {
	before, err := harness.SelfCPU()
	f()
	after, err2 := harness.SelfCPU()
	m.client[path] += after - before
	m.err = errors.Join(m.err, err, err2)
}

// stopCPU adds to the results the CPU time per request that each process
// used since startCPU, given the requests sent to the sandboxed ember, the
// --no-sandbox one, the echo server and the proxy.
func (b *bench) stopCPU(m *cpuMeter, phase string, et, nt, bt, pt tally) {
	after, err := sampleCPU(m.pids)
	if err = errors.Join(m.err, err); err != nil {
		if !errors.Is(err, harness.ErrNoProc) {
			b.res.note("%s: CPU time not measured: %v", phase, err)
		}
		return
	}
	en, nn, bn, pn := et.requests(), nt.requests(), bt.requests(), pt.requests()
	// The echo server answers the proxy's requests too, alike.
	echo := harness.PerRequest(after.echo-m.before.echo, bn+pn)
	b.res.addCPU(harness.CPUUse{Phase: phase, Path: pathNameEmber,
		Client:       harness.PerRequest(m.client[pathEmber], en),
		Ember:        harness.PerRequest(after.ember-m.before.ember, en),
		Runtimes:     harness.PerRequest(b.runtimesCPU(phase, pathNameEmber, m.before.runtimes, after.runtimes), en),
		RuntimeProcs: len(after.runtimes),
	})
	b.res.addCPU(harness.CPUUse{Phase: phase, Path: pathNameNoSandbox,
		Client:       harness.PerRequest(m.client[pathNoSandbox], nn),
		Ember:        harness.PerRequest(after.plain-m.before.plain, nn),
		Runtimes:     harness.PerRequest(b.runtimesCPU(phase, pathNameNoSandbox, m.before.plainRuntimes, after.plainRuntimes), nn),
		RuntimeProcs: len(after.plainRuntimes),
	})
	b.res.addCPU(harness.CPUUse{Phase: phase, Path: pathNameEcho, Client: harness.PerRequest(m.client[pathEcho], bn), Echo: echo})
	b.res.addCPU(harness.CPUUse{Phase: phase, Path: pathNameProxy, Client: harness.PerRequest(m.client[pathProxy], pn), Echo: echo,
		Proxy: harness.PerRequest(after.proxy-m.before.proxy, pn)})
}

// runtimesCPU is the CPU time the runtimes of one ember used between two
// samples. A runtime that started in between counts from its start; one
// that ended in between is lost, with what it used, and a note says so.
func (b *bench) runtimesCPU(phase, path string, before, after map[harness.ProcKey]time.Duration) time.Duration {
	d, ended := harness.CPUBetween(before, after)
	if ended > 0 {
		b.res.note("%s, %s: %d runtime processes ended during the measurement; their CPU time is not counted", phase, path, ended)
	}
	return d
}
