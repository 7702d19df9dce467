package harness

import (
	"errors"
	"time"
)

// ErrNoProc says that this system has no /proc to read the CPU time,
// memory and children of another process from.
var ErrNoProc = errors.New("the CPU time, memory and children of a process are read from /proc, Linux only")

// ErrProcGone says that a process ended before its /proc file was read.
var ErrProcGone = errors.New("process gone")

// ProcKey names a process: a pid, and its start time since boot, because
// a pid can be used again.
type ProcKey struct {
	PID   int
	Start uint64
}

// DescendantsCPU reads the CPU time (user and system) of the descendants
// of pid alive now: ember's function runtimes and their sandboxes'
// processes.
func DescendantsCPU(pid int) (map[ProcKey]time.Duration, error) {
	cpus := make(map[ProcKey]time.Duration)
	queue, err := ChildPIDs(pid)
	if err != nil {
		return cpus, err
	}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		key, cpu, err := ProcCPU(pid)
		if errors.Is(err, ErrProcGone) {
			continue
		}
		if err != nil {
			return cpus, err
		}
		cpus[key] = cpu
		kids, err := ChildPIDs(pid)
		if err != nil {
			return cpus, err
		}
		queue = append(queue, kids...)
	}
	return cpus, nil
}

// CPUBetween is the CPU time that the processes of two samples of
// DescendantsCPU used in between. A process that started in between
// counts from its start; one that ended in between is lost, with what it
// used: ended counts those.
func CPUBetween(before, after map[ProcKey]time.Duration) (d time.Duration, ended int) {
	for key, cpu := range after {
		d += cpu - before[key]
	}
	for key := range before {
		if _, ok := after[key]; !ok {
			ended++
		}
	}
	return d, ended
}

// PerRequest is d per request in microseconds, 0 without requests.
func PerRequest(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d) / float64(time.Microsecond) / float64(n)
}

// ProcMemory is the resident memory of a process, from /proc/PID/status:
// VmRSS now, and VmHWM, the most it has had since it started, in bytes.
type ProcMemory struct {
	RSS int64 `json:"vm_rss"`
	HWM int64 `json:"vm_hwm"`
}
