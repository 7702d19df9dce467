package environment

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/sandbox"
	"github.com/emberfn/ember/internal/sandbox/cgroup"
)

// Isolation runs an environment's runtime in a Linux sandbox: its own
// namespaces, a read-only root with the code at /var/task, a sized /tmp on
// disk, and, with Cgroups, Lambda's memory, CPU and pids limits and a freeze
// between invocations.
type Isolation struct {
	// Cgroups enforces the limits; nil enforces none of them.
	Cgroups *cgroup.Manager
	// StateDir holds each environment's files on the host: its /tmp image.
	StateDir string
	// ResolvConf is the sandbox's /etc/resolv.conf.
	ResolvConf string
	// Images makes /tmp images ahead; nil makes each when needed.
	Images *sandbox.ImagePool
	// Network gives outbound functions their link; nil gives every
	// sandbox loopback only.
	Network *sandbox.Network
	// Sandboxes starts the sandboxes, from those it started ahead when it
	// can; nil starts each when needed.
	Sandboxes *sandbox.Pool
	// Inits is the cgroup, beside those of the environments and without
	// limits, where a sandbox's init stage goes once its runtime has been
	// through its first invocation: the runtime's cgroup then holds the
	// runtime's processes alone, and freezing them waits for none of the
	// init stage's threads. (Moved any earlier, it would hold up the
	// runtime's start: a move between v1 cgroups stops every fork on the
	// host until RCU's next grace period.) Nil keeps them together.
	Inits *cgroup.Group

	// limits bound the kernel work of every environment that shares the
	// Isolation; made at first use.
	limitsOnce sync.Once
	limits     *kernelLimits
}

// kernelLimits bound the work that waits for the kernel, in a thread of
// its own while it does: without them a thousand environments that
// start at once hold a thousand threads, which Go keeps for good, and
// race each other for loop devices and cgroup locks.
type kernelLimits struct {
	// builds bounds the sandboxes built (with their cgroups) at once,
	// and teardowns those torn down: apart, so that a burst of starts
	// does not hold up the teardowns that free what they need.
	builds, teardowns limiter
	// freezes bounds the pauses and thaws under way at once.
	freezes limiter
}

// kernelLimits returns the limits that iso's environments share.
func (iso *Isolation) kernelLimits() *kernelLimits {
	iso.limitsOnce.Do(func() {
		n := max(8, 4*runtime.NumCPU())
		iso.limits = &kernelLimits{builds: newLimiter(n), teardowns: newLimiter(n), freezes: newLimiter(n)}
	})
	return iso.limits
}

// Lambda's figures for a sandbox.
const (
	sandboxRuntimeAPI = "127.0.0.1:9001"
	sandboxUID        = 993 // sbx_user1051
	sandboxGID        = 990
	sandboxHostname   = "localhost"
	// memoryPerCPU is the memory that buys one vCPU on Lambda, in MB.
	memoryPerCPU = 1769
	// maxTasks is Lambda's limit on processes and threads.
	maxTasks = 1024
)

// cpuShare is the CPU a function of memoryMB gets: memory / 1769 MB of one
// vCPU, at most the host's CPUs.
func cpuShare(memoryMB int) float64 {
	return min(float64(memoryMB)/memoryPerCPU, float64(runtime.NumCPU()))
}

// etc is the sandbox's own /etc.
func (iso *Isolation) etc() map[string]string {
	etc := iso.networkEtc()
	etc["passwd"] = "root:x:0:0:root:/root:/sbin/nologin\nsbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\n"
	etc["group"] = "root:x:0:\nsbx_user1051:x:990:\n"
	etc["nsswitch.conf"] = "passwd: files\ngroup: files\nhosts: files dns\n"
	return etc
}

// networkEtc are the files of /etc that the platform owns, as Lambda does:
// they lie over a container image's own.
func (iso *Isolation) networkEtc() map[string]string {
	resolv := iso.ResolvConf
	if resolv == "" {
		resolv = "nameserver 127.0.0.1\n"
	}
	return map[string]string{
		// As on Lambda, extensions listen for the Telemetry API on
		// sandbox or sandbox.localdomain.
		"hosts":       "127.0.0.1\tlocalhost sandbox sandbox.localdomain\n::1\tlocalhost\n",
		"resolv.conf": resolv,
	}
}

