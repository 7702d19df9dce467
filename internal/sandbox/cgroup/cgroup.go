// Package cgroup owns the Linux control groups of ember's sandboxes: one
// subtree per ember process and one group per sandbox in it, with a memory
// limit that swap cannot extend, a CFS CPU quota and a pids limit, and what
// a sandbox's life needs of its group: add a process, freeze and thaw, count
// OOM kills, read and reset the memory peak, kill everything in it and
// remove it. It serves cgroup v2, cgroup v1 and the hybrid layout (v1
// controllers plus a cgroup2 mount without controllers, which is used for
// freezing and killing). It knows nothing of Lambda.
//
// It works on the cgroup files directly instead of through a cgroup library:
// a sandbox needs about a dozen files, the same few operations have to work on
// both versions, and the libraries handle the hybrid layout badly (one
// library's v2 manager fails on a hybrid machine as soon as it is given a
// memory limit, and a common OCI runtime refuses hybrid mode outright).
//
// Where the groups live:
//
//   - v1, and the v1 half of hybrid: under ember's own group in each
//     controller's hierarchy (as /proc/self/cgroup names it), so that a limit
//     an operator puts on ember also covers its sandboxes. v1 lets a group
//     hold processes and children at once.
//   - hybrid, the unified half: under ember's own group of the cgroup2 mount.
//     No controllers are enabled there, so nothing stops a group with
//     processes from having children.
//   - v2: under the root of the cgroup2 mount, never under ember's own group.
//     v2's "no internal processes" rule lets a group hand controllers to its
//     children only while it holds no processes itself, and ember's own group
//     holds ember; ember moves no process to make room. So on v2 a limit on
//     ember's own group does not cover its sandboxes. Where the root of the
//     mount holds processes itself (a container with a private cgroup
//     namespace, ember in its root group), the controllers cannot be enabled
//     and New returns ErrUnsupported: start ember in a leaf group of its own
//     and leave the container's root empty.
package cgroup

import (
	"errors"
	"fmt"
	"math"
)

// ErrUnsupported says that this machine or process has no usable cgroups:
// not Linux, not root, no cgroup file system mounted, or a controller ember
// needs is missing or cannot be enabled.
var ErrUnsupported = errors.New("cgroups unsupported")

// Limits are a group's resource limits; a zero field sets no limit.
type Limits struct {
	// MemoryBytes is the hard memory limit. Swap does not extend it: the
	// memory+swap limit is set to the same value on v1 where the kernel
	// accounts swap (else the group's swappiness is set to 0), and
	// memory.swap.max to 0 on v2.
	MemoryBytes int64
	// CPU is the CFS quota in CPUs, e.g. 0.0724 for a 128 MB function that
	// gets one CPU per 1769 MB: a quota of CPU × cpuPeriod microseconds per
	// period, at least minCPUQuota.
	CPU float64
	// Pids is the most tasks (processes and threads) the group may hold.
	Pids int64
}

// The CFS bandwidth figures, in microseconds.
const (
	cpuPeriod = 100000
	// minCPUQuota is the smallest quota the kernel accepts.
	minCPUQuota = 1000
)

// Mode names, as Manager.Mode returns them.
const (
	modeV1     = "v1"
	modeV2     = "v2"
	modeHybrid = "hybrid"
)

// validate rejects limits no kernel would take.
func (l Limits) validate() error {
	switch {
	case l.MemoryBytes < 0:
		return fmt.Errorf("invalid memory limit %d", l.MemoryBytes)
	case l.CPU < 0 || math.IsNaN(l.CPU) || math.IsInf(l.CPU, 0):
		return fmt.Errorf("invalid CPU limit %v", l.CPU)
	case l.CPU*cpuPeriod > math.MaxInt32*1000:
		return fmt.Errorf("CPU limit %v is too large", l.CPU)
	case l.Pids < 0:
		return fmt.Errorf("invalid pids limit %d", l.Pids)
	}
	return nil
}

// cpuQuota is the CFS quota for cpus CPUs, in microseconds per cpuPeriod.
func cpuQuota(cpus float64) int64 {
	return max(int64(math.Round(cpus*cpuPeriod)), minCPUQuota)
}

// checkName rejects a name that is not a plain directory name.
// A valid name is one path element without dots, so that it can never be
// taken for one of a group's interface files (cgroup.procs, memory.max,
// ...), which all have one. (A loop, not a regexp: this package is
// initialised in every sandbox's init stage.)
func checkName(name string) error {
	valid := len(name) >= 1 && len(name) <= 200
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			valid = false
		}
	}
	if !valid {
		return fmt.Errorf("invalid cgroup name %q: use 1 to 200 letters, digits, '_' and '-'", name)
	}
	return nil
}
