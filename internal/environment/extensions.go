package environment

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/runtimeapi"
	"github.com/emberfn/ember/internal/sandbox/pidfd"
)

// Lambda's shutdown budget when extensions are registered: 2 s in all for
// the runtime and the external extensions, of which the runtime has 300
// ms between SIGTERM and SIGKILL, 500 ms with an internal extension.
const (
	extensionShutdownBudget = 2000 * time.Millisecond
	runtimeShutdownGrace    = 300 * time.Millisecond
	runtimeShutdownInternal = 500 * time.Millisecond
)

// extensionsDir is where external extensions are, below /opt.
const extensionsDir = "extensions"

// disableExtensionsFile, in /opt, turns the external extensions off, as
// it does in Lambda's runtime interface emulator.
const disableExtensionsFile = "disable-extensions-jwigqn8j"

// extensionNames lists fn's external extensions: the executable files of
// /opt/extensions, by name. A container image's are those of its
// layers' opt/extensions, the topmost layer's first. There are none when
// /opt holds disableExtensionsFile.
func extensionNames(fn function.Config) []string {
	var opts []string
	if fn.Image != nil {
		for _, layer := range fn.Image.Layers {
			opts = append(opts, filepath.Join(layer, "opt"))
		}
	} else if fn.OptDir != "" {
		opts = append(opts, fn.OptDir)
	}
	var dirs []string
	for _, opt := range opts {
		if _, err := os.Lstat(filepath.Join(opt, disableExtensionsFile)); err == nil {
			return nil
		}
		dirs = append(dirs, filepath.Join(opt, extensionsDir))
	}
	var names []string
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, ent := range entries {
			info, err := ent.Info()
			// A regular file that anyone may run; a whiteout (a
			// character device) or a directory is none.
			if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
				continue
			}
			if !slices.Contains(names, ent.Name()) {
				names = append(names, ent.Name())
			}
		}
	}
	slices.Sort(names)
	return names
}

// hiddenFromExtensions are the runtime's own variables, which Lambda does
// not give extensions.
var hiddenFromExtensions = []string{
	"AWS_EXECUTION_ENV", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
	"AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_DAEMON_ADDRESS", "LAMBDA_RUNTIME_DIR",
	"LAMBDA_TASK_ROOT", "_AWS_XRAY_DAEMON_ADDRESS", "_AWS_XRAY_DAEMON_PORT", "_HANDLER",
}

// extensionVariables is the extensions' environment: the runtime's, less
// the variables that are the runtime's own.
func extensionVariables(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(hiddenFromExtensions, k) {
			out = append(out, kv)
		}
	}
	return out
}

// extensionWatch tells the Runtime API of the extensions' exits, but for
// those the environment brought about itself.
type extensionWatch struct {
	api   *runtimeapi.Server
	names []string
	// tasks are the environment's own, which Close waits for.
	tasks *sync.WaitGroup
	// quiet is set once the environment ends the extensions; no report
	// begins after.
	quiet atomic.Bool
}

// exited reports the end of extension i. The report may end the
// invocation and reset the environment, which waits for the goroutine
// that calls exited (the sandbox's, or the one that waits for the
// process): it goes on a task of its own.
func (w *extensionWatch) exited(i int, status syscall.WaitStatus) {
	if w.quiet.Load() || i < 0 || i >= len(w.names) {
		return
	}
	name, text := w.names[i], (&ExitError{Status: status}).Error()
	w.tasks.Go(func() { w.api.ExtensionExited(name, text) })
}

// plainExtensions are the external extensions of a runtime that runs as a
// plain process: each in a process group of its own, their output on one
// pipe.
type plainExtensions struct {
	cmds []*exec.Cmd
	pump *pump
	// done is closed once every one has ended.
	done chan struct{}
}

// startPlainExtensions starts the extensions names of dir, each told to
// watch when it ends.
func startPlainExtensions(dir string, env []string, cwd string, emit func([]byte), watch *extensionWatch) (*plainExtensions, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start extensions: pipe: %w", err)
	}
	defer w.Close()
	x := &plainExtensions{done: make(chan struct{})}
	var wg sync.WaitGroup
	for i, name := range watch.names {
		cmd := exec.Command(filepath.Join(dir, name))
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = cwd, env, w, w
		cmd.SysProcAttr = sysProcAttr()
		if err := cmd.Start(); err != nil {
			x.signal(syscall.SIGKILL)
			wg.Wait()
			r.Close()
			return nil, fmt.Errorf("start extension %s: %w", name, err)
		}
		x.cmds = append(x.cmds, cmd)
		wg.Go(func() {
			pidfd.Wait(cmd)
			if cmd.ProcessState != nil {
				ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
				watch.exited(i, ws)
			}
		})
	}
	if x.pump, err = newPump(r, emit); err != nil {
		x.signal(syscall.SIGKILL)
		wg.Wait()
		return nil, fmt.Errorf("start extensions: %w", err)
	}
	go x.pump.run()
	go func() {
		wg.Wait()
		close(x.done)
	}()
	return x, nil
}

