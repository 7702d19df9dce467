package environment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/sandbox"
	"github.com/emberfn/ember/internal/sandbox/cgroup"
	"github.com/emberfn/ember/internal/testenv"
)

// isolated returns an Isolation with cgroups, or skips the test where
// sandboxes cannot run (they must run in CI, as root, on Linux).
func isolated(t *testing.T) *Isolation {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("sandbox tests need Linux")
	}
	testenv.Root(t, "sandbox tests need root")
	m, err := cgroup.New(fmt.Sprintf("ember-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if errors.Is(err, cgroup.ErrUnsupported) {
		testenv.Missing(t, "sandbox tests need cgroups: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close cgroups: %v", err)
		}
	})
	inits, err := m.NewGroup("sandbox-inits", cgroup.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return &Isolation{Cgroups: m, StateDir: t.TempDir(), Inits: inits}
}

// probeResult is what the probe test function answers.
type probeResult struct {
	OK    bool     `json:"ok"`
	Err   string   `json:"err"`
	Errno string   `json:"errno"`
	Data  string   `json:"data"`
	List  []string `json:"list"`
	N     int64    `json:"n"`
	F     float64  `json:"f"`
}

// newProbe starts a sandboxed environment of the probe function.
func newProbe(t *testing.T, iso *Isolation, memoryMB int) (*Environment, *syncBuffer) {
	t.Helper()
	return newEnv(t, "probe", func(o *Options) {
		o.Isolation = iso
		o.Function.MemoryMB = memoryMB
		o.Function.Timeout = 30 * time.Second
	})
}

// probe invokes the probe with an event and decodes its answer.
func probe(t *testing.T, e *Environment, event string) (probeResult, invocation.Report) {
	t.Helper()
	resp, rep := invoke(t, e, event)
	if resp.FunctionError != "" {
		t.Fatalf("probe %s: function error %s", event, resp.Payload)
	}
	var r probeResult
	if err := json.Unmarshal(resp.Payload, &r); err != nil {
		t.Fatalf("probe %s: %s: %v", event, resp.Payload, err)
	}
	return r, rep
}