// sandboxCommand maps the runtime's command to paths inside the sandbox:
// the code directory is /var/task, the runtime directory /var/runtime, the
// layers /opt, and a command from elsewhere on the host has its directory
// bound at /var/runtime.
func sandboxCommand(argv []string, fn function.Config) ([]string, []sandbox.Bind) {
	binds := []sandbox.Bind{{Source: fn.CodeDir, Target: TaskRoot}, {Source: fn.OptDir, Target: OptDir}}
	cmd := append([]string(nil), argv...)
	for i, arg := range cmd {
		cmd[i] = sandboxPath(arg, fn)
	}
	bin := argv[0]
	switch {
	case fn.RuntimeDir != "":
		binds = append(binds, sandbox.Bind{Source: fn.RuntimeDir, Target: RuntimeDir})
	case strings.HasPrefix(bin, fn.CodeDir+"/"):
		binds = append(binds, sandbox.Bind{Target: RuntimeDir})
	case filepath.IsAbs(bin) && !onHostRoot(bin):
		binds = append(binds, sandbox.Bind{Source: filepath.Dir(bin), Target: RuntimeDir})
		cmd[0] = RuntimeDir + "/" + filepath.Base(bin)
	default:
		binds = append(binds, sandbox.Bind{Target: RuntimeDir})
	}
	return cmd, binds
}

// sandboxPath maps a host path of the function's directories to where
// the sandbox shows it.
func sandboxPath(p string, fn function.Config) string {
	for _, m := range [][2]string{{fn.CodeDir, TaskRoot}, {fn.RuntimeDir, RuntimeDir}, {fn.OptDir, OptDir}} {
		if m[0] == "" {
			continue
		}
		if p == m[0] {
			return m[1]
		}
		if rest, ok := strings.CutPrefix(p, m[0]+"/"); ok {
			return m[1] + "/" + rest
		}
	}
	return p
}

// onHostRoot reports whether path lies in the host directories every
// sandbox sees.
func onHostRoot(path string) bool {
	for _, dir := range []string{"/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/"} {
		if strings.HasPrefix(path, dir) {
			return true
		}
	}
	return false
}

// prepared is a sandbox built and stopped just before the exec of the
// runtime, with the Runtime API listening inside it.
type prepared struct {
	sb   *sandbox.Sandbox
	l    net.Listener
	cg   *cgroup.Group
	r, w *os.File
	// teardowns bounds the sandboxes torn down at once.
	teardowns limiter
	// watch reports the exits of the extensions that run beside the
	// runtime; nil when there are none.
	watch *extensionWatch
	// extOut is the read end of the extensions' output, apart from the
	// runtime's; nil when there are none.
	extOut *os.File
}

// discard tears down a prepared sandbox that will not run.
func (pr *prepared) discard() error {
	var err error
	pr.teardowns.do(func() {
		// The Runtime API's server may have closed the listener already.
		pr.l.Close()
		err = pr.sb.Destroy()
		if pr.cg != nil {
			pr.cg.Kill()
			err = errors.Join(err, pr.cg.Delete())
		}
	})
	pr.r.Close()
	pr.w.Close()
	if pr.extOut != nil {
		pr.extOut.Close()
	}
	if err != nil {
		return fmt.Errorf("discard prepared sandbox: %w", err)
	}
	return nil
}

// startSandboxed starts the runtime in a sandbox: the one prepared ahead,
// or a new one. ns learns the sandbox before anything in it runs; the
// runtime's output goes to out, its extensions' to extOut.
func (e *Environment) startSandboxed(argv, env []string, ns *sandboxDialer, out, extOut func([]byte)) (*process, error) {
	e.mu.Lock()
	pr := e.prepared
	e.prepared = nil
	e.mu.Unlock()
	if pr == nil {
		var err error
		if pr, err = e.buildSandbox(argv, env, true); err != nil {
			return nil, err
		}
	}
	return e.launch(pr, argv[0], ns, out, extOut)
}

// buildSandbox builds a sandbox for the runtime up to the exec, with the
// Runtime API's listener at 127.0.0.1:9001 inside it. With now, the
// runtime starts as soon as the sandbox is built; launch must follow.
// It waits its turn among the builds of iso's environments.
func (e *Environment) buildSandbox(argv, env []string, now bool) (pr *prepared, err error) {
	limits := e.iso.kernelLimits()
	limits.builds.do(func() { pr, err = e.buildSandboxNow(argv, env, now) })
	if pr != nil {
		pr.teardowns = limits.teardowns
	}
	return pr, err
}

