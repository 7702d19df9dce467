//go:build linux

package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/testenv"
)

// helperEnv makes the test binary a helper process instead: its value names
// what the helper does (see runHelper).
const helperEnv = "EMBER_CGROUP_TEST_HELPER"

// Exit codes of the fork helper.
const (
	exitAllForked = 0
	exitEAGAIN    = 3
	exitOther     = 4
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// runHelper is the helper process. Except for "stubborn", it waits for a
// first line on stdin, so that the test can put it in a group first, then:
//
//	mem       obeys "alloc N" (allocate and touch N MiB, keep it) and "free"
//	          (drop it and return it to the kernel), answering "ok" to each
//	spin      burns CPU forever
//	fork      starts 64 sleeps; exits 3 when the kernel says EAGAIN
//	count     prints 0, 1, 2, ... every 5 ms
//	tree      ignores SIGTERM, starts 3 stubborn children, says "ready"
//	stubborn  ignores SIGTERM, says so through fd 3, and sleeps
func runHelper(mode string) int {
	in := bufio.NewScanner(os.Stdin)
	if mode == "stubborn" {
		signal.Ignore(syscall.SIGTERM)
		// Tell the parent that SIGTERM is ignored now.
		ready := os.NewFile(3, "ready")
		ready.Write([]byte{1})
		ready.Close()
		time.Sleep(time.Hour)
		return 0
	}
	if mode == "fork" {
		warmThreads()
	}
	if !in.Scan() {
		return 1
	}
	switch mode {
	case "mem":
		var held [][]byte
		for {
			cmd := in.Text()
			switch {
			case strings.HasPrefix(cmd, "alloc "):
				mb, _ := strconv.Atoi(strings.TrimPrefix(cmd, "alloc "))
				b := make([]byte, mb<<20)
				for i := 0; i < len(b); i += 4096 {
					b[i] = 1
				}
				held = append(held, b)
			case cmd == "free":
				held = nil
				debug.FreeOSMemory()
			case strings.HasPrefix(cmd, "write "):
				// write PATH MB: a file left in the page cache.
				var path string
				var mb int
				fmt.Sscan(strings.TrimPrefix(cmd, "write "), &path, &mb)
				if err := os.WriteFile(path, make([]byte, mb<<20), 0o600); err != nil {
					fmt.Println(err)
				}
			}
			fmt.Println("ok")
			if !in.Scan() {
				return 0
			}
		}
	case "spin":
		x := 0
		for {
			x++
		}
	case "fork":
		for range 64 {
			if err := exec.Command("sleep", "30").Start(); err != nil {
				if errors.Is(err, syscall.EAGAIN) {
					return exitEAGAIN
				}
				fmt.Fprintln(os.Stderr, err)
				return exitOther
			}
		}
		return exitAllForked
	case "count":
		for i := 0; ; i++ {
			fmt.Println(i)
			time.Sleep(5 * time.Millisecond)
		}
	case "tree":
		signal.Ignore(syscall.SIGTERM)
		for range 3 {
			if err := startStubborn(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		fmt.Println("ready")
		time.Sleep(time.Hour)
	}
	return 1
}

// startStubborn starts a stubborn helper and waits until it ignores SIGTERM.
func startStubborn() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	c := exec.Command(os.Args[0], "-test.run=^$")
	c.Env = append(os.Environ(), helperEnv+"=stubborn")
	c.ExtraFiles = []*os.File{w}
	err = c.Start()
	w.Close()
	if err != nil {
		return err
	}
	_, err = r.Read(make([]byte, 1))
	return err
}

// warmThreads makes the Go runtime start a few OS threads while it still may,
// so that it has idle ones to reuse once a pids limit refuses new ones (the
// runtime cannot survive failing to make a thread it needs).
func warmThreads() {
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			ts := syscall.NsecToTimespec(int64(20 * time.Millisecond))
			syscall.Nanosleep(&ts, nil)
		})
	}
	wg.Wait()
}

