package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// RemoveStale removes the subtrees beside this manager's own that stale
// says are left over (a process that made them was killed before it could
// remove them): it kills what still runs in them and removes their
// directories in every hierarchy.
func (m *Manager) RemoveStale(stale func(name string) bool) error {
	roots := slices.Collect(func(yield func(string) bool) {
		if m.v2 != "" && !yield(m.v2) {
			return
		}
		for _, dir := range m.v1 {
			if !yield(dir) {
				return
			}
		}
	})
	var errs []error
	done := map[string]bool{}
	for _, root := range roots {
		parent, own := filepath.Dir(root), filepath.Base(root)
		if done[parent] {
			continue
		}
		done[parent] = true
		entries, err := os.ReadDir(parent)
		if err != nil {
			errs = append(errs, fmt.Errorf("stale cgroups in %s: %w", parent, err))
			continue
		}
		for _, e := range entries {
			if !e.IsDir() || e.Name() == own || !stale(e.Name()) {
				continue
			}
			if err := removeTree(filepath.Join(parent, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// removeTree kills every process of the cgroup tree at top and removes its
// directories, deepest first.
func removeTree(top string) error {
	var dirs []string
	err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("stale cgroup %s: %w", top, err)
	}
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	// Killed processes leave their cgroup as they exit, a moment later.
	for _, dir := range dirs {
		err := poll(removeTimeout, func() (bool, error) {
			b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
			return err != nil || len(strings.TrimSpace(string(b))) == 0, nil
		})
		if err != nil {
			return fmt.Errorf("stale cgroup %s: its processes did not end: %w", dir, err)
		}
	}
	// The walk lists parents before children: removeDirs removes in
	// reverse.
	return removeDirs(dirs, removeTimeout)
}