// signal sends sig to every extension's process group.
func (x *plainExtensions) signal(sig syscall.Signal) {
	for _, cmd := range x.cmds {
		syscall.Kill(-cmd.Process.Pid, sig)
	}
}

// hasExtensions reports whether external extensions run beside the
// runtime.
func (p *process) hasExtensions() bool { return p.extensions != nil }

// stopWithExtensions is Lambda's shutdown of a runtime with extensions:
// SIGTERM to the runtime alone and its grace, then SIGKILL to it; the
// SHUTDOWN event with reason to the extensions, which have what is left
// of the budget to end; then the whole tree is killed. budget bounds it
// all.
func (e *Environment) stopWithExtensions(p *process, reason runtimeapi.ShutdownReason, budget time.Duration) error {
	start := time.Now()
	deadline := start.Add(budget)
	grace := min(runtimeShutdownGrace, budget)
	for _, x := range e.api.Extensions() {
		if !x.External {
			grace = min(runtimeShutdownInternal, budget)
		}
	}
	p.watch.quiet.Store(true)
	p.freezer.stop(true)
	if p.hub != nil {
		p.hub.Resume()
	}
	p.signalRuntime(syscall.SIGTERM)
	t := time.NewTimer(grace)
	select {
	case <-p.exited:
	case <-t.C:
		p.signalRuntime(syscall.SIGKILL)
	}
	t.Stop()
	// The subscribers receive what is left while the extensions end:
	// until they have, or the budget is spent.
	delivered, stopDelivery := e.closeHub(p.hub, deadline)
	t = time.NewTimer(time.Until(deadline))
	if e.api.Shutdown(reason, deadline) > 0 {
		select {
		case <-p.extensions:
		case <-t.C:
		}
	} else {
		select {
		case <-delivered:
		case <-t.C:
		}
	}
	t.Stop()
	stopDelivery()
	return p.kill()
}

// extensionLines are Lambda's EXTENSION lines of the init phase, one per
// registered extension.
func extensionLines(exts []runtimeapi.RegisteredExtension, failure *runtimeapi.ExtensionError) []string {
	lines := make([]string, 0, len(exts))
	for _, x := range exts {
		state := "Ready"
		line := ""
		if failure != nil && failure.Name == x.Name {
			state = strings.TrimPrefix(failure.Type, "Extension.")
			if failure.Reported != "" {
				line = "\tError Type: " + failure.Reported
			}
		}
		lines = append(lines, fmt.Sprintf("EXTENSION\tName: %s\tState: %s\tEvents: [%s]%s\n", x.Name, state, strings.Join(x.Events, ", "), line))
	}
	return lines
}

// startPlainWithExtensions starts the external extensions, if any, then
// the runtime, as plain processes, their output lines to extensionOut and
// runtimeOut. The extensions find /opt/extensions at the function's OptDir.
func (e *Environment) startPlainWithExtensions(argv []string, runtimeOut, extensionOut func([]byte)) (*process, error) {
	env := variables(e.fn, e.opts.BaseEnv, e.apiAddr, e.logStream, e.fn.CodeDir)
	if len(e.extensions) == 0 {
		return startPlain(argv, e.fn.CodeDir, env, runtimeOut)
	}
	watch := &extensionWatch{api: e.api, names: e.extensions, tasks: &e.tasks}
	exts, err := startPlainExtensions(filepath.Join(e.fn.OptDir, extensionsDir), extensionVariables(env), e.fn.CodeDir, extensionOut, watch)
	if err != nil {
		return nil, err
	}
	p, err := startPlain(argv, e.fn.CodeDir, env, runtimeOut)
	if err != nil {
		watch.quiet.Store(true)
		exts.signal(syscall.SIGKILL)
		<-exts.done
		exts.pump.wait(time.Second)
		return nil, err
	}
	runtime := p.signalTree
	p.signalRuntime = runtime
	p.signalTree = func(sig syscall.Signal) {
		runtime(sig)
		exts.signal(sig)
	}
	p.watch, p.extensions = watch, exts.done
	p.release = func() error {
		<-exts.done
		exts.pump.wait(time.Second)
		return nil
	}
	return p, nil
}
