package harness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// which `getconf CLK_TCK` prints. It is 100 Hz on every Linux architecture
// Go supports, whatever the kernel's own HZ, so the harness assumes it
// rather than ask sysconf, which would take cgo.
const clockTick = time.Second / 100

// ProcCPU reads the user and system time pid has used, fields 14 and 15
// of /proc/PID/stat, and its start time, field 22.
func ProcCPU(pid int) (ProcKey, time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcKey{}, 0, procErr(err)
	}
	// Field 2, the command name in parentheses, may hold spaces and
	// parentheses itself: field 3 comes after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ProcKey{}, 0, fmt.Errorf("/proc/%d/stat: no command name in %q", pid, b)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 22-2 {
		return ProcKey{}, 0, fmt.Errorf("/proc/%d/stat: %d fields, want 22 or more", pid, len(fields)+2)
	}
	var v [3]uint64
	for j, n := range []int{14, 15, 22} {
		if v[j], err = strconv.ParseUint(fields[n-3], 10, 64); err != nil {
			return ProcKey{}, 0, fmt.Errorf("/proc/%d/stat field %d: %w", pid, n, err)
		}
	}
	return ProcKey{PID: pid, Start: v[2]}, time.Duration(v[0]+v[1]) * clockTick, nil
}

// ChildPIDs returns the children of pid, which /proc/PID/task/TID/children
// lists for each of its threads; none when pid has ended.
func ChildPIDs(pid int) ([]int, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		if errors.Is(procErr(err), ErrProcGone) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("no /proc/%d/task/*/children: the kernel was built without CONFIG_PROC_CHILDREN", pid)
	}
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if errors.Is(procErr(err), ErrProcGone) {
			continue // the thread ended
		}
		if err != nil {
			return nil, err
		}
		for _, s := range strings.Fields(string(b)) {
			child, err := strconv.Atoi(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			pids = append(pids, child)
		}
	}
	return pids, nil
}

// procErr marks with ErrProcGone an error that says the process or thread
// whose /proc file was read has ended.
func procErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%w: %v", ErrProcGone, err)
	}
	return err
}

// SelfCPU is the user and system time the benchmark's own process has used
// so far, to the microsecond.
func SelfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// ReadMemory reads VmRSS and VmHWM of pid from /proc/PID/status.
func ReadMemory(pid int) (ProcMemory, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return ProcMemory{}, procErr(err)
	}
	var m ProcMemory
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.HWM
		default:
			continue
		}
		kb, ok := strings.CutSuffix(strings.TrimSpace(value), " kB")
		if !ok {
			return m, fmt.Errorf("%s: %s is %q, not in kB", path, name, value)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(kb), 10, 64)
		if err != nil {
			return m, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		*dst = n << 10
		found++
	}
	if found != 2 {
		return m, fmt.Errorf("%s has no VmRSS or VmHWM", path)
	}
	return m, nil
}
