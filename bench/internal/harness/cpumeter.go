package harness

import (
	"errors"
	"time"
)

// CPUMeter measures, turn by turn, the CPU time (user and system) of the
// client (the benchmark's own process), of the server a path's requests
// go to, and of that server's descendants (ember's runtimes and
// sandboxes), and adds it to the path's. Only the processes of the
// path whose turn it is are read; work of a process that spills over
// into another path's turn, or falls between turns, is not counted.
// Only the benchmark's main goroutine uses it.
type CPUMeter struct {
	servers map[string]int
	totals  map[string]*CPUTotals
	err     error
}

// CPUTotals are the CPU time the processes of one path used during its
// turns.
type CPUTotals struct {
	Client, Server, Descendants time.Duration
	// Ended counts the descendants that ended during a turn, whose CPU
	// time since the turn's start is lost.
	Ended int
}

// NewCPUMeter returns a meter of the servers, by the name of the path
// whose requests go to each.
func NewCPUMeter(servers map[string]int) *CPUMeter {
	return &CPUMeter{servers: servers, totals: make(map[string]*CPUTotals)}
}

type cpuSample struct {
	client, server time.Duration
	descendants    map[ProcKey]time.Duration
}

func (m *CPUMeter) sample(pid int) (cpuSample, error) {
	var s cpuSample
	var err error
	if s.client, err = SelfCPU(); err != nil {
		return s, err
	}
	if _, s.server, err = ProcCPU(pid); err != nil {
		return s, err
	}
	s.descendants, err = DescendantsCPU(pid)
	return s, err
}

// Turn runs f, the timed part of a turn of path, and adds what each
// process used meanwhile to path's totals. It is a TurnFunc.
func (m *CPUMeter) Turn(path string, f func()) {
	pid, ok := m.servers[path]
	if !ok || m.err != nil {
		f()
		return
	}
	before, err := m.sample(pid)
	f()
	after, err2 := m.sample(pid)
	if err = errors.Join(err, err2); err != nil {
		m.err = err
		return
	}
	t := m.totals[path]
	if t == nil {
		t = &CPUTotals{}
		m.totals[path] = t
	}
	t.Client += after.client - before.client
	t.Server += after.server - before.server
	d, ended := CPUBetween(before.descendants, after.descendants)
	t.Descendants += d
	t.Ended += ended
}

// Totals returns what the processes of path used in its turns so far,
// or the first error of a reading: then nothing was measured.
func (m *CPUMeter) Totals(path string) (CPUTotals, error) {
	if m.err != nil {
		return CPUTotals{}, m.err
	}
	if t := m.totals[path]; t != nil {
		return *t, nil
	}
	return CPUTotals{}, nil
}
