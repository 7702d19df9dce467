package environment

import (
	"bytes"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/emberfn/ember/internal/sandbox/cgroup"
)

// treeRefresh is how often a meter looks for new processes in the tree;
// in between it reads the processes it knows, which keeps the cost of a
// measurement to one file read per process.
const treeRefresh = 500 * time.Millisecond

// meter measures the peak memory of a runtime's process tree from /proc.
// It keeps each process's files open and reads them with pread: on procfs
// the open is the dear part.
type meter struct {
	root int

	mu sync.Mutex
	// cg is the tree's cgroup, when its memory peak starts again at each
	// reset: it bounds the tree's figures, and stands in for them once
	// the tree has ended.
	cg *cgroup.Group
	// pids is the tree as last seen, root first.
	pids      []int
	files     map[int]*procFiles
	refreshed time.Time
	buf       []byte
}

// procFiles are the open /proc files of one process.
type procFiles struct {
	status, clearRefs *os.File
}

func (f *procFiles) close() {
	for _, file := range []*os.File{f.status, f.clearRefs} {
		if file != nil {
			file.Close()
		}
	}
}

// statusPrefix is how much of /proc/PID/status a meter reads: VmHWM and
// VmRSS come within its first 400 bytes or so (after the Groups line,
// which a process of many groups makes long), and each environment
// keeps a buffer of this size.
const statusPrefix = 2048

func newMeter(root int) *meter {
	return &meter{root: root, pids: []int{root}, files: map[int]*procFiles{}, buf: make([]byte, statusPrefix)}
}

// treeLocked returns the tree, looked up again when treeRefresh has passed.
func (m *meter) treeLocked() []int {
	if time.Since(m.refreshed) < treeRefresh {
		return m.pids
	}
	m.refreshed = time.Now()
	pids := append(m.pids[:0], m.root)
	for i := 0; i < len(pids) && len(pids) < 1024; i++ {
		taskDir := "/proc/" + strconv.Itoa(pids[i]) + "/task/"
		tasks, err := os.ReadDir(taskDir)
		if err != nil {
			continue
		}
		for _, t := range tasks {
			b, err := os.ReadFile(taskDir + t.Name() + "/children")
			if err != nil {
				continue
			}
			for _, f := range bytes.Fields(b) {
				if c, err := strconv.Atoi(string(f)); err == nil {
					pids = append(pids, c)
				}
			}
		}
	}
	m.pids = pids
	for pid, f := range m.files {
		if !slices.Contains(pids, pid) {
			f.close()
			delete(m.files, pid)
		}
	}
	return pids
}

// filesLocked returns pid's open files, opening them on first use.
func (m *meter) filesLocked(pid int) *procFiles {
	if f, ok := m.files[pid]; ok {
		return f
	}
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	f := &procFiles{}
	f.status, _ = os.Open(dir + "status")
	f.clearRefs, _ = os.OpenFile(dir+"clear_refs", os.O_WRONLY, 0)
	m.files[pid] = f
	return f
}

// readLocked reads a /proc file from its start, up to statusPrefix bytes.
func (m *meter) readLocked(f *os.File) []byte {
	if f == nil {
		return nil
	}
	n, err := f.ReadAt(m.buf, 0)
	if err != nil && err != io.EOF {
		return nil
	}
	return m.buf[:n]
}

// useCgroup has the meter read cg's peak too; cg's peak must start
// again where the tree's do (see process.capPeak).
func (m *meter) useCgroup(cg *cgroup.Group) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cg = cg
}

// peak is the sum of the peak resident set sizes of the tree since the
// last reset, in bytes, and the sum of their current resident sizes.
//
// With a cgroup, the peak is at most the cgroup's: the sum counts the
// pages that processes share once per process, the cgroup each page
// once, but also the page cache of the files the tree wrote (/tmp's
// among them, which is storage, not memory). Once the tree has ended,
// only the cgroup's figure is left: less the file cache charged to it
// then, unless the kernel killed the tree for passing its limit.
func (m *meter) peak() (peak, resident int64) {
	m.mu.Lock()
	for _, p := range m.treeLocked() {
		status := m.readLocked(m.filesLocked(p).status)
		peak += statusField(status, "VmHWM:")
		resident += statusField(status, "VmRSS:")
	}
	cg := m.cg
	m.mu.Unlock()
	if cg == nil {
		return peak, resident
	}
	cgPeak, err := cg.MemoryPeak()
	if err != nil || cgPeak <= 0 {
		return peak, resident
	}
	if peak > 0 {
		return min(peak, cgPeak), resident
	}
	if n, err := cg.OOMKills(); err == nil && n > 0 {
		return cgPeak, 0
	}
	if cache, err := cg.FileCache(); err == nil {
		cgPeak -= cache
	}
	return max(cgPeak, 0), 0
}

// reset starts a new peak for every process of the tree.
func (m *meter) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.treeLocked() {
		if f := m.filesLocked(p).clearRefs; f != nil {
			// "5" resets the peak RSS (proc(5), clear_refs).
			f.WriteAt([]byte("5"), 0)
		}
	}
}

// close releases the open files.
func (m *meter) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for pid, f := range m.files {
		f.close()
		delete(m.files, pid)
	}
}

// statusField reads a "Name:   123 kB" line of /proc/PID/status in bytes.
func statusField(status []byte, name string) int64 {
	i := bytes.Index(status, []byte(name))
	if i < 0 {
		return 0
	}
	rest := status[i+len(name):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	f := bytes.Fields(rest)
	if len(f) == 0 {
		return 0
	}
	kb, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil {
		return 0
	}
	return kb * 1024
}