// buildSandboxNow does buildSandbox's work.
func (e *Environment) buildSandboxNow(argv, env []string, now bool) (_ *prepared, err error) {
	if len(argv) == 0 {
		return nil, errors.New("start runtime: empty command")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start runtime: pipe: %w", err)
	}
	pr := &prepared{r: r, w: w}
	cleanup := []func(){func() { r.Close(); w.Close() }}
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()
	spec := sandbox.Spec{
		Env:      env,
		Tmp:      sandbox.TmpSpec{SizeMB: e.fn.EphemeralStorageMB, Image: e.tmpImage, Images: e.iso.Images},
		Hostname: sandboxHostname,
		UID:      sandboxUID,
		GID:      sandboxGID,
		Stdout:   w,
		Stderr:   w,
		Listen:   []string{sandboxRuntimeAPI},

		ExecWhenBuilt: now,
	}
	if img := e.fn.Image; img != nil {
		// The image is the whole root, its own /var/task, /opt and
		// /var/runtime included; the network's files lie over its /etc.
		spec.Command, spec.Image, spec.Dir = argv, img.Layers, img.WorkingDir
		spec.Etc = e.iso.networkEtc()
	} else {
		spec.Command, spec.Binds = sandboxCommand(argv, e.fn)
		spec.Dir, spec.HostRoot, spec.Etc = TaskRoot, true, e.iso.etc()
	}
	if len(e.extensions) > 0 {
		// The extensions run beside the runtime, started by the
		// sandbox's init stage with it, their output on a pipe of
		// their own.
		pr.watch = &extensionWatch{api: e.api, names: e.extensions, tasks: &e.tasks}
		extR, extW, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("start extensions: pipe: %w", err)
		}
		pr.extOut = extR
		// The sandbox has its copy once the spec is sent.
		defer extW.Close()
		cleanup = append(cleanup, func() { extR.Close() })
		extEnv := extensionVariables(env)
		for _, name := range e.extensions {
			spec.Helpers = append(spec.Helpers, sandbox.Helper{Command: []string{OptDir + "/" + extensionsDir + "/" + name}, Env: extEnv, Output: extW})
		}
		spec.OnHelperExit = pr.watch.exited
	}
	if e.fn.Network == function.NetworkOutbound && e.iso.Network != nil {
		spec.Network = sandbox.NetworkOutbound
		spec.Outbound = e.iso.Network
	}
	var cg *pendingGroup
	if e.iso.Cgroups != nil {
		e.starts++
		name := fmt.Sprintf("%s-%d", e.id, e.starts)
		// Made while the sandbox is built: the sandbox waits for it only to
		// add its process.
		cg = newPendingGroup(func() (*cgroup.Group, error) {
			g, err := e.iso.Cgroups.NewGroup(name, cgroup.Limits{
				MemoryBytes: int64(e.fn.MemoryMB) << 20,
				CPU:         cpuShare(e.fn.MemoryMB),
				Pids:        maxTasks,
			})
			if err != nil {
				return nil, err
			}
			// As on Lambda, init runs with burst CPU: the quota holds
			// from the first invocation on (see Environment.init).
			if err := g.SetCPU(0); err != nil {
				g.Delete()
				return nil, err
			}
			return g, nil
		})
		cleanup = append(cleanup, func() {
			if g, _ := cg.wait(); g != nil {
				g.Kill()
				g.Delete()
			}
		})
		spec.Cgroup = cg
		// The pids limit bounds each environment's tasks; RLIMIT_NPROC
		// would bound those of every sandbox together.
		spec.NoProcRlimit = true
	}
	if _, statErr := os.Stat(e.tmpImage); errors.Is(statErr, os.ErrNotExist) && e.iso.Images != nil {
		if err := e.iso.Images.Take(e.tmpImage, e.fn.EphemeralStorageMB); err != nil {
			return nil, fmt.Errorf("start runtime: /tmp image: %w", err)
		}
	}
	if pr.sb, err = e.iso.Sandboxes.Start(spec); err != nil {
		return nil, fmt.Errorf("start runtime: %w", err)
	}
	if cg != nil {
		// Made, since the sandbox was added to it.
		pr.cg, _ = cg.wait()
	}
	pr.l = pr.sb.Listeners()[0]
	return pr, nil
}

// pendingGroup is a cgroup being made, which a sandbox can be added to
// once it is there.
type pendingGroup struct {
	done chan struct{}
	g    *cgroup.Group
	err  error
}

