package environment

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

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
	resolv := iso.ResolvConf
	if resolv == "" {
		resolv = "nameserver 127.0.0.1\n"
	}
	return map[string]string{
		"passwd":        "root:x:0:0:root:/root:/sbin/nologin\nsbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\n",
		"group":         "root:x:0:\nsbx_user1051:x:990:\n",
		"hosts":         "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
		"resolv.conf":   resolv,
		"nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
	}
}

// sandboxCommand maps the runtime's command to paths inside the sandbox:
// the code directory is /var/task, and a command from elsewhere on the host
// has its directory bound at /var/runtime.
func sandboxCommand(argv []string, codeDir string) ([]string, []sandbox.Bind) {
	binds := []sandbox.Bind{{Source: codeDir, Target: TaskRoot}, {Target: "/opt"}}
	cmd := append([]string(nil), argv...)
	bin := argv[0]
	switch {
	case strings.HasPrefix(bin, codeDir+"/"):
		cmd[0] = TaskRoot + strings.TrimPrefix(bin, codeDir)
		binds = append(binds, sandbox.Bind{Target: RuntimeDir})
	case filepath.IsAbs(bin) && !onHostRoot(bin):
		binds = append(binds, sandbox.Bind{Source: filepath.Dir(bin), Target: RuntimeDir})
		cmd[0] = RuntimeDir + "/" + filepath.Base(bin)
	default:
		binds = append(binds, sandbox.Bind{Target: RuntimeDir})
	}
	return cmd, binds
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

// startSandboxed starts the runtime in a new sandbox, with the Runtime API
// served at 127.0.0.1:9001 inside it.
func (e *Environment) startSandboxed(argv, env []string) (_ *process, err error) {
	if len(argv) == 0 {
		return nil, errors.New("start runtime: empty command")
	}
	cmd, binds := sandboxCommand(argv, e.fn.CodeDir)
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start runtime: pipe: %w", err)
	}
	defer w.Close()
	var cg *cgroup.Group
	cleanup := []func(){func() { r.Close() }}
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()
	spec := sandbox.Spec{
		Command:  cmd,
		Env:      env,
		Dir:      TaskRoot,
		Binds:    binds,
		HostRoot: true,
		Etc:      e.iso.etc(),
		Tmp:      sandbox.TmpSpec{SizeMB: e.fn.EphemeralStorageMB, Image: e.tmpImage},
		Hostname: sandboxHostname,
		UID:      sandboxUID,
		GID:      sandboxGID,
		Stdout:   w,
		Stderr:   w,
	}
	if e.iso.Cgroups != nil {
		e.starts++
		cg, err = e.iso.Cgroups.NewGroup(fmt.Sprintf("%s-%d", e.id, e.starts), cgroup.Limits{
			MemoryBytes: int64(e.fn.MemoryMB) << 20,
			CPU:         cpuShare(e.fn.MemoryMB),
			Pids:        maxTasks,
		})
		if err != nil {
			return nil, fmt.Errorf("start runtime: %w", err)
		}
		cleanup = append(cleanup, func() { cg.Kill(); cg.Delete() })
		spec.Cgroup = cg
		// The pids limit bounds each environment's tasks; RLIMIT_NPROC
		// would bound those of every sandbox together.
		spec.NoProcRlimit = true
	}
	start := time.Now()
	if _, statErr := os.Stat(e.tmpImage); errors.Is(statErr, os.ErrNotExist) && e.iso.Images != nil {
		if err := e.iso.Images.Take(e.tmpImage, e.fn.EphemeralStorageMB); err != nil {
			return nil, fmt.Errorf("start runtime: /tmp image: %w", err)
		}
	}
	sb, err := sandbox.Start(spec)
	if err != nil {
		return nil, fmt.Errorf("start runtime: %w", err)
	}
	cleanup = append(cleanup, func() { sb.Destroy() })
	l, err := sb.Listen("tcp", sandboxRuntimeAPI)
	if err != nil {
		return nil, fmt.Errorf("start runtime: listen in sandbox: %w", err)
	}
	cleanup = append(cleanup, func() { l.Close() })
	e.serve(l)
	if err := sb.Exec(); err != nil {
		return nil, fmt.Errorf("start runtime %s: %w", argv[0], err)
	}
	e.log.Debug("sandbox started", "took", time.Since(start))
	w.Close()
	p, err := newProcess(sb.Pid(), start, r, e.logs.write, func() *os.ProcessState {
		state, _ := sb.Wait()
		return state
	})
	if err != nil {
		return nil, err
	}
	p.cg = cg
	p.signalTree = func(sig syscall.Signal) { sb.Signal(sig) }
	p.release = func() {
		l.Close()
		sb.Destroy()
		if cg != nil {
			cg.Delete()
		}
	}
	return p, nil
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
