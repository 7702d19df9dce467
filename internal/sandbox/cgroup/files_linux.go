package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// errTimeout says that a condition polled for did not come true in time.
var errTimeout = errors.New("timed out")

// writeFile writes value to an existing cgroup file in one write, as the
// kernel wants it.
func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readInt reads a file holding one number.
func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parseInt(path, b)
}

func parseInt(path string, b []byte) (int64, error) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return n, nil
}

// readKey reads the number of key in a flat keyed file ("key value" lines,
// as memory.events and memory.oom_control are).
func readKey(path, key string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == key {
			return parseInt(path, []byte(v))
		}
	}
	return 0, fmt.Errorf("read %s: no %q", path, key)
}

// readProcs adds the processes of the group in dir to set.
func readProcs(dir string, set map[int]bool) error {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return err
	}
	for f := range strings.FieldsSeq(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Join(dir, "cgroup.procs"), err)
		}
		set[pid] = true
	}
	return nil
}

// sortedPids lists a set of pids in order.
func sortedPids(set map[int]bool) []int {
	pids := make([]int, 0, len(set))
	for pid := range set {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// controllerSet reads a space-separated list of controllers
// (cgroup.controllers, cgroup.subtree_control).
func controllerSet(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(b)), nil
}

// makeDir creates a group's directory. A file system that refuses it
// (read-only, permission) makes cgroups unusable rather than failing.
func makeDir(dir string) error {
	err := os.Mkdir(dir, 0o755)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("create cgroup %s: already exists: %w", dir, err)
	case errors.Is(err, syscall.EROFS), errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: create cgroup %s: %w", ErrUnsupported, dir, err)
	}
	return fmt.Errorf("create cgroup %s: %w", dir, err)
}

// removeDirs removes the directories of groups, last first; one that is
// gone already counts as removed. The kernel refuses with EBUSY while a group
// has processes or children. When it has neither that can only be a
// process still leaving, so the removal is retried, all of them for up to
// timeout together; otherwise it fails at once.
func removeDirs(dirs []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var errs []error
	for _, dir := range slices.Backward(dirs) {
		err := poll(time.Until(deadline), func() (bool, error) {
			err := syscall.Rmdir(dir)
			switch {
			case err == nil, errors.Is(err, syscall.ENOENT):
				return true, nil
			case errors.Is(err, syscall.EBUSY):
				if why := inUse(dir); why != "" {
					return false, fmt.Errorf("%w: %s", err, why)
				}
				return false, nil
			}
			return false, err
		})
		if errors.Is(err, errTimeout) {
			err = syscall.EBUSY
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// inUse says what keeps the group in dir from being removed: processes or
// child groups; "" if it sees neither.
func inUse(dir string) string {
	procs := map[int]bool{}
	if readProcs(dir, procs) == nil && len(procs) > 0 {
		return fmt.Sprintf("processes %v in it", sortedPids(procs))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if e.IsDir() {
			return fmt.Sprintf("group %s in it", e.Name())
		}
	}
	return ""
}

// poll calls done until it reports true or fails, for up to timeout; it
// returns errTimeout if that passes first. The pause between calls starts
// short, since most conditions it waits for are a few microseconds away,
// and grows to a few milliseconds.
func poll(timeout time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	pause := 20 * time.Microsecond
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errTimeout
		}
		time.Sleep(pause)
		pause = min(2*pause, 5*time.Millisecond)
	}
}
