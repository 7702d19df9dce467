package cgroup

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds of the waits inside Freeze and Kill.
const (
	// quickFreeze is how long a group that its CPU quota does not hold
	// back takes to freeze, with a margin: it took 50 to 200 µs where
	// measured.
	quickFreeze   = 500 * time.Microsecond
	freezeTimeout = 5 * time.Second
	killTimeout   = 5 * time.Second
)

// Group is one sandbox's cgroup: a directory in each hierarchy in use. Its
// methods are safe for concurrent use.
type Group struct {
	m    *Manager
	name string
	// v2 is the group's directory in the cgroup2 hierarchy (the unified one
	// in hybrid mode); "" in mode v1.
	v2 string
	// v1 maps each v1 controller in use to the group's directory.
	v1 map[string]string
	// dirs are the directories made, in order.
	dirs []string
	// quota is the CFS quota set, in microseconds per cpuPeriod; 0 if none.
	quota int64

	mu sync.Mutex
	// fd is the open v2 directory for CLONE_INTO_CGROUP; -1 unless mode v2.
	fd int
	// peak is memory.peak, kept open in mode v2: a reset through a write
	// holds only for reads through the same open file.
	peak *os.File
	// peakResets says that peak was opened for writing (Linux 6.12).
	peakResets bool
	deleted    bool
	// hot are the files read or written at every invocation (freeze,
	// events, the v1 peak), kept open: on cgroupfs the open is the dear
	// part.
	hot map[string]*os.File
}

// hotFile returns the open file at path, opening it read-write on first use.
func (g *Group) hotFile(path string) (*os.File, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.hot[path]; ok {
		return f, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if g.hot == nil {
		g.hot = map[string]*os.File{}
	}
	g.hot[path] = f
	return f, nil
}

// writeHot writes value to the cgroup file at path in one write.
func (g *Group) writeHot(path, value string) error {
	f, err := g.hotFile(path)
	if err != nil {
		return err
	}
	_, err = f.WriteAt([]byte(value), 0)
	return err
}

// readHot reads the whole cgroup file at path.
func (g *Group) readHot(path string) ([]byte, error) {
	f, err := g.hotFile(path)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 4096)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:n], nil
}

// make creates the group's directories and sets its limits.
func (g *Group) make(l Limits) error {
	if g.m.v1 != nil {
		g.v1 = map[string]string{}
		for _, c := range v1Controllers {
			sub, ok := g.m.v1[c]
			if !ok {
				continue
			}
			dir := filepath.Join(sub, g.name)
			if err := g.makeDir(dir); err != nil {
				return err
			}
			g.v1[c] = dir
		}
	}
	if g.m.v2 != "" {
		g.v2 = filepath.Join(g.m.v2, g.name)
		if err := g.makeDir(g.v2); err != nil {
			return err
		}
	}
	if l.CPU > 0 {
		g.quota = cpuQuota(l.CPU)
	}
	if g.m.mode == modeV2 {
		if err := g.setV2Limits(l); err != nil {
			return err
		}
		return g.openV2Files()
	}
	return g.setV1Limits(l)
}

// makeDir makes one of the group's directories, once for controllers that
// share a hierarchy.
func (g *Group) makeDir(dir string) error {
	for _, d := range g.dirs {
		if d == dir {
			return nil
		}
	}
	if err := makeDir(dir); err != nil {
		return err
	}
	g.dirs = append(g.dirs, dir)
	return nil
}

func (g *Group) setV2Limits(l Limits) error {
	var files [][2]string
	if l.MemoryBytes > 0 {
		files = append(files, [2]string{"memory.max", strconv.FormatInt(l.MemoryBytes, 10)})
		// Without swap accounting there is no memory.swap.max, and no swap
		// can extend the limit either.
		if exists(filepath.Join(g.v2, "memory.swap.max")) {
			files = append(files, [2]string{"memory.swap.max", "0"})
		}
	}
	if l.CPU > 0 {
		files = append(files, [2]string{"cpu.max", fmt.Sprintf("%d %d", g.quota, cpuPeriod)})
	}
	if l.Pids > 0 {
		files = append(files, [2]string{"pids.max", strconv.FormatInt(l.Pids, 10)})
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(g.v2, f[0]), f[1]); err != nil {
			return fmt.Errorf("set limit: %w", err)
		}
	}
	return nil
}

