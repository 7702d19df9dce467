//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/testenv"
)

// TestMain lets the test binary be a sandbox's init stage, as ember's main
// is: Start re-executes the running binary.
func TestMain(m *testing.M) {
	if IsInit(os.Args) {
		if err := RunInit(); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox init:", err)
			os.Exit(127)
		}
		os.Exit(0)
	}
	code := m.Run()
	if probeDir != "" {
		os.RemoveAll(probeDir)
	}
	os.Exit(code)
}

// The probe program, built once for all tests into probeDir, which is
// bound at /var/task.
var (
	probeOnce sync.Once
	probeDir  string
	probeErr  error
)

const (
	testUID = 993
	testGID = 990
)

// needSandbox skips the test where sandboxes cannot be made, and returns
// the directory that holds the probe.
func needSandbox(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("sandboxes need Linux")
	}
	testenv.Root(t, "sandboxes need root: run the tests as root to check the isolation")
	probeOnce.Do(func() {
		probeDir, probeErr = os.MkdirTemp("", "sandbox-probe-")
		if probeErr != nil {
			return
		}
		// The sandbox's user must be able to reach the probe.
		if probeErr = os.Chmod(probeDir, 0o755); probeErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(probeDir, "probe"), "./testdata/probe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			probeErr = fmt.Errorf("build probe: %v\n%s", err, out)
		}
	})
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	return probeDir
}

// testSpec is a sandbox like ember's: the probe at /var/task, the host's
// programs, a minimal /etc and a 512 MB /tmp on image.
func testSpec(code, image string, checks ...string) Spec {
	return Spec{
		Command: append([]string{"/var/task/probe"}, checks...),
		Env:     []string{"PATH=/usr/bin:/bin", "PROBE=yes"},
		Dir:     "/var/task",
		Binds: []Bind{
			{Source: code, Target: "/var/task"},
			{Target: "/opt"},
			{Source: "/nonexistent/runtime", Target: "/var/runtime"},
		},
		HostRoot: true,
		Etc: map[string]string{
			"passwd":        "root:x:0:0:root:/root:/sbin/nologin\nsbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\n",
			"group":         "root:x:0:\nsbx_user1051:x:990:\n",
			"hosts":         "127.0.0.1\tlocalhost\n",
			"resolv.conf":   "nameserver 127.0.0.1\n",
			"nsswitch.conf": "hosts: files dns\n",
		},
		Tmp:      TmpSpec{SizeMB: 512, Image: image},
		Hostname: "sandbox-test",
		UID:      testUID,
		GID:      testGID,
	}
}

// started is a sandbox whose output the test reads.
type started struct {
	*Sandbox
	out *os.File
}

// start starts spec with stdout and stderr on a pipe, and destroys the
// sandbox when the test ends.
func start(t *testing.T, spec Spec) *started {
	t.Helper()
	return startFrom(t, nil, spec)
}

// run starts spec, runs it to its end and returns what each check printed.
func run(t *testing.T, spec Spec) map[string]string {
	t.Helper()
	s := start(t, spec)
	released := time.Now()
	if err := s.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if st := s.Started(); st.Before(released.Add(-time.Millisecond)) || st.After(time.Now()) {
		t.Errorf("Started %v: not between the release at %v and the return of Exec", st, released)
	}
	return s.results(t)
}

// results reads the probe's output to its end and checks its exit.
func (s *started) results(t *testing.T) map[string]string {
	t.Helper()
	s.out.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := io.ReadAll(s.out)
	if err != nil {
		t.Fatalf("read output: %v (so far %q)", err, b)
	}
	state, err := s.Wait()
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if !state.Exited() || state.ExitStatus() != 0 {
		t.Fatalf("probe: %s; output:\n%s", describe(state), b)
	}
	m := map[string]string{}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		if !ok {
			t.Fatalf("probe printed %q", line)
		}
		m[k] = v
	}
	return m
}

// describe says how a process ended, as a shell would.
func describe(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "signal: " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// expect checks the probe's results against want.
func expect(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			t.Errorf("%s: got %q, want %q", k, got[k], want[k])
		}
	}
}