func TestSandboxDenials(t *testing.T) {
	iso := isolated(t)
	e, _ := newProbe(t, iso, 512)
	hostFile := t.TempDir() + "/secret"
	if err := os.WriteFile(hostFile, []byte("host secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, event string
		check       func(probeResult) bool
	}{
		{"runs as sbx_user1051", `{"action":"whoami"}`, func(r probeResult) bool { return r.Data == "993:990" }},
		{"host file outside the binds", `{"action":"read","path":"` + hostFile + `"}`, func(r probeResult) bool { return !r.OK && r.Errno == "ENOENT" }},
		{"host /etc/shadow", `{"action":"read","path":"/etc/shadow"}`, func(r probeResult) bool { return !r.OK }},
		{"write to /var/task", `{"action":"write","path":"/var/task/x"}`, func(r probeResult) bool { return !r.OK && r.Errno == "EROFS" }},
		{"write to /", `{"action":"write","path":"/x"}`, func(r probeResult) bool { return !r.OK }},
		// Process 1 is the sandbox's init, the runtime's parent.
		{"only its own processes", `{"action":"procs"}`, func(r probeResult) bool { return len(r.List) == 2 && r.List[0] == "1" }},
		{"signal a host pid", fmt.Sprintf(`{"action":"kill","pid":%d}`, os.Getpid()), func(r probeResult) bool { return !r.OK && r.Errno == "ESRCH" }},
		{"mount", `{"action":"mount"}`, func(r probeResult) bool { return !r.OK && r.Errno == "EPERM" }},
		{"unshare", `{"action":"unshare"}`, func(r probeResult) bool { return !r.OK && r.Errno == "EPERM" }},
		{"loopback only", `{"action":"interfaces"}`, func(r probeResult) bool { return strings.Join(r.List, ",") == "lo" }},
		{"1024 files", `{"action":"rlimit"}`, func(r probeResult) bool { return r.N == 1024 }},
		{"writable /tmp", `{"action":"write","path":"/tmp/x"}`, func(r probeResult) bool { return r.OK }},
	} {
		r, _ := probe(t, e, tc.event)
		if !tc.check(r) {
			t.Errorf("%s: %+v", tc.name, r)
		}
	}
}

func TestSandboxHostLoopbackUnreachable(t *testing.T) {
	iso := isolated(t)
	l := acceptingListener(t, "127.0.0.1:0")
	e, _ := newProbe(t, iso, 128)
	r, _ := probe(t, e, `{"action":"connect","addr":"`+l.Addr().String()+`"}`)
	if r.OK {
		t.Errorf("the sandbox reached ember's loopback port %s", l.Addr())
	}
}

func TestSandboxOutOfMemory(t *testing.T) {
	iso := isolated(t)
	e, logs := newEnv(t, "memory", func(o *Options) { o.Isolation = iso; o.Function.MemoryMB = 128 })
	resp, rep := invoke(t, e, `{"mb":300}`)
	b := errorBody(t, resp)
	if b.ErrorType != "Runtime.OutOfMemory" || rep.ErrorType != "Runtime.OutOfMemory" || rep.Status != invocation.StatusError {
		t.Errorf("body %s, report %+v", resp.Payload, rep)
	}
	if !strings.Contains(logs.String(), "\tStatus: error\tError Type: Runtime.OutOfMemory\t") {
		t.Errorf("REPORT:\n%s", logs)
	}
	if rep.MaxMemoryUsed <= 100<<20 || rep.MaxMemoryUsed > 128<<20 {
		t.Errorf("an out-of-memory REPORT says Max Memory Used %d B; want near, and at most, the 128 MB size", rep.MaxMemoryUsed)
	}
	// The environment was replaced: the next invocation works.
	resp, rep = invoke(t, e, `{"mb":10}`)
	if resp.FunctionError != "" || rep.InitDuration == 0 {
		t.Errorf("after OOM: %s, init %v", resp.Payload, rep.InitDuration)
	}
	if !rep.LimitsEnforced || rep.MaxMemoryUsed <= 0 || rep.MaxMemoryUsed > 128<<20 {
		t.Errorf("report %+v", rep)
	}
}

func TestSandboxPidsLimit(t *testing.T) {
	iso := isolated(t)
	e, _ := newProbe(t, iso, 2048)
	r, _ := probe(t, e, `{"action":"forkbomb","n":1500}`)
	if r.OK || r.Errno != "EAGAIN" || r.N >= maxTasks {
		t.Errorf("fork bomb: %+v", r)
	}
	// ember and the environment carry on.
	if r, _ := probe(t, e, `{"action":"whoami"}`); r.Data != "993:990" {
		t.Errorf("after the fork bomb: %+v", r)
	}
}

func TestSandboxTmp(t *testing.T) {
	iso := isolated(t)
	e, _ := newProbe(t, iso, 128)
	// /tmp is storage: 400 MB fit at 128 MB of memory.
	r, rep := probe(t, e, `{"action":"fill","path":"/tmp/a","mb":400}`)
	if !r.OK || r.N != 400<<20 {
		t.Errorf("400 MB to /tmp: %+v", r)
	}
	if rep.MaxMemoryUsed >= 100<<20 {
		t.Errorf("/tmp counted in Max Memory Used: %d MB", megabytes(rep.MaxMemoryUsed))
	}
	// And it is sized: past 512 MB it is full.
	r, _ = probe(t, e, `{"action":"fill","path":"/tmp/b","mb":200}`)
	if r.OK || r.Errno != "ENOSPC" {
		t.Errorf("past the size: %+v", r)
	}
	// Another function does not see it.
	other, _ := newProbe(t, iso, 128)
	if r, _ := probe(t, other, `{"action":"read","path":"/tmp/a"}`); r.OK || r.Errno != "ENOENT" {
		t.Errorf("another function's /tmp: %+v", r)
	}
}

func TestSandboxCPUShare(t *testing.T) {
	iso := isolated(t)
	e, _ := newProbe(t, iso, 128)
	r, _ := probe(t, e, `{"action":"burn","ms":1500}`)
	want := 128.0 / memoryPerCPU
	if r.F < want*0.75 || r.F > want*1.25 {
		t.Errorf("a 128 MB function used %.3f of a CPU, want %.3f ± 25%%", r.F, want)
	}
}

func TestSandboxFrozenBetweenInvocations(t *testing.T) {
	iso := isolated(t)
	e, _ := newProbe(t, iso, 1024)
	probe(t, e, `{"action":"tick"}`)
	first, _ := probe(t, e, `{"action":"tick"}`)
	time.Sleep(500 * time.Millisecond)
	second, _ := probe(t, e, `{"action":"tick"}`)
	// The counter advances about once a millisecond while it runs; frozen
	// for 500 ms it must not have advanced by anything like that.
	if advanced := second.N - first.N; advanced > 100 {
		t.Errorf("the counter advanced %d ms between invocations: the runtime was not frozen", advanced)
	}
}

// TestSandboxInitLeavesCgroup checks that after the first invocation the
// sandbox's init stage is in the inits cgroup and the runtime's cgroup
// holds the runtime alone.
func TestSandboxInitLeavesCgroup(t *testing.T) {
	iso := isolated(t)
	e, _ := newProbe(t, iso, 512)
	probe(t, e, `{"action":"whoami"}`)
	e.mu.Lock()
	proc := e.proc
	e.mu.Unlock()
	runtimePid := proc.pid
	deadline := time.Now().Add(5 * time.Second)
	for {
		inits, err := iso.Inits.Procs()
		if err != nil {
			t.Fatal(err)
		}
		procs, err := proc.cg.Procs()
		if err != nil {
			t.Fatal(err)
		}
		if len(inits) == 1 && len(procs) == 1 && procs[0] == runtimePid && inits[0] != runtimePid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the inits cgroup holds %v and the runtime's %v; want the init stage and the runtime %d", inits, procs, runtimePid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r, _ := probe(t, e, `{"action":"whoami"}`); r.Data != "993:990" {
		t.Errorf("second invocation: %+v", r)
	}
}

func TestSandboxCrashLeavesOthersRunning(t *testing.T) {
	iso := isolated(t)
	a, _ := newEnv(t, "exit", func(o *Options) { o.Isolation = iso })
	b, _ := newProbe(t, iso, 128)
	resp, _ := invoke(t, a, `{"code":9}`)
	if eb := errorBody(t, resp); !strings.HasSuffix(eb.ErrorMessage, "exit status 9") {
		t.Errorf("crash: %s", resp.Payload)
	}
	if r, _ := probe(t, b, `{"action":"whoami"}`); r.Data != "993:990" {
		t.Errorf("other function after a crash: %+v", r)
	}
	if r, _ := probe(t, b, `{"action":"env"}`); !strings.Contains(r.Data, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001") ||
		!strings.Contains(r.Data, "LAMBDA_TASK_ROOT=/var/task") {
		t.Errorf("sandboxed variables: %s", r.Data)
	}
}

func TestSandboxTimeoutAndReset(t *testing.T) {
	iso := isolated(t)
	e, _ := newEnv(t, "sleep", func(o *Options) { o.Isolation = iso; o.Function.Timeout = time.Second })
	resp, rep := invoke(t, e, `{"ms":3000}`)
	if b := errorBody(t, resp); b.ErrorType != "Sandbox.Timedout" || rep.Status != invocation.StatusTimeout {
		t.Errorf("%s %+v", resp.Payload, rep)
	}
	resp, _ = invoke(t, e, `{"ms":1}`)
	var s struct{ Slept int }
	if err := json.Unmarshal(resp.Payload, &s); err != nil || resp.FunctionError != "" {
		t.Errorf("after the timeout: %s", resp.Payload)
	}
}

func TestSandboxPreparedAhead(t *testing.T) {
	iso := isolated(t)
	e, _ := newEnv(t, "echo", func(o *Options) { o.Isolation = iso })
	if err := e.Prepare(); err != nil {
		t.Fatal(err)
	}
	resp, rep := invoke(t, e, `{"prepared":true}`)
	if string(resp.Payload) != `{"prepared":true}` || rep.InitDuration == 0 {
		t.Fatalf("%s %+v", resp.Payload, rep)
	}
	// A prepared sandbox that never runs is torn down with its environment.
	other, _ := newEnv(t, "echo", func(o *Options) { o.Isolation = iso })
	if err := other.Prepare(); err != nil {
		t.Fatal(err)
	}
	if got := other.State(); got != StatePrepared {
		t.Errorf("state after Prepare: %v, want Prepared", got)
	}
	if err := other.Close(context.Background()); err != nil {
		t.Errorf("close a prepared environment: %v", err)
	}
}

func TestSandboxInitGetsBurstCPU(t *testing.T) {
	iso := isolated(t)
	e, _ := newEnv(t, "probe", func(o *Options) {
		o.Isolation = iso
		o.Function.MemoryMB = 128
		o.Function.Env = map[string]string{"INIT_BURN_MS": "300"}
	})
	r, _ := probe(t, e, `{"action":"initshare"}`)
	// Init is not held to 128/1769 of a CPU; the invocation is.
	if limit := 128.0 / memoryPerCPU; r.F < 4*limit {
		t.Errorf("init got %.3f of a CPU, want burst CPU well above the invocation's %.3f", r.F, limit)
	}
	if r, _ := probe(t, e, `{"action":"burn","ms":1000}`); r.F > 0.1 {
		t.Errorf("the invocation got %.3f of a CPU", r.F)
	}
}

func TestSandboxNetworkModes(t *testing.T) {
	iso := isolated(t)
	network, err := sandbox.NewNetwork()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { network.Close() })
	iso.Network = network

	// A service of the host on every address, and one on loopback only.
	public := acceptingListener(t, "0.0.0.0:0").Addr().(*net.TCPAddr).Port
	private := acceptingListener(t, "127.0.0.1:0").Addr().(*net.TCPAddr).Port

	out, _ := newEnv(t, "probe", func(o *Options) { o.Isolation = iso; o.Function.Network = function.NetworkOutbound })
	if r, _ := probe(t, out, fmt.Sprintf(`{"action":"connect","addr":"%s:%d"}`, sandbox.HostAlias, public)); !r.OK {
		t.Errorf("outbound: the host's service at %s:%d: %+v", sandbox.HostAlias, public, r)
	}
	for _, addr := range []string{fmt.Sprintf("%s:%d", sandbox.HostAlias, private), fmt.Sprintf("127.0.0.1:%d", private)} {
		if r, _ := probe(t, out, `{"action":"connect","addr":"`+addr+`"}`); r.OK {
			t.Errorf("outbound: reached ember's loopback port through %s", addr)
		}
	}
	none, _ := newEnv(t, "probe", func(o *Options) { o.Isolation = iso; o.Function.Network = function.NetworkNone })
	if r, _ := probe(t, none, `{"action":"interfaces"}`); strings.Join(r.List, ",") != "lo" {
		t.Errorf("none: interfaces %v", r.List)
	}
}

// acceptingListener listens at addr and accepts and closes connections
// until the test ends.
func acceptingListener(t *testing.T, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l
}

// TestSandboxMemoryPeakRead sees each invocation's peak where the
// cgroup counts it, read once at its end instead of sampled: the peak of
// an allocation that is freed before the invocation returns, and a new
// peak for the next invocation.
func TestSandboxMemoryPeakRead(t *testing.T) {
	iso := isolated(t)
	e, _ := newEnv(t, "memory", func(o *Options) { o.Isolation = iso; o.Function.MemoryMB = 256 })
	_, rep := invoke(t, e, `{"mb":80}`)
	e.mu.Lock()
	proc := e.proc
	e.mu.Unlock()
	if proc == nil {
		t.Fatalf("no runtime after the first invocation: %+v", rep)
	}
	if proc.cg.MemoryPeakResets() == proc.samplesMemory() {
		t.Errorf("the cgroup's peak resets: %v; memory sampled: %v", proc.cg.MemoryPeakResets(), proc.samplesMemory())
	}
	if rep.MaxMemoryUsed < 80<<20 || rep.MaxMemoryUsed > 256<<20 {
		t.Errorf("80 MB allocated and freed: Max Memory Used %d MB", megabytes(rep.MaxMemoryUsed))
	}
	_, rep = invoke(t, e, `{"mb":10}`)
	if rep.MaxMemoryUsed < 10<<20 || rep.MaxMemoryUsed >= 60<<20 {
		t.Errorf("10 MB after 80 MB: Max Memory Used %d MB", megabytes(rep.MaxMemoryUsed))
	}
}

// TestSandboxFewThreads runs many sandboxed environments at once, each
// busy: ember's threads stay few, since nothing waits for a sandbox, a
// runtime or its output in a thread of its own, and the kernel work of
// their starts is bounded.
func TestSandboxFewThreads(t *testing.T) {
	const n = 48
	iso := isolated(t)
	envs := make([]*Environment, n)
	for i := range envs {
		envs[i], _ = newEnv(t, "sleep", func(o *Options) {
			o.Isolation = iso
			o.Function.MemoryMB = 128
			o.Function.Timeout = time.Minute
		})
	}
	before := threadCount(t)
	type result struct {
		resp invocation.Response
		err  error
		done <-chan invocation.Report
	}
	results := make(chan result, n)
	for _, e := range envs {
		go func() {
			req := invocation.Request{ID: invocation.NewRequestID(), Payload: []byte(`{"ms":4000}`), InvokedARN: e.fn.ARN()}
			resp, done, err := start(e, req)
			results <- result{resp, err, done}
		}()
	}
	// Every runtime started, the invocations hold 4 s.
	deadline := time.Now().Add(time.Minute)
	for running := 0; running < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d runtimes running after a minute", running, n)
		}
		time.Sleep(50 * time.Millisecond)
		running = 0
		for _, e := range envs {
			e.mu.Lock()
			if e.proc != nil {
				running++
			}
			e.mu.Unlock()
		}
	}
	during := threadCount(t)
	t.Logf("%d threads with %d busy environments, %d before", during, n, before)
	if during-before >= n*3/4 {
		t.Errorf("%d threads with %d busy environments, %d before", during, n, before)
	}
	for range n {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		select {
		case rep := <-r.done:
			if rep.Status != invocation.StatusSuccess {
				t.Errorf("report %+v: %s", rep, r.resp.Payload)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no report within 30 s")
		}
	}
}

// threadCount is the test process's count of OS threads.
func threadCount(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), "Threads:")
	line, _, _ := strings.Cut(rest, "\n")
	n, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