func (g *Group) setV1Limits(l Limits) error {
	var files [][2]string
	if l.MemoryBytes > 0 {
		mem := g.v1["memory"]
		limit := strconv.FormatInt(l.MemoryBytes, 10)
		// The memory limit first: memory+swap may not be below it.
		files = append(files, [2]string{filepath.Join(mem, "memory.limit_in_bytes"), limit})
		if exists(filepath.Join(mem, "memory.memsw.limit_in_bytes")) {
			files = append(files, [2]string{filepath.Join(mem, "memory.memsw.limit_in_bytes"), limit})
		} else {
			// The kernel does not account swap: keep the group out of it.
			files = append(files, [2]string{filepath.Join(mem, "memory.swappiness"), "0"})
		}
	}
	if l.CPU > 0 {
		cpu := g.v1["cpu"]
		files = append(files,
			[2]string{filepath.Join(cpu, "cpu.cfs_period_us"), strconv.Itoa(cpuPeriod)},
			[2]string{filepath.Join(cpu, "cpu.cfs_quota_us"), strconv.FormatInt(g.quota, 10)})
	}
	if l.Pids > 0 {
		files = append(files, [2]string{filepath.Join(g.v1["pids"], "pids.max"), strconv.FormatInt(l.Pids, 10)})
	}
	for _, f := range files {
		if err := writeFile(f[0], f[1]); err != nil {
			return fmt.Errorf("set limit: %w", err)
		}
	}
	return nil
}