// helper is a running helper process.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	// lines are the lines it prints; closed when its output ends.
	lines chan string
	// exited is closed when Wait has returned, with waitErr.
	exited  chan struct{}
	waitErr error
}

// startHelper starts a helper in mode and adds it to g; it is killed and
// waited for when the test ends.
func startHelper(t *testing.T, g *Group, mode string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, stdin: stdin, lines: make(chan string, 1024), exited: make(chan struct{})}
	go func() {
		defer close(h.lines)
		defer r.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
	}()
	go func() {
		h.waitErr = cmd.Wait()
		close(h.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-h.exited
		for range h.lines {
		}
	})
	if err := g.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *helper) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(h.stdin, line+"\n"); err != nil {
		t.Fatalf("write to helper: %v", err)
	}
}

// expect waits for the helper to print want.
func (h *helper) expect(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-h.lines:
			if !ok {
				t.Fatalf("helper ended without printing %q", want)
			}
			if line == want {
				return
			}
		case <-timeout:
			t.Fatalf("helper did not print %q in 10s", want)
		}
	}
}

// next waits up to timeout for the helper's next line.
func (h *helper) next(timeout time.Duration) (string, bool) {
	select {
	case line, ok := <-h.lines:
		return line, ok
	case <-time.After(timeout):
		return "", false
	}
}

// drain returns the lines printed so far and not yet read.
func (h *helper) drain() []string {
	var lines []string
	for {
		select {
		case line, ok := <-h.lines:
			if !ok {
				return lines
			}
			lines = append(lines, line)
		default:
			return lines
		}
	}
}

// exit waits up to timeout for the helper to end.
func (h *helper) exit(t *testing.T, timeout time.Duration) *os.ProcessState {
	t.Helper()
	select {
	case <-h.exited:
		return h.cmd.ProcessState
	case <-time.After(timeout):
		t.Fatalf("helper still running after %v", timeout)
		return nil
	}
}

// startSleep starts a sleep, adds it to g, and kills and reaps it when the
// test ends.
func startSleep(t *testing.T, g *Group) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	if err := g.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// newTestManager makes a Manager with a subtree named after the test, or
// skips the test where cgroups can't be used; the subtree is removed when
// the test ends, and the test fails if that leaves a directory behind.
func newTestManager(t testing.TB, opts options) *Manager {
	t.Helper()
	testenv.Root(t, "managing cgroups needs root")
	root := fmt.Sprintf("ember-test-%d-%s", os.Getpid(), regexp.MustCompile(`[^A-Za-z0-9_-]`).ReplaceAllString(t.Name(), "-"))
	m, err := newManager(root, opts)
	if errors.Is(err, ErrUnsupported) {
		testenv.Missing(t, "no usable cgroups: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		for _, dir := range m.dirs {
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s left behind (%v)", dir, err)
			}
		}
	})
	return m
}

// newTestGroup makes a group that is killed and deleted when the test ends.
func newTestGroup(t testing.TB, m *Manager, name string, l Limits) *Group {
	t.Helper()
	g, err := m.NewGroup(name, l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Kill(); err != nil {
			t.Errorf("kill: %v", err)
		}
		if err := g.Delete(); err != nil {
			t.Errorf("delete: %v", err)
		}
	})
	return g
}

// eachMode runs f on the machine's mode and, on a hybrid machine, also as if
// it had no unified hierarchy (mode v1), which is the only way to run v1's
// freezer and its kill without cgroup.kill on such a machine.
func eachMode(t *testing.T, f func(t *testing.T, m *Manager)) {
	t.Run("detected", func(t *testing.T) {
		f(t, newTestManager(t, options{}))
	})
	t.Run("v1only", func(t *testing.T) {
		m := newTestManager(t, options{v1Only: true})
		if m.Mode() != modeV1 {
			t.Skipf("skipped: the machine is %s, not hybrid", m.Mode())
		}
		f(t, m)
	})
}

