package harness

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// PinThreads sets the CPU affinity of every thread of the process pid to
// cpus (none: every CPU of the machine), and returns how many threads it
// set. A thread the process starts later inherits the mask of the thread
// that starts it, and a child process that of the thread that forks it,
// so a process pinned whole stays pinned, whatever it starts. A thread
// that ends meanwhile is skipped.
func PinThreads(pid int, cpus ...int) (int, error) {
	set, err := cpuSet(cpus)
	if err != nil {
		return 0, err
	}
	return pinThreads(pid, set)
}

// PinTree pins the process pid and all its descendants alive now, as
// PinThreads does, and returns how many threads it set. It goes over the
// tree twice, so that a thread or process started from one not yet
// pinned during the first pass is pinned by the second.
func PinTree(pid int, cpus ...int) (int, error) {
	set, err := cpuSet(cpus)
	if err != nil {
		return 0, err
	}
	n := 0
	for range 2 {
		n = 0
		queue := []int{pid}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			k, err := pinThreads(p, set)
			if err != nil {
				return n, err
			}
			n += k
			kids, err := ChildPIDs(p)
			if err != nil {
				return n, err
			}
			queue = append(queue, kids...)
		}
	}
	return n, nil
}

// LockToCPU locks the calling goroutine to its thread and pins that
// thread to cpu; the returned function unpins the thread (to every CPU)
// and unlocks it.
func LockToCPU(cpu int) (func(), error) {
	runtime.LockOSThread()
	set, err := cpuSet([]int{cpu})
	if err == nil {
		err = unix.SchedSetaffinity(0, &set)
	}
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("pin the client's thread to CPU %d: %w", cpu, err)
	}
	return func() {
		all, _ := cpuSet(nil)
		// The thread keeps its mask should this fail; the runtime then
		// ends it rather than use it again, as it does with a thread
		// still locked at a goroutine's end.
		if unix.SchedSetaffinity(0, &all) == nil {
			runtime.UnlockOSThread()
		}
	}, nil
}

// ThreadsOffCPUs counts the threads of the process pid and its
// descendants whose affinity is not exactly cpus: those that a pin
// missed.
func ThreadsOffCPUs(pid int, cpus ...int) (int, error) {
	want, err := cpuSet(cpus)
	if err != nil {
		return 0, err
	}
	off := 0
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		tids, err := threadIDs(p)
		if err != nil {
			return off, err
		}
		for _, tid := range tids {
			var got unix.CPUSet
			err := unix.SchedGetaffinity(tid, &got)
			if errors.Is(err, unix.ESRCH) {
				continue
			}
			if err != nil {
				return off, fmt.Errorf("affinity of thread %d of process %d: %w", tid, p, err)
			}
			if got != want {
				off++
			}
		}
		kids, err := ChildPIDs(p)
		if err != nil {
			return off, err
		}
		queue = append(queue, kids...)
	}
	return off, nil
}

func pinThreads(pid int, set unix.CPUSet) (int, error) {
	tids, err := threadIDs(pid)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, tid := range tids {
		err := unix.SchedSetaffinity(tid, &set)
		if errors.Is(err, unix.ESRCH) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("set the affinity of thread %d of process %d: %w", tid, pid, err)
		}
		n++
	}
	return n, nil
}

// threadIDs lists the threads of pid, none when it has ended.
func threadIDs(pid int) ([]int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if errors.Is(procErr(err), ErrProcGone) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(entries))
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		tids = append(tids, tid)
	}
	return tids, nil
}

// cpuSet is the set of cpus, or of every CPU of the machine when there
// are none.
func cpuSet(cpus []int) (unix.CPUSet, error) {
	var set unix.CPUSet
	if len(cpus) == 0 {
		n, err := OnlineCPUs()
		if err != nil {
			return set, err
		}
		for c := range n {
			set.Set(c)
		}
		return set, nil
	}
	for _, c := range cpus {
		set.Set(c)
	}
	return set, nil
}

// OnlineCPUs is the number of CPUs of the machine, from
// /sys/devices/system/cpu/online ("0-1"), whatever the affinity of the
// benchmark itself.
func OnlineCPUs() (int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return runtime.NumCPU(), nil
	}
	highest := -1
	for _, part := range strings.FieldsFunc(string(b), func(r rune) bool { return r == ',' || r == '\n' }) {
		hi := part[strings.LastIndexByte(part, '-')+1:]
		n, err := strconv.Atoi(hi)
		if err != nil {
			return 0, fmt.Errorf("/sys/devices/system/cpu/online: %q", b)
		}
		highest = max(highest, n)
	}
	if highest < 0 {
		return 0, fmt.Errorf("/sys/devices/system/cpu/online: %q", b)
	}
	return highest + 1, nil
}