// openV2Files opens the group's directory for CLONE_INTO_CGROUP and its
// memory.peak, for writing where the kernel allows resetting it.
func (g *Group) openV2Files() error {
	fd, err := syscall.Open(g.v2, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", g.v2, err)
	}
	g.fd = fd
	path := filepath.Join(g.v2, "memory.peak")
	if g.peak, err = os.OpenFile(path, os.O_RDWR, 0); err == nil {
		g.peakResets = true
		return nil
	}
	g.peak, err = os.Open(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// closeFiles closes what openV2Files opened.
func (g *Group) closeFiles() {
	if g.fd >= 0 {
		syscall.Close(g.fd)
		g.fd = -1
	}
	if g.peak != nil {
		g.peak.Close()
		g.peak, g.peakResets = nil, false
	}
	for path, f := range g.hot {
		f.Close()
		delete(g.hot, path)
	}
}

// memoryDir is the directory with the memory controller's files.
func (g *Group) memoryDir() string {
	if g.m.mode == modeV2 {
		return g.v2
	}
	return g.v1["memory"]
}

// FD returns an open file descriptor of the group's directory, for
// SysProcAttr.UseCgroupFD and CgroupFD: the new process then starts inside
// the group (CLONE_INTO_CGROUP). It is only offered in mode v2, where that
// one directory carries all the limits; otherwise, and after Delete, the
// result is false and the process must be started paused and added. The
// descriptor stays owned by the group and is valid until Delete.
func (g *Group) FD() (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.fd, g.fd >= 0
}

// Add moves process pid, with all its threads, into the group: into each v1
// hierarchy's directory and the cgroup2 one. Its children from then on are
// born in the group.
func (g *Group) Add(pid int) error {
	// Each hierarchy's move waits for the kernel to synchronise its
	// global threadgroup lock (an RCU grace period, milliseconds): made at
	// once, the moves share the wait.
	s := strconv.Itoa(pid)
	errs := make([]error, len(g.dirs))
	var wg sync.WaitGroup
	for i, dir := range g.dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = writeFile(filepath.Join(dir, "cgroup.procs"), s)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("add process %d to cgroup %s: %w", pid, g.name, err)
	}
	return nil
}

// Procs lists the processes in the group, in any of its directories.
func (g *Group) Procs() ([]int, error) {
	set, err := g.procSet()
	if err != nil {
		return nil, err
	}
	return sortedPids(set), nil
}

func (g *Group) procSet() (map[int]bool, error) {
	set := map[int]bool{}
	for _, dir := range g.dirs {
		if err := readProcs(dir, set); err != nil {
			return nil, fmt.Errorf("processes of cgroup %s: %w", g.name, err)
		}
	}
	return set, nil
}

// Freeze stops every process in the group and returns once all are stopped:
// through the cgroup2 cgroup.freeze where there is one (the unified hierarchy
// in hybrid mode), else through the v1 freezer. A task has to run to stop,
// so a group its CPU quota holds back would take up to a CFS period to
// freeze; when stopping takes longer than quickFreeze, a group with a quota
// has it lifted until every task has stopped, which costs it a few
// microseconds of CPU. If the group does not freeze within freezeTimeout, or
// anything else fails, it is thawed again; except if its quota could not be
// put back, when it stays frozen rather than run unlimited.
func (g *Group) Freeze() error {
	if err := g.setFrozen(true); err != nil {
		return fmt.Errorf("freeze cgroup %s: %w", g.name, err)
	}
	err := g.waitFrozen(true, quickFreeze)
	if errors.Is(err, errTimeout) && g.quota > 0 {
		if err = g.setQuota(-1); err == nil {
			err = g.waitFrozen(true, freezeTimeout)
			if qerr := g.setQuota(g.quota); qerr != nil {
				return fmt.Errorf("freeze cgroup %s: restore the CPU quota: %w", g.name, qerr)
			}
		}
	} else if errors.Is(err, errTimeout) {
		err = g.waitFrozen(true, freezeTimeout)
	}
	if err != nil {
		g.Thaw()
		return fmt.Errorf("freeze cgroup %s: %w", g.name, err)
	}
	return nil
}

// Pause freezes the group like Freeze, but where the kernel completes a
// freeze by itself (cgroup2's cgroup.freeze) it returns without waiting for
// the processes to stop: each stops as it next runs, a running one at once,
// one that its CPU quota holds back when the quota lets it run. With the v1
// freezer it is Freeze.
func (g *Group) Pause() error {
	if !g.m.freezeV2 {
		return g.Freeze()
	}
	if err := g.setFrozen(true); err != nil {
		return fmt.Errorf("pause cgroup %s: %w", g.name, err)
	}
	return nil
}

// SetCPU changes the group's CPU limit: cpus CPUs of CFS quota, or none
// for 0. On a v2 group made without a CPU limit, the cpu controller must
// already be enabled for it (it is whenever the manager has it).
func (g *Group) SetCPU(cpus float64) error {
	if cpus < 0 {
		return fmt.Errorf("set cpu of cgroup %s: negative limit %v", g.name, cpus)
	}
	quota := int64(-1)
	if cpus > 0 {
		quota = cpuQuota(cpus)
	}
	if err := g.setQuota(quota); err != nil {
		return fmt.Errorf("set cpu of cgroup %s: %w", g.name, err)
	}
	g.mu.Lock()
	g.quota = max(quota, 0)
	g.mu.Unlock()
	return nil
}

// setQuota sets the CFS quota in microseconds per cpuPeriod; -1 for none.
func (g *Group) setQuota(quota int64) error {
	if g.m.mode == modeV2 {
		value := "max"
		if quota >= 0 {
			value = strconv.FormatInt(quota, 10)
		}
		return writeFile(filepath.Join(g.v2, "cpu.max"), fmt.Sprintf("%s %d", value, cpuPeriod))
	}
	return writeFile(filepath.Join(g.v1["cpu"], "cpu.cfs_quota_us"), strconv.FormatInt(quota, 10))
}

// Thaw lets the processes of a frozen group run again.
func (g *Group) Thaw() error {
	// The tasks of a v2 group run again as soon as the write returns; a
	// v1 freezer may need its state polled.
	err := g.setFrozen(false)
	if err == nil && !g.m.freezeV2 {
		err = g.waitFrozen(false, freezeTimeout)
	}
	if err != nil {
		return fmt.Errorf("thaw cgroup %s: %w", g.name, err)
	}
	return nil
}

// setFrozen asks the kernel to freeze or thaw the group.
func (g *Group) setFrozen(frozen bool) error {
	if g.m.freezeV2 {
		return g.writeHot(filepath.Join(g.v2, "cgroup.freeze"), map[bool]string{true: "1", false: "0"}[frozen])
	}
	return g.writeHot(filepath.Join(g.v1["freezer"], "freezer.state"), v1FreezerState(frozen))
}

func v1FreezerState(frozen bool) string {
	if frozen {
		return "FROZEN"
	}
	return "THAWED"
}

// waitFrozen waits up to timeout until the group is frozen or thawed, as
// cgroup2's cgroup.events or the v1 freezer.state says. The v1 freezer
// reads FREEZING while a task has not stopped yet; writing FROZEN again now
// and then retries those.
func (g *Group) waitFrozen(frozen bool, timeout time.Duration) error {
	if g.m.freezeV2 {
		events := filepath.Join(g.v2, "cgroup.events")
		want := map[bool]string{true: "frozen 1", false: "frozen 0"}[frozen]
		return poll(timeout, func() (bool, error) {
			b, err := g.readHot(events)
			return strings.Contains(string(b), want), err
		})
	}
	path := filepath.Join(g.v1["freezer"], "freezer.state")
	want := v1FreezerState(frozen)
	tries := 0
	return poll(timeout, func() (bool, error) {
		b, err := g.readHot(path)
		if err != nil {
			return false, err
		}
		if strings.TrimSpace(string(b)) == want {
			return true, nil
		}
		if tries++; frozen && tries%8 == 0 {
			return false, g.writeHot(path, want)
		}
		return false, nil
	})
}

// Kill kills every process in the group and waits, for up to killTimeout,
// until none is left. Where the cgroup2 cgroup.kill exists (the unified
// hierarchy in hybrid mode too) the kernel kills them all at once; otherwise
// the group is frozen so that none can fork or exit under it, each process is
// sent SIGKILL, and the group is thawed so that they die. Processes still
// there while it waits are sent SIGKILL again. Kill on a deleted group does
// nothing.
func (g *Group) Kill() error {
	g.mu.Lock()
	deleted := g.deleted
	g.mu.Unlock()
	if deleted {
		// Delete succeeds only on an empty group.
		return nil
	}
	if g.m.killV2 {
		if err := writeFile(filepath.Join(g.v2, "cgroup.kill"), "1"); err != nil {
			return fmt.Errorf("kill cgroup %s: %w", g.name, err)
		}
	} else {
		frozen := g.Freeze() == nil
		_, err := g.signalAll(syscall.SIGKILL)
		if frozen {
			if terr := g.Thaw(); err == nil {
				err = terr
			}
		}
		if err != nil {
			return fmt.Errorf("kill cgroup %s: %w", g.name, err)
		}
	}
	err := poll(killTimeout, func() (bool, error) {
		n, err := g.signalAll(syscall.SIGKILL)
		return n == 0, err
	})
	if err != nil {
		return fmt.Errorf("kill cgroup %s: %w", g.name, err)
	}
	return nil
}

// signalAll sends sig to every process in the group and returns how many
// there were. Each process is first pinned with a pidfd and then looked for
// in the group again, so that a pid that was reused in between is never
// signalled.
func (g *Group) signalAll(sig syscall.Signal) (int, error) {
	before, err := g.procSet()
	if err != nil || len(before) == 0 {
		return 0, err
	}
	procs := make([]*os.Process, 0, len(before))
	for pid := range before {
		p, err := os.FindProcess(pid)
		if err == nil {
			procs = append(procs, p)
		}
	}
	defer func() {
		for _, p := range procs {
			p.Release()
		}
	}()
	after, err := g.procSet()
	if err != nil {
		return 0, err
	}
	for _, p := range procs {
		if after[p.Pid] {
			if err := p.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
				return 0, fmt.Errorf("signal process %d: %w", p.Pid, err)
			}
		}
	}
	return len(after), nil
}