// newPendingGroup makes a cgroup with create, in the background.
func newPendingGroup(create func() (*cgroup.Group, error)) *pendingGroup {
	p := &pendingGroup{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.g, p.err = create()
	}()
	return p
}

// wait waits for the cgroup to be made.
func (p *pendingGroup) wait() (*cgroup.Group, error) {
	<-p.done
	return p.g, p.err
}

// Add adds process pid to the cgroup once it is made.
func (p *pendingGroup) Add(pid int) error {
	g, err := p.wait()
	if err != nil {
		return err
	}
	return g.Add(pid)
}

// launch execs the runtime in a prepared sandbox. Its Init Duration starts
// here: like Lambda's, it counts the runtime's init, not the platform's.
func (e *Environment) launch(pr *prepared, name string, ns *sandboxDialer, out, extOut func([]byte)) (*process, error) {
	ns.sb.Store(pr.sb)
	e.serve(pr.l)
	if err := pr.sb.Exec(); err != nil {
		return nil, errors.Join(fmt.Errorf("start runtime %s: %w", name, err), pr.discard())
	}
	start := pr.sb.Started()
	pr.w.Close()
	var extPump *pump
	if pr.extOut != nil {
		f := pr.extOut
		pr.extOut = nil
		var err error
		if extPump, err = newPump(f, extOut); err != nil {
			return nil, errors.Join(err, pr.discard())
		}
		go extPump.run()
	}
	sb, l, cg := pr.sb, pr.l, pr.cg
	// The sandbox's own goroutine reports its end, or, with extensions,
	// the runtime's, which comes before the sandbox's.
	p, err := newProcess(sb.CommandPid(), start, pr.r, out, func(exited func(syscall.WaitStatus, error)) {
		if pr.watch == nil {
			sb.AfterExit(func() { exited(sb.Wait()) })
			return
		}
		sb.AfterCommandExit(func() {
			select {
			case <-sb.Done():
				exited(sb.Wait())
			default:
				status, _ := sb.CommandStatus()
				exited(status, nil)
			}
		})
	})
	if err != nil {
		return nil, errors.Join(err, pr.discard())
	}
	p.cg = cg
	p.teardowns = pr.teardowns
	if cg != nil && cg.MemoryPeakResets() {
		p.mem.useCgroup(cg)
	}
	if cg != nil {
		init := 0
		if e.iso.Inits != nil {
			init = sb.Pid()
		}
		p.freezer = newFreezer(cg, init, e.iso.Inits, e.iso.kernelLimits().freezes)
	}
	p.signalTree = func(sig syscall.Signal) { sb.Signal(sig) }
	p.signalRuntime = p.signalTree
	if pr.watch != nil {
		p.watch, p.extensions = pr.watch, sb.Done()
		p.signalRuntime = func(sig syscall.Signal) {
			if pid := sb.CommandPid(); pid > 0 {
				syscall.Kill(pid, sig)
			}
		}
	}
	p.release = func() error {
		l.Close()
		err := sb.Destroy()
		if cg != nil {
			err = errors.Join(err, cg.Delete())
		}
		if extPump != nil {
			// The extensions' last lines, once the sandbox has ended.
			extPump.wait(time.Second)
		}
		return err
	}
	return p, nil
}

// Prepare builds the environment's sandbox ahead, so that its first
// invocation only has to start the runtime: a cold environment becomes
// prepared. A plain process's environment, whose Runtime API listens
// already, has nothing more to build. It does nothing when the environment
// is not cold.
func (e *Environment) Prepare() error {
	if e.State() != StateCold {
		return nil
	}
	if e.iso == nil {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.st != StateCold {
			return nil
		}
		return e.transitionLocked(StatePrepared)
	}
	pr, err := e.buildSandbox(e.command(), e.sandboxVariables(), false)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.st != StateCold || e.prepared != nil || e.proc != nil {
		return pr.discard()
	}
	e.prepared = pr
	return e.transitionLocked(StatePrepared)
}

// serve serves the Runtime API on l until l or the server closes.
func (e *Environment) serve(l net.Listener) {
	e.serving.Add(1)
	go func() {
		defer e.serving.Done()
		if err := e.api.Serve(l); err != nil && !errors.Is(err, net.ErrClosed) {
			e.log.Error("runtime api stopped", "err", err)
		}
	}()
}
