//go:build !linux

package harness

import (
	"errors"
	"runtime"
)

// errNoAffinity says that this system cannot pin threads to CPUs the way
// the benchmarks do (Linux only).
var errNoAffinity = errors.New("CPU affinity is set through sched_setaffinity, Linux only")

// PinThreads fails outside Linux.
func PinThreads(int, ...int) (int, error) { return 0, errNoAffinity }

// PinTree fails outside Linux.
func PinTree(int, ...int) (int, error) { return 0, errNoAffinity }

// LockToCPU fails outside Linux.
func LockToCPU(int) (func(), error) { return nil, errNoAffinity }

// ThreadsOffCPUs fails outside Linux.
func ThreadsOffCPUs(int, ...int) (int, error) { return 0, errNoAffinity }

// OnlineCPUs is runtime.NumCPU outside Linux.
func OnlineCPUs() (int, error) { return runtime.NumCPU(), nil }