// OOMKills counts the processes of the group the kernel's OOM killer has
// killed for reaching the memory limit (memory.events oom_kill on v2,
// memory.oom_control oom_kill on v1).
func (g *Group) OOMKills() (int64, error) {
	file := "memory.oom_control"
	if g.m.mode == modeV2 {
		file = "memory.events"
	}
	n, err := readKey(filepath.Join(g.memoryDir(), file), "oom_kill")
	if err != nil {
		return 0, fmt.Errorf("oom kills of cgroup %s: %w", g.name, err)
	}
	return n, nil
}

// MemoryPeak is the most memory the group has used since it was made or
// since the last ResetMemoryPeak: memory.max_usage_in_bytes on v1,
// memory.peak on v2, or the current use where the kernel has no
// memory.peak (before Linux 5.19).
func (g *Group) MemoryPeak() (int64, error) {
	n, err := g.memoryPeak()
	if err != nil {
		return 0, fmt.Errorf("memory peak of cgroup %s: %w", g.name, err)
	}
	return n, nil
}

func (g *Group) memoryPeak() (int64, error) {
	if g.m.mode != modeV2 {
		path := filepath.Join(g.v1["memory"], "memory.max_usage_in_bytes")
		b, err := g.readHot(path)
		if err != nil {
			return 0, err
		}
		return parseInt(path, b)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.peak == nil {
		return readInt(filepath.Join(g.v2, "memory.current"))
	}
	var buf [32]byte
	n, err := g.peak.ReadAt(buf[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	return parseInt(g.peak.Name(), buf[:n])
}

// ResetMemoryPeak makes MemoryPeak start again from the current use. On v2
// that takes Linux 6.12; before it this does nothing and the peak stays the
// peak since the group was made.
func (g *Group) ResetMemoryPeak() error {
	var err error
	if g.m.mode != modeV2 {
		err = g.writeHot(filepath.Join(g.v1["memory"], "memory.max_usage_in_bytes"), "0")
	} else {
		g.mu.Lock()
		if g.peakResets {
			_, err = g.peak.WriteAt([]byte("reset\n"), 0)
		}
		g.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("reset memory peak of cgroup %s: %w", g.name, err)
	}
	return nil
}

// MemoryPeakResets reports whether ResetMemoryPeak starts a new peak:
// always on v1, from Linux 6.12 on v2.
func (g *Group) MemoryPeakResets() bool {
	if g.m.mode != modeV2 {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peakResets
}

// FileCache is the page cache of files that the group holds now, in
// bytes, without shared memory (tmpfs, /dev/shm), which is the group's
// own: memory.stat's cache less shmem on v1, file less shmem on v2. It
// is part of MemoryPeak.
func (g *Group) FileCache() (int64, error) {
	file := "cache"
	if g.m.mode == modeV2 {
		file = "file"
	}
	path := filepath.Join(g.memoryDir(), "memory.stat")
	cache, err := readKey(path, file)
	if err != nil {
		return 0, fmt.Errorf("file cache of cgroup %s: %w", g.name, err)
	}
	shmem, err := readKey(path, "shmem")
	if err != nil {
		return 0, fmt.Errorf("file cache of cgroup %s: %w", g.name, err)
	}
	return max(cache-shmem, 0), nil
}

// Delete removes every directory of the group. The group must be empty (see
// Kill): Delete fails at once while it has processes, and only retries,
// briefly, while the kernel still counts one that has left. Deleting again
// does nothing.
func (g *Group) Delete() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return nil
	}
	g.closeFiles()
	if err := removeDirs(g.dirs, removeTimeout); err != nil {
		return fmt.Errorf("delete cgroup %s: %w", g.name, err)
	}
	g.deleted = true
	g.m.forget(g)
	return nil
}
