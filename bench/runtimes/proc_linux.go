package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// childPIDs returns the children of pid, which /proc/PID/task/TID/children
// lists for each of its threads; none when pid has ended.
func childPIDs(pid int) ([]int, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		if errors.Is(procErr(err), errProcGone) {
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
		if errors.Is(procErr(err), errProcGone) {
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

// procErr marks with errProcGone an error that says the process or thread
// whose /proc file was read has ended.
func procErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%w: %v", errProcGone, err)
	}
	return err
}