// cgroup2Magic is the file system magic of cgroup2 (CGROUP2_SUPER_MAGIC).
const cgroup2Magic = 0x63677270

func isCgroup2(path string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(path, &st) == nil && st.Type == cgroup2Magic
}

func TestMode(t *testing.T) {
	m := newTestManager(t, options{})
	// The usual mount points tell the mode independently of the manager.
	want := modeV1
	switch {
	case isCgroup2("/sys/fs/cgroup"):
		want = modeV2
	case isCgroup2("/sys/fs/cgroup/unified"):
		want = modeHybrid
	}
	t.Logf("mode %s, subtree %v, freeze through v2: %v, cgroup.kill: %v", m.Mode(), m.dirs, m.freezeV2, m.killV2)
	if m.Mode() != want {
		t.Errorf("Mode() = %q, want %q", m.Mode(), want)
	}
	for _, dir := range m.dirs {
		if !exists(dir) {
			t.Errorf("subtree directory %s missing", dir)
		}
	}
	if want != modeV1 && !m.freezeV2 {
		t.Errorf("this kernel's cgroup2 has no cgroup.freeze")
	}
	if _, err := newManager(filepath.Base(m.dirs[0]), options{}); err == nil {
		t.Errorf("a second manager with the same subtree was made")
	}

	g := newTestGroup(t, m, "fd", Limits{})
	fd, ok := g.FD()
	if ok != (m.Mode() == modeV2) {
		t.Fatalf("FD() = %d, %v in mode %s", fd, ok, m.Mode())
	}
	if !ok {
		return
	}
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	procs, err := g.Procs()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(procs, []int{cmd.Process.Pid}) {
		t.Errorf("started with CLONE_INTO_CGROUP, Procs() = %v, want [%d]", procs, cmd.Process.Pid)
	}
}

func TestMemoryLimitOOMKill(t *testing.T) {
	m := newTestManager(t, options{})
	const limit = 64 << 20
	g := newTestGroup(t, m, "oom", Limits{MemoryBytes: limit})
	// Swap must not extend the limit.
	if m.Mode() == modeV2 {
		if b, err := os.ReadFile(filepath.Join(g.v2, "memory.swap.max")); err == nil && strings.TrimSpace(string(b)) != "0" {
			t.Errorf("memory.swap.max = %q, want 0", b)
		}
	} else if n, err := readInt(filepath.Join(g.v1["memory"], "memory.memsw.limit_in_bytes")); err == nil && n != limit {
		t.Errorf("memory.memsw.limit_in_bytes = %d, want %d", n, limit)
	}

	h := startHelper(t, g, "mem")
	start := time.Now()
	h.send(t, "alloc 200")
	state := h.exit(t, 10*time.Second)
	ws := state.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("allocating 200 MB under a 64 MB limit: helper ended with %v, want SIGKILL", state)
	}
	t.Logf("killed %v after the allocation began", time.Since(start).Round(time.Millisecond))
	n, err := g.OOMKills()
	if err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Errorf("OOMKills() = %d, want at least 1", n)
	}
}

