package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lock takes the store's lock: exclusive for a change, shared for a read.
// Each call opens dir/lock anew, so that flocks of one process exclude
// each other as those of two processes do; the mutex keeps this process's
// goroutines from queueing on the flock. The returned func releases both.
func (s *Store) lock(exclusive bool) (unlock func(), err error) {
	if exclusive {
		s.mu.Lock()
	} else {
		s.mu.RLock()
	}
	release := func() {
		if exclusive {
			s.mu.Unlock()
		} else {
			s.mu.RUnlock()
		}
	}
	f, err := os.OpenFile(filepath.Join(s.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		release()
		return nil, fmt.Errorf("lock image store: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := flock(f, how); err != nil {
		f.Close()
		release()
		return nil, fmt.Errorf("lock image store: %w", err)
	}
	return func() {
		f.Close() // closing the last descriptor releases the flock
		release()
	}, nil
}

// flock calls flock(2) on f, again when a signal interrupts it.
func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// workDir is a directory under dir/tmp that one operation works in. It
// holds an exclusive flock on the directory while in use, so that a
// process cleaning up leftovers tells work in progress (locked) from what
// a crashed process left (unlocked).
type workDir struct {
	path string
	f    *os.File
}

// newWorkDir makes a locked work directory.
func (s *Store) newWorkDir() (*workDir, error) {
	p, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "w-")
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	f, err := os.Open(p)
	if err != nil {
		os.RemoveAll(p)
		return nil, fmt.Errorf("work directory: %w", err)
	}
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.RemoveAll(p)
		return nil, fmt.Errorf("work directory: %w", err)
	}
	return &workDir{path: p, f: f}, nil
}

// release removes the work directory with what is left in it, and drops
// its lock.
func (w *workDir) release() error {
	err := removeTree(w.path)
	w.f.Close()
	if err != nil {
		return fmt.Errorf("remove work directory: %w", err)
	}
	return nil
}

// removeLeftovers removes the work directories in dir/tmp that no live
// operation holds, and returns how many it removed and the bytes of the
// regular files in them.
func (s *Store) removeLeftovers() (n int, bytes int64, err error) {
	tmp := filepath.Join(s.dir, "tmp")
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return 0, 0, fmt.Errorf("leftovers: %w", err)
	}
	for _, e := range entries {
		p := filepath.Join(tmp, e.Name())
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return n, bytes, fmt.Errorf("leftovers: %w", err)
		}
		if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close() // in use by a live operation
			continue
		}
		size := treeSize(p)
		err = removeTree(p)
		f.Close()
		if err != nil {
			return n, bytes, fmt.Errorf("leftovers: %w", err)
		}
		n++
		bytes += size
	}
	return n, bytes, nil
}

// treeSize adds up the sizes of the regular files under p, as well as it
// can read them.
func treeSize(p string) int64 {
	var size int64
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	return size
}

// removeTree removes p and everything under it. A tree unpacked without
// root may hold directories without write permission; those are made
// writable for their owner and the removal is tried again.
func removeTree(p string) error {
	err := os.RemoveAll(p)
	if err == nil || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			if info, err := d.Info(); err == nil {
				os.Chmod(q, info.Mode().Perm()|0o700)
			}
		}
		return nil
	})
	return os.RemoveAll(p)
}