func TestIsolation(t *testing.T) {
	code := needSandbox(t)
	hostFile := filepath.Join(t.TempDir(), "host-secret")
	if err := os.WriteFile(hostFile, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostPort, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hostPort.Close()
	certs := "no"
	if _, err := os.Stat("/etc/ssl/certs"); err == nil {
		certs = "yes"
	}
	binLink, _ := os.Readlink("/bin")

	checks := map[string]string{
		"uid":                               fmt.Sprintf("%d %d []", testUID, testGID),
		"kill:" + strconv.Itoa(os.Getpid()): "ESRCH",
		"write:/var/task/new":               "EROFS",
		"write:/new":                        "EROFS",
		"write:/etc/passwd":                 "EROFS",
		"write:/opt/new":                    "EROFS",
		"write:/dev/new":                    "EROFS",
		"write:/tmp/new":                    "ok",
		"mode:/tmp":                         "dtrwxrwxrwx",
		"write:/dev/shm/new":                "ok",
		"write:/dev/null":                   "ok",
		"exists:" + hostFile:                "no",
		"exists:/root":                      "no",
		"exists:/home":                      "no",
		"exists:/etc/shadow":                "no",
		"exists:/etc/ssl/certs":             certs,
		"ls:/opt":                           "",
		"ls:/var/runtime":                   "",
		"ls:/var/task":                      "probe",
		"read:/etc/hosts":                   "127.0.0.1\tlocalhost",
		"mount":                             "EPERM",
		"unshare":                           "EPERM",
		"setns":                             "EPERM",
		"userns":                            "EPERM",
		"keyctl":                            "EPERM",
		"ifaces":                            "lo",
		"dial:" + hostPort.Addr().String():  "ECONNREFUSED",
		"status:NoNewPrivs":                 "1",
		"status:Seccomp":                    "2",
		"status:CapEff":                     "0000000000000000",
		"status:CapPrm":                     "0000000000000000",
		"status:Uid":                        "993\t993\t993\t993",
		"nofile":                            "1024/1024",
		"nproc":                             "1024/1024",
		"hostname":                          "sandbox-test",
		"cwd":                               "/var/task",
		"env:PROBE":                         "yes",
		"sh:echo from sh":                   "from sh",
		"zombies":                           "0",
	}
	if binLink != "" {
		checks["readlink:/bin"] = binLink
	}
	var args []string
	for k := range checks {
		args = append(args, k)
	}
	args = append(args, "pid", "proc")
	got := run(t, testSpec(code, filepath.Join(t.TempDir(), "tmp.img"), args...))
	expect(t, got, checks)
	// Process 1 is the init stage, which started the probe; there is no
	// other.
	if got["pid"] == "1" || got["proc"] != "1,"+got["pid"] {
		t.Errorf("pid %q, processes %q: want the probe and process 1 only", got["pid"], got["proc"])
	}
}

func TestListenInside(t *testing.T) {
	code := needSandbox(t)
	s := start(t, testSpec(code, filepath.Join(t.TempDir(), "tmp.img"), "readline:127.0.0.1:9001"))
	l, err := s.Listen("tcp", "127.0.0.1:9001")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer l.Close()
	served := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			_, err = io.WriteString(c, "hello from the host\n")
			c.Close()
		}
		served <- err
	}()
	if err := s.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	expect(t, s.results(t), map[string]string{"readline:127.0.0.1:9001": "hello from the host"})
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestDialInside checks that Dial connects inside the sandbox's network
// namespace: to a listener of the sandbox at an address where the host has
// a listener of its own, the sandbox's answers.
func TestDialInside(t *testing.T) {
	code := needSandbox(t)
	host, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	addr := host.Addr().String()
	s := start(t, testSpec(code, filepath.Join(t.TempDir(), "tmp.img"), "readline:"+addr))
	inside, err := s.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer inside.Close()
	if err := s.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	// The probe's connection comes first: the sandbox's loopback is up.
	probe, err := inside.Accept()
	if err != nil {
		t.Fatalf("accept the probe: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := s.Dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	accepted, err := inside.Accept()
	if err != nil {
		t.Fatalf("accept the dialed connection: %v", err)
	}
	defer accepted.Close()
	if _, err := io.WriteString(c, "from the host\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(accepted).ReadString('\n')
	if err != nil || line != "from the host\n" {
		t.Errorf("the sandbox's listener read %q, %v; want the host's line", line, err)
	}
	host.(*net.TCPListener).SetDeadline(time.Now().Add(50 * time.Millisecond))
	if hc, err := host.Accept(); err == nil {
		hc.Close()
		t.Error("the host's listener got a connection: Dial left the sandbox")
	}
	io.WriteString(probe, "done\n")
	probe.Close()
	expect(t, s.results(t), map[string]string{"readline:" + addr: "done"})
	if err := s.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Dial(ctx, "tcp", addr); err == nil {
		t.Error("Dial after Destroy succeeded")
	}
}

// TestTmp checks that /tmp is disk, sized, kept in its image across
// sandboxes and private to it, and that nothing stays mounted or attached.
func TestTmp(t *testing.T) {
	code := needSandbox(t)
	dir := t.TempDir()
	image, other := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img")

	first := start(t, testSpec(code, image, "write:/tmp/kept", "fill:/tmp/big:600", "exists:/tmp/big"))
	if err := first.Exec(); err != nil {
		t.Fatal(err)
	}
	got := first.results(t)
	fillResult := got["fill:/tmp/big:600"]
	var mb int
	if _, err := fmt.Sscanf(fillResult, "ENOSPC after %d MB", &mb); err != nil || mb < 480 {
		t.Errorf("filling a 512 MB /tmp with 600 MB: %q, want ENOSPC after 480 MB or more", fillResult)
	}
	expect(t, got, map[string]string{"write:/tmp/kept": "ok"})
	root, loop := first.root, first.loopDev
	if err := first.Destroy(); err != nil {
		t.Fatal(err)
	}
	checkCleanedUp(t, root, image, loop)

	again := run(t, testSpec(code, image, "read:/tmp/kept", "write:/tmp/big"))
	expect(t, again, map[string]string{"read:/tmp/kept": "x", "write:/tmp/big": "ok"})
	elsewhere := run(t, testSpec(code, other, "read:/tmp/kept"))
	expect(t, elsewhere, map[string]string{"read:/tmp/kept": "ENOENT"})
}

// checkCleanedUp checks that a destroyed sandbox left no mount on the host,
// no directory and no loop device on its image.
func checkCleanedUp(t *testing.T, root, image, loop string) {
	t.Helper()
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(mountinfo)) {
		if strings.Contains(line, root) || strings.Contains(line, image) || (loop != "" && strings.Contains(line, loop+" ")) {
			t.Errorf("still mounted on the host: %s", line)
		}
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("root directory %s: %v, want it removed", root, err)
	}
	if image == "" {
		return
	}
	if losetup, err := exec.LookPath("losetup"); err == nil {
		out, err := exec.Command(losetup, "-j", image).CombinedOutput()
		if err != nil || len(out) != 0 {
			t.Errorf("losetup -j %s: %q, %v; want nothing attached", image, out, err)
		}
	}
	if _, err := os.Stat(image); err != nil {
		t.Errorf("image: %v, want it kept", err)
	}
}

// TestStartFails checks that a sandbox that cannot be built says why from
// Start and leaves nothing behind.
func TestStartFails(t *testing.T) {
	code := needSandbox(t)
	image := t.TempDir() // /var/task a file in it, where a directory is bound
	if err := os.MkdirAll(filepath.Join(image, "var"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(image, "var/task"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	spec := testSpec(code, filepath.Join(t.TempDir(), "tmp.img"), "hello")
	spec.HostRoot = false
	spec.Image = []string{image}
	tmpDir := t.TempDir()
	t.Setenv("TMPDIR", tmpDir) // where Start makes its directory
	s, err := Start(spec)
	if err == nil {
		s.Destroy()
		t.Fatal("Start worked with a file for a mount point of a directory at /var/task")
	}
	if !strings.Contains(err.Error(), "/var/task") {
		t.Errorf("Start: %v; want it to name /var/task", err)
	}
	if left, _ := os.ReadDir(tmpDir); len(left) != 0 {
		t.Errorf("left %s behind", left[0].Name())
	}
	if out, err := exec.Command("losetup", "-j", spec.Tmp.Image).CombinedOutput(); err == nil && len(out) != 0 {
		t.Errorf("loop device left attached: %s", out)
	}

	bad := testSpec(code, "", "hello")
	bad.Etc = map[string]string{"../escape": "x"}
	if _, err := Start(bad); err == nil || errors.Is(err, ErrUnsupported) {
		t.Errorf("Start with /etc/../escape: %v, want refused", err)
	}
}

func TestMissingCommand(t *testing.T) {
	code := needSandbox(t)
	spec := testSpec(code, filepath.Join(t.TempDir(), "tmp.img"))
	spec.Command = []string{"/var/task/bootstrap"}
	s := start(t, spec)
	err := s.Exec()
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Exec of a missing command: %v, want an error matching os.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), "/var/task/bootstrap") {
		t.Errorf("error %q does not name the command", err)
	}
	state, err := s.Wait()
	if err != nil || !state.Exited() || state.ExitStatus() != 127 {
		t.Errorf("Wait: %s, %v; want exit status 127", describe(state), err)
	}
}

func TestDestroyBeforeExec(t *testing.T) {
	code := needSandbox(t)
	image := filepath.Join(t.TempDir(), "tmp.img")
	before := runtime.NumGoroutine()
	s := start(t, testSpec(code, image, "hello"))
	root, loop := s.root, s.loopDev
	sysLoop := filepath.Join("/sys/block", filepath.Base(loop), "loop")
	if b, err := os.ReadFile(filepath.Join(sysLoop, "autoclear")); err != nil || strings.TrimSpace(string(b)) != "1" {
		t.Errorf("%s autoclear: %q, %v; want 1", loop, b, err)
	}
	dio, _ := os.ReadFile(filepath.Join(sysLoop, "dio"))
	t.Logf("/tmp on %s, direct I/O %s", loop, strings.TrimSpace(string(dio)))
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("root directory %s still there once ready: %v", root, err)
	}
	if err := s.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := s.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	if err := s.Exec(); err == nil {
		t.Error("Exec after Destroy worked")
	}
	state, err := s.Wait()
	if err != nil || !state.Signaled() || state.Signal() != syscall.SIGKILL {
		t.Errorf("Wait: %s, %v; want killed", describe(state), err)
	}
	if b, _ := io.ReadAll(s.out); len(b) != 0 {
		t.Errorf("a sandbox never released printed %q", b)
	}
	checkCleanedUp(t, root, image, loop)
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

func TestCgroupAddBeforeExec(t *testing.T) {
	code := needSandbox(t)
	self, err := os.Stat("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	cg := &recordingCgroup{self: self}
	spec := testSpec(code, "", "hello")
	spec.Tmp = TmpSpec{SizeMB: 16}
	spec.Cgroup = cg
	s := start(t, spec)
	if cg.pid != s.Pid() || cg.err != nil {
		t.Fatalf("cgroup got pid %d (%v), want the sandbox's %d before exec", cg.pid, cg.err, s.Pid())
	}
	if err := s.Exec(); err != nil {
		t.Fatal(err)
	}
	expect(t, s.results(t), map[string]string{"hello": "hello"})
}

// recordingCgroup records the pid it is given and checks that the process
// has not executed its command yet.
type recordingCgroup struct {
	self os.FileInfo
	pid  int
	err  error
}

func (c *recordingCgroup) Add(pid int) error {
	c.pid = pid
	exe, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
	if err == nil && !os.SameFile(exe, c.self) {
		err = errors.New("the process has executed something else already")
	}
	c.err = err
	return nil
}

func TestSignal(t *testing.T) {
	code := needSandbox(t)
	s := start(t, testSpec(code, "", "term"))
	if err := s.Exec(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(s.out).ReadString('\n')
	if err != nil || line != "waiting\n" {
		t.Fatalf("probe: %q, %v", line, err)
	}
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	expect(t, s.results(t), map[string]string{"term": "terminated"})
}

// TestUserNamespace checks that where the machine allows one, a sandbox
// has a user namespace: its root and its user are unprivileged users of
// the host.
func TestUserNamespace(t *testing.T) {
	code := needSandbox(t)
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err != nil || strings.TrimSpace(string(b)) == "0" {
		t.Skipf("no user namespaces here: %q, %v", b, err)
	}
	if !userNSUsable(os.TempDir()) {
		t.Skip("the kernel lacks open_tree or mount_setattr (Linux 5.12), or the temporary directory is closed to others")
	}
	s := start(t, testSpec(code, filepath.Join(t.TempDir(), "tmp.img"), "uid", "term"))
	if !s.userNS {
		t.Fatal("the sandbox has no user namespace")
	}
	if err := s.Exec(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(s.out)
	for want := range []string{"uid", "waiting"} {
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatalf("probe, line %d: %v", want, err)
		}
	}
	hostIDs := func(pid int) string {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
				return strings.Fields(rest)[0]
			}
		}
		return ""
	}
	if got, want := hostIDs(s.CommandPid()), strconv.Itoa(hostIDBase+testUID); got != want {
		t.Errorf("the command runs as host user %s, want %s", got, want)
	}
	if got, want := hostIDs(s.Pid()), strconv.Itoa(hostIDBase); got != want {
		t.Errorf("the init stage runs as host user %s, want %s", got, want)
	}
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	state, err := s.Wait()
	if err != nil || !state.Exited() || state.ExitStatus() != 0 {
		t.Errorf("probe: %s, %v", describe(state), err)
	}
}

// TestStartupTime measures Start, Exec and the command's first output, as
// a pool that starts sandboxes ahead would see them.
func TestStartupTime(t *testing.T) {
	code := needSandbox(t)
	image := filepath.Join(t.TempDir(), "tmp.img")
	const n = 20
	var starts, listens, execs, totals, destroys []time.Duration
	for range n {
		t0 := time.Now()
		s := start(t, testSpec(code, image, "hello"))
		t1 := time.Now()
		l, err := s.Listen("tcp", "127.0.0.1:9001")
		if err != nil {
			t.Fatal(err)
		}
		t2 := time.Now()
		if err := s.Exec(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(s.out).ReadString('\n')
		t3 := time.Now()
		if err != nil || line != "hello=hello\n" {
			t.Fatalf("first output %q, %v", line, err)
		}
		l.Close()
		if err := s.Destroy(); err != nil {
			t.Fatal(err)
		}
		starts = append(starts, t1.Sub(t0))
		listens = append(listens, t2.Sub(t1))
		execs = append(execs, t3.Sub(t2))
		totals = append(totals, t3.Sub(t0))
		destroys = append(destroys, time.Since(t3))
	}
	t.Logf("p50 over %d (race detector: %v): Start %v, Listen %v, Exec to first output %v; Start to first output %v; Destroy %v",
		n, raceEnabled, p50(starts), p50(listens), p50(execs), p50(totals), p50(destroys))
}

func p50(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// waitFor polls cond until it holds, or fails the test after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestForeignABIKilled checks that a system call through another ABI, which
// the seccomp filter cannot see by name, kills the process.
func TestForeignABIKilled(t *testing.T) {
	code := needSandbox(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("the probe makes 32-bit calls on amd64 only")
	}
	out, err := exec.Command(filepath.Join(code, "probe"), "int80").Output()
	if err != nil || strings.TrimSpace(string(out)) == "int80=-1" {
		t.Skipf("no 32-bit system calls on this host: %q, %v", out, err)
	}
	s := start(t, testSpec(code, "", "int80"))
	if err := s.Exec(); err != nil {
		t.Fatal(err)
	}
	state, err := s.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !state.Signaled() || state.Signal() != syscall.SIGSYS {
		b, _ := io.ReadAll(s.out)
		t.Errorf("32-bit getpid: %s, output %q; want killed by SIGSYS", describe(state), b)
	}
}

// TestConcurrent starts sandboxes at once, each on its own /tmp image, as
// a pool of environments does.
func TestConcurrent(t *testing.T) {
	code := needSandbox(t)
	dir := t.TempDir()
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- func() error {
				r, w, err := os.Pipe()
				if err != nil {
					return err
				}
				defer r.Close()
				spec := testSpec(code, filepath.Join(dir, fmt.Sprintf("%d.img", i)), "write:/tmp/mine", "ls:/tmp")
				spec.Stdout = w
				s, err := Start(spec)
				w.Close()
				if err != nil {
					return err
				}
				defer s.Destroy()
				if err := s.Exec(); err != nil {
					return err
				}
				r.SetReadDeadline(time.Now().Add(10 * time.Second))
				out, err := io.ReadAll(r)
				if err != nil {
					return err
				}
				if want := "write:/tmp/mine=ok\nls:/tmp=mine\n"; string(out) != want {
					return fmt.Errorf("sandbox %d printed %q, want %q", i, out, want)
				}
				return s.Destroy()
			}()
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestAfterExit sees AfterExit's functions called once the sandbox has
// ended, with Wait's status there already: one registered before the
// end, one after it.
func TestAfterExit(t *testing.T) {
	code := needSandbox(t)
	s := start(t, testSpec(code, "", "term"))
	before := make(chan syscall.WaitStatus, 1)
	s.AfterExit(func() {
		ws, _ := s.Wait()
		before <- ws
	})
	if err := s.Exec(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-before:
		t.Fatal("AfterExit ran before the end")
	case <-time.After(50 * time.Millisecond):
	}
	if err := s.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case ws := <-before:
		if !ws.Signaled() {
			t.Errorf("status %v, want a signal", ws)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("AfterExit did not run after the end")
	}
	after := false
	s.AfterExit(func() { after = true })
	if !after {
		t.Error("AfterExit after the end did not run at once")
	}
}

// TestHelpers checks that helpers run beside the command, that their ends
// are reported, and that the sandbox lasts until the last of them while
// the command's own end is known at once.
func TestHelpers(t *testing.T) {
	code := needSandbox(t)
	spec := testSpec(code, "")
	type helperExit struct {
		i      int
		status syscall.WaitStatus
	}
	exits := make(chan helperExit, 3)
	spec.Helpers = []Helper{
		{Command: []string{"/bin/sh", "-c", "exit 4"}},
		{Command: []string{"/bin/sleep", "0.5"}},
		{Command: []string{"/nonexistent/helper"}},
	}
	spec.OnHelperExit = func(i int, status syscall.WaitStatus) { exits <- helperExit{i, status} }
	s := start(t, spec)
	commandEnded := make(chan struct{})
	s.AfterCommandExit(func() { close(commandEnded) })
	if err := s.Exec(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-commandEnded:
	case <-time.After(10 * time.Second):
		t.Fatal("AfterCommandExit did not run")
	}
	if status, ok := s.CommandStatus(); !ok || !status.Exited() || status.ExitStatus() != 0 {
		t.Errorf("CommandStatus %v %v, want exit status 0", status, ok)
	}
	select {
	case <-s.Done():
		t.Error("the sandbox ended before its sleeping helper")
	default:
	}
	got := map[int]int{}
	for range 3 {
		select {
		case x := <-exits:
			got[x.i] = x.status.ExitStatus()
		case <-time.After(10 * time.Second):
			t.Fatalf("helper exits so far %v", got)
		}
	}
	if got[0] != 4 || got[1] != 0 || got[2] != 127 {
		t.Errorf("helper exit statuses %v, want 0:4 1:0 2:127", got)
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the sandbox did not end after its helpers")
	}
}

// A helper with an output of its own writes there, not to the command's;
// its output ends when it exits, and a helper without one shares the
// command's.
func TestHelperOutput(t *testing.T) {
	code := needSandbox(t)
	spec := testSpec(code, "", "hello")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	spec.Helpers = []Helper{
		{Command: []string{"/bin/sh", "-c", "echo own stdout; echo own stderr >&2"}, Output: w},
		{Command: []string{"/bin/sh", "-c", "echo shared=yes"}},
	}
	s := start(t, spec)
	w.Close()
	if err := s.Exec(); err != nil {
		t.Fatal(err)
	}
	r.SetReadDeadline(time.Now().Add(30 * time.Second))
	own, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read the helper's output: %v", err)
	}
	if string(own) != "own stdout\nown stderr\n" {
		t.Errorf("the helper's own output %q", own)
	}
	got := s.results(t)
	if got["hello"] == "" || got["shared"] != "yes" {
		t.Errorf("the command's output %v: want the probe's hello and the second helper's line", got)
	}
	for k := range got {
		if strings.Contains(k, "own") {
			t.Errorf("the command's output holds the first helper's line %q", k)
		}
	}
}
