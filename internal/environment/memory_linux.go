package environment

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"
)

// treeRefresh is how often a meter looks for new processes in the tree;
// in between it reads the processes it knows, which keeps the cost of a
// measurement to one file read per process.
const treeRefresh = 500 * time.Millisecond

// meter measures the peak memory of a runtime's process tree from /proc.
type meter struct {
	root int

	mu sync.Mutex
	// pids is the tree as last seen, root first.
	pids      []int
	refreshed time.Time
	buf       []byte
}

func newMeter(root int) *meter { return &meter{root: root, pids: []int{root}, buf: make([]byte, 4096)} }

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
	return pids
}

// peak is the sum of the peak resident set sizes of the tree since the
// last reset, in bytes.
func (m *meter) peak() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var total int64
	for _, p := range m.treeLocked() {
		n, err := readInto(m.buf, "/proc/"+strconv.Itoa(p)+"/status")
		if err != nil {
			continue
		}
		total += statusField(m.buf[:n], "VmHWM:")
	}
	return total
}

// resident is the memory the tree holds now, in bytes: cheaper to read
// than the peak.
func (m *meter) resident() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var total int64
	for _, p := range m.treeLocked() {
		n, err := readInto(m.buf, "/proc/"+strconv.Itoa(p)+"/statm")
		if err != nil {
			continue
		}
		f := bytes.Fields(m.buf[:n])
		if len(f) < 2 {
			continue
		}
		pages, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err == nil {
			total += pages * int64(os.Getpagesize())
		}
	}
	return total
}

// reset starts a new peak for every process of the tree.
func (m *meter) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.treeLocked() {
		// "5" resets the peak RSS (proc(5), clear_refs).
		os.WriteFile("/proc/"+strconv.Itoa(p)+"/clear_refs", []byte("5"), 0)
	}
}

// readInto reads a small file into buf.
func readInto(buf []byte, path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	for n < len(buf) {
		k, err := f.Read(buf[n:])
		n += k
		if err != nil || k == 0 {
			break
		}
	}
	return n, nil
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