func TestMemoryPeak(t *testing.T) {
	m := newTestManager(t, options{})
	g := newTestGroup(t, m, "peak", Limits{MemoryBytes: 128 << 20})
	h := startHelper(t, g, "mem")
	h.send(t, "start")
	h.expect(t, "ok")
	peak := func() int64 {
		t.Helper()
		n, err := g.MemoryPeak()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	const mb = 1 << 20
	p0 := peak()
	h.send(t, "alloc 30")
	h.expect(t, "ok")
	p1 := peak()
	t.Logf("peak %.1f MB, after allocating 30 MB %.1f MB", float64(p0)/mb, float64(p1)/mb)
	if p1-p0 < 28*mb {
		t.Fatalf("the peak grew by %d bytes for 30 MB", p1-p0)
	}
	if m.Mode() == modeV2 && !g.peakResets {
		t.Skip("skipped the reset: this kernel's memory.peak cannot be reset (Linux 6.12)")
	}
	h.send(t, "free")
	h.expect(t, "ok")
	if err := g.ResetMemoryPeak(); err != nil {
		t.Fatal(err)
	}
	p2 := peak()
	if p2 > p1-25*mb {
		t.Fatalf("after freeing 30 MB and a reset the peak is %d, was %d", p2, p1)
	}
	h.send(t, "alloc 30")
	h.expect(t, "ok")
	p3 := peak()
	t.Logf("after a free and a reset %.1f MB, after allocating 30 MB again %.1f MB", float64(p2)/mb, float64(p3)/mb)
	if p3-p2 < 28*mb {
		t.Errorf("after a reset the peak grew by %d bytes for 30 MB", p3-p2)
	}
}

// TestFileCache sees a file written by the group's process in its page
// cache, and in its memory peak, which counts it too.
func TestFileCache(t *testing.T) {
	m := newTestManager(t, options{})
	g := newTestGroup(t, m, "cache", Limits{MemoryBytes: 256 << 20})
	h := startHelper(t, g, "mem")
	h.send(t, "start")
	h.expect(t, "ok")
	const mb = 1 << 20
	before, err := g.FileCache()
	if err != nil {
		t.Fatal(err)
	}
	// On a disk, not a tmpfs, whose pages are shared memory.
	file := filepath.Join(t.TempDir(), "cache")
	h.send(t, "write "+file+" 40")
	h.expect(t, "ok")
	after, err := g.FileCache()
	if err != nil {
		t.Fatal(err)
	}
	peak, err := g.MemoryPeak()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("file cache %.1f MB, after writing 40 MB %.1f MB; peak %.1f MB", float64(before)/mb, float64(after)/mb, float64(peak)/mb)
	if after-before < 35*mb {
		t.Errorf("the file cache grew by %d bytes for a file of 40 MB", after-before)
	}
	if peak < after {
		t.Errorf("the peak %d is below the file cache %d", peak, after)
	}
	if !g.MemoryPeakResets() && m.Mode() != modeV2 {
		t.Error("a v1 group's peak does not reset")
	}
}

// cpuTime is the CPU time a process has used, from /proc/PID/stat.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces; utime and stime
	// are the 12th and 13th fields after it.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	// Clock ticks are USER_HZ, 100 a second on Linux.
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func TestCPULimit(t *testing.T) {
	m := newTestManager(t, options{})
	g := newTestGroup(t, m, "cpu", Limits{CPU: 0.25})
	h := startHelper(t, g, "spin")
	h.send(t, "go")
	pid := h.cmd.Process.Pid
	// Let it reach the loop, then measure over a second: ten CFS periods.
	time.Sleep(50 * time.Millisecond)
	c0, t0 := cpuTime(t, pid), time.Now()
	time.Sleep(time.Second)
	c1, t1 := cpuTime(t, pid), time.Now()
	share := (c1 - c0).Seconds() / t1.Sub(t0).Seconds()
	t.Logf("a busy loop limited to 0.25 CPU used %.3f CPU", share)
	if share < 0.15 || share > 0.35 {
		t.Errorf("a busy loop limited to 0.25 CPU used %.3f CPU", share)
	}
}

func TestPidsLimit(t *testing.T) {
	m := newTestManager(t, options{})
	g := newTestGroup(t, m, "pids", Limits{Pids: 16})
	h := startHelper(t, g, "fork")
	h.send(t, "go")
	state := h.exit(t, 10*time.Second)
	if code := state.ExitCode(); code != exitEAGAIN {
		t.Fatalf("forking 64 sleeps under a limit of 16 tasks: helper ended with %v, want exit status %d (EAGAIN)", state, exitEAGAIN)
	}
	procs, err := g.Procs()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d sleeps started before EAGAIN", len(procs))
	if len(procs) > 16 {
		t.Errorf("%d processes in a group limited to 16 tasks", len(procs))
	}
}

func TestFreezeThaw(t *testing.T) {
	checkStopsAndRuns(t, "freeze", func(g *Group) error { return g.Freeze() })
}

// TestPause checks that a paused group stops soon after Pause returns and
// runs again when thawed.
func TestPause(t *testing.T) {
	checkStopsAndRuns(t, "pause", func(g *Group) error {
		if err := g.Pause(); err != nil {
			return err
		}
		return g.waitFrozen(true, 5*time.Second)
	})
}

// checkStopsAndRuns checks, in each mode, that a group of a counting
// helper prints nothing once stop has returned, and counts on from where
// it was once thawed.
func checkStopsAndRuns(t *testing.T, name string, stop func(*Group) error) {
	eachMode(t, func(t *testing.T, m *Manager) {
		g := newTestGroup(t, m, name, Limits{})
		h := startHelper(t, g, "count")
		h.send(t, "go")
		if _, ok := h.next(5 * time.Second); !ok {
			t.Fatal("the helper prints nothing")
		}
		start := time.Now()
		if err := stop(g); err != nil {
			t.Fatal(err)
		}
		t.Logf("stopped in %v", time.Since(start))
		// Lines printed before the freeze may still be on their way.
		time.Sleep(20 * time.Millisecond)
		before := h.drain()
		time.Sleep(200 * time.Millisecond)
		if during := h.drain(); len(during) > 0 {
			t.Fatalf("the helper printed %q while frozen", during)
		}
		last := -1
		if len(before) > 0 {
			last, _ = strconv.Atoi(before[len(before)-1])
		}
		if err := g.Thaw(); err != nil {
			t.Fatal(err)
		}
		line, ok := h.next(5 * time.Second)
		if !ok {
			t.Fatal("the helper prints nothing after thawing")
		}
		if n, _ := strconv.Atoi(line); n <= last {
			t.Errorf("after thawing the helper printed %d, before freezing it had %d", n, last)
		}
	})
}

// TestFreezeThrottled freezes a busy group that its CPU quota holds back
// most of the time; its tasks cannot stop before the next CFS period unless
// Freeze lifts the quota, which must be back afterwards.
func TestFreezeThrottled(t *testing.T) {
	eachMode(t, func(t *testing.T, m *Manager) {
		g := newTestGroup(t, m, "throttled", Limits{CPU: 0.05})
		h := startHelper(t, g, "spin")
		h.send(t, "go")
		// 5 ms of CPU per 100 ms period: after its first 5 ms it is
		// throttled. A freeze that waits for the period to end takes up to
		// 95 ms; the best of three attempts keeps a busy machine's noise out.
		best := time.Hour
		for attempt := range 3 {
			if attempt > 0 {
				if err := g.Thaw(); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(30 * time.Millisecond)
			start := time.Now()
			if err := g.Freeze(); err != nil {
				t.Fatal(err)
			}
			best = min(best, time.Since(start))
		}
		t.Logf("froze a throttled group in %v (best of 3)", best)
		if best > 50*time.Millisecond {
			t.Errorf("freezing a throttled group took %v", best)
		}
		quota := filepath.Join(g.v1["cpu"], "cpu.cfs_quota_us")
		want := "5000"
		if m.Mode() == modeV2 {
			quota, want = filepath.Join(g.v2, "cpu.max"), "5000 100000"
		}
		if b, err := os.ReadFile(quota); err != nil || strings.TrimSpace(string(b)) != want {
			t.Errorf("after Freeze %s = %q, %v; want %q", quota, b, err, want)
		}
		if err := g.Thaw(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestKill(t *testing.T) {
	eachMode(t, func(t *testing.T, m *Manager) {
		g := newTestGroup(t, m, "kill", Limits{})
		h := startHelper(t, g, "tree")
		h.send(t, "go")
		h.expect(t, "ready")
		procs, err := g.Procs()
		if err != nil {
			t.Fatal(err)
		}
		if len(procs) != 4 {
			t.Fatalf("Procs() = %v, want the helper and 3 children", procs)
		}
		// They ignore SIGTERM.
		for _, pid := range procs {
			syscall.Kill(pid, syscall.SIGTERM)
		}
		time.Sleep(20 * time.Millisecond)
		if procs, _ := g.Procs(); len(procs) != 4 {
			t.Fatalf("after SIGTERM Procs() = %v, want 4 processes", procs)
		}
		start := time.Now()
		if err := g.Kill(); err != nil {
			t.Fatal(err)
		}
		t.Logf("killed 4 processes in %v", time.Since(start))
		if procs, err := g.Procs(); err != nil || len(procs) != 0 {
			t.Fatalf("after Kill Procs() = %v, %v", procs, err)
		}
		state := h.exit(t, 5*time.Second)
		if ws := state.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Errorf("the helper ended with %v, want SIGKILL", state)
		}
		// Kill on an empty group succeeds.
		if err := g.Kill(); err != nil {
			t.Errorf("Kill on an empty group: %v", err)
		}
	})
}

// cgroupDirsNamed finds the directories called name in every cgroup
// hierarchy mounted, independently of what a Manager recorded.
func cgroupDirsNamed(t *testing.T, name string) []string {
	t.Helper()
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for line := range strings.SplitSeq(string(info), "\n") {
		fields := strings.Fields(line)
		sep := slices.Index(fields, "-")
		if sep < 0 || len(fields) < sep+2 || (fields[sep+1] != "cgroup" && fields[sep+1] != "cgroup2") {
			continue
		}
		filepath.WalkDir(fields[4], func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() && d.Name() == name {
				found = append(found, path)
			}
			return nil
		})
	}
	return found
}

func TestDelete(t *testing.T) {
	eachMode(t, func(t *testing.T, m *Manager) {
		name := fmt.Sprintf("delete-%d", os.Getpid())
		g := newTestGroup(t, m, name, Limits{MemoryBytes: 64 << 20, CPU: 0.5, Pids: 32})
		startSleep(t, g)
		made := cgroupDirsNamed(t, name)
		slices.Sort(made)
		want := slices.Clone(g.dirs)
		slices.Sort(want)
		if !slices.Equal(made, want) {
			t.Errorf("directories named %s: %v, the group made %v", name, made, want)
		}
		// A directory for each controller in use and the cgroup2 one.
		var controllerDirs []string
		if m.Mode() != modeV2 {
			for _, c := range []string{"memory", "cpu", "pids"} {
				controllerDirs = append(controllerDirs, g.v1[c])
			}
		}
		if m.Mode() != modeV1 {
			controllerDirs = append(controllerDirs, g.v2)
		}
		for _, dir := range controllerDirs {
			if dir == "" || !slices.Contains(made, dir) {
				t.Errorf("mode %s: a controller's directory %q is not among %v", m.Mode(), dir, made)
			}
		}
		t.Logf("mode %s: %d directories: %v", m.Mode(), len(made), made)
		if err := g.Delete(); err == nil {
			t.Fatal("Delete of a group with a process succeeded")
		}
		if err := g.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := g.Delete(); err != nil {
			t.Fatal(err)
		}
		if left := cgroupDirsNamed(t, name); len(left) > 0 {
			t.Errorf("after Delete: %v", left)
		}
		if err := g.Delete(); err != nil {
			t.Errorf("a second Delete: %v", err)
		}
	})
}

func TestClose(t *testing.T) {
	m := newTestManager(t, options{})
	deleted := newTestGroup(t, m, "deleted", Limits{})
	if err := deleted.Delete(); err != nil {
		t.Fatal(err)
	}
	left := newTestGroup(t, m, "left", Limits{Pids: 8})
	sleep := startSleep(t, left)
	root := filepath.Base(m.dirs[0])
	if n := len(cgroupDirsNamed(t, root)); n != len(m.dirs) {
		t.Fatalf("%d directories named %s, the manager made %d", n, root, len(m.dirs))
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if dirs := cgroupDirsNamed(t, root); len(dirs) > 0 {
		t.Errorf("after Close: %v", dirs)
	}
	if err := sleep.Wait(); err == nil {
		t.Errorf("the process left in a group survived Close")
	}
	if _, err := m.NewGroup("late", Limits{}); err == nil {
		t.Errorf("NewGroup after Close succeeded")
	}
	if err := m.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}

func TestNewGroupRejects(t *testing.T) {
	m := newTestManager(t, options{})
	newTestGroup(t, m, "twice", Limits{})
	for _, c := range []struct {
		name string
		l    Limits
	}{
		{"twice", Limits{}},
		{"../escape", Limits{}},
		{"memory.max", Limits{}},
		{"", Limits{}},
		{"negative", Limits{MemoryBytes: -1}},
	} {
		if g, err := m.NewGroup(c.name, c.l); err == nil {
			g.Delete()
			t.Errorf("NewGroup(%q, %+v) succeeded", c.name, c.l)
		}
	}
}

// BenchmarkLifecycle measures each step of a group's life with a sleep in
// it; the p50 of each is reported in microseconds.
func BenchmarkLifecycle(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts options
	}{{"detected", options{}}, {"v1only", options{v1Only: true}}} {
		b.Run(mode.name, func(b *testing.B) {
			m := newTestManager(b, mode.opts)
			steps := []string{"NewGroup", "Add", "Freeze", "Thaw", "Kill+Delete"}
			times := make([][]time.Duration, len(steps))
			for i := 0; b.Loop(); i++ {
				cmd := exec.Command("sleep", "30")
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				var g *Group
				for s, step := range []func() error{
					func() (err error) {
						g, err = m.NewGroup(fmt.Sprintf("g%d", i), Limits{MemoryBytes: 128 << 20, CPU: 0.0724, Pids: 1024})
						return err
					},
					func() error { return g.Add(cmd.Process.Pid) },
					func() error { return g.Freeze() },
					func() error { return g.Thaw() },
					func() error {
						if err := g.Kill(); err != nil {
							return err
						}
						return g.Delete()
					},
				} {
					start := time.Now()
					if err := step(); err != nil {
						cmd.Process.Kill()
						b.Fatalf("%s: %v", steps[s], err)
					}
					times[s] = append(times[s], time.Since(start))
				}
				cmd.Wait()
			}
			for s, step := range steps {
				slices.Sort(times[s])
				b.ReportMetric(float64(times[s][len(times[s])/2].Nanoseconds())/1e3, step+"-µs")
			}
		})
	}
}

// BenchmarkFreezeThrottled measures freezing a busy group held to a small
// CPU quota, whose tasks must get CPU time to stop.
func BenchmarkFreezeThrottled(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts options
	}{{"detected", options{}}, {"v1only", options{v1Only: true}}} {
		b.Run(mode.name, func(b *testing.B) {
			m := newTestManager(b, mode.opts)
			g, err := m.NewGroup("throttled", Limits{CPU: 0.0724})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { g.Kill(); g.Delete() })
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=spin")
			stdin, err := cmd.StdinPipe()
			if err != nil {
				b.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			if err := g.Add(cmd.Process.Pid); err != nil {
				b.Fatal(err)
			}
			io.WriteString(stdin, "go\n")
			var times []time.Duration
			for b.Loop() {
				start := time.Now()
				if err := g.Freeze(); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
				if err := g.Thaw(); err != nil {
					b.Fatal(err)
				}
				time.Sleep(30 * time.Millisecond)
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e3, "Freeze-µs")
			b.ReportMetric(float64(times[len(times)-1].Nanoseconds())/1e3, "Freeze-max-µs")
		})
	}
}
