package environment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/emberfn/ember/internal/sandbox/cgroup"
	"github.com/emberfn/ember/internal/sandbox/pidfd"
	"github.com/emberfn/ember/internal/telemetry"
)

// process is one runtime process and the tree it leads: a plain process
// group, or a sandbox.
type process struct {
	pid   int
	start time.Time
	// ctx is cancelled with an *ExitError as cause when the process exits.
	ctx    context.Context
	exited chan struct{}
	pump   *pump
	mem    *meter
	// signalTree sends sig to every process of the tree.
	signalTree func(sig syscall.Signal)
	// signalRuntime sends sig to the runtime alone, not to the
	// extensions beside it.
	signalRuntime func(sig syscall.Signal)
	// extensions is closed once every external extension has ended; nil
	// when none runs.
	extensions <-chan struct{}
	// watch reports the extensions' exits; nil when none runs.
	watch *extensionWatch
	// release frees what the tree held, once it has exited.
	release func() error
	// killed makes kill's teardown happen once; killErr is its result.
	killed  sync.Once
	killErr error
	// cg is the tree's cgroup; nil when limits are not enforced.
	cg *cgroup.Group
	// freezer pauses and thaws cg; nil without cg.
	freezer *freezer
	// teardowns bounds the trees torn down at once; nil bounds none.
	teardowns limiter
	// hub serves the Telemetry and Logs APIs of this runtime's start;
	// nil until init has it.
	hub *telemetry.Hub
}

// pause pauses cg after an invocation, off the caller's path; log
// receives what fails.
func (p *process) pause(log func(err error)) {
	p.freezer.set(true, log)
}

// thaw thaws cg for an invocation if it was paused, off the caller's
// path: a runtime sent an event while still frozen reads it as soon as
// it runs. log receives what fails.
func (p *process) thaw(log func(err error)) {
	if p.freezer != nil {
		p.freezer.set(false, log)
	}
}

// ExitError says how a runtime process ended.
type ExitError struct {
	Status syscall.WaitStatus
	// Err is a failure to learn Status.
	Err error
}

// Error gives the words Lambda uses after "Runtime exited with error: ".
func (e *ExitError) Error() string {
	switch {
	case e.Err != nil:
		return "exit status unknown"
	case e.Status.Signaled():
		return "signal: " + e.Status.Signal().String()
	}
	return fmt.Sprintf("exit status %d", e.Status.ExitStatus())
}

// startPlain starts argv as a plain process in its own process group with
// stdout and stderr on one pipe whose lines go to emit.
func startPlain(argv []string, dir string, env []string, emit func([]byte)) (*process, error) {
	if len(argv) == 0 {
		return nil, errors.New("start runtime: empty command")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start runtime: pipe: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.SysProcAttr = sysProcAttr()
	start := time.Now()
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start runtime %s: %w", argv[0], err)
	}
	pid := cmd.Process.Pid
	p, err := newProcess(pid, start, r, emit, func(exited func(syscall.WaitStatus, error)) {
		go func() {
			pidfd.Wait(cmd)
			if cmd.ProcessState == nil {
				exited(0, errors.New("not waited for"))
				return
			}
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			exited(ws, nil)
		}()
	})
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	p.signalTree = func(sig syscall.Signal) { syscall.Kill(-pid, sig) }
	p.signalRuntime = p.signalTree
	return p, nil
}

// newProcess tracks a started process: its output on out, its end
// through watch, which calls exited once, when the process has ended
// (and no later than that: it holds no thread meanwhile).
func newProcess(pid int, start time.Time, out *os.File, emit func([]byte), watch func(exited func(syscall.WaitStatus, error))) (*process, error) {
	pu, err := newPump(out, emit)
	if err != nil {
		return nil, fmt.Errorf("start runtime: %w", err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	p := &process{pid: pid, start: start, ctx: ctx, exited: make(chan struct{}), pump: pu, mem: newMeter(pid), release: func() error { return nil }}
	go pu.run()
	watch(func(status syscall.WaitStatus, err error) {
		cancel(&ExitError{Status: status, Err: err})
		close(p.exited)
	})
	return p, nil
}

// kill ends the whole tree at once, waits for the runtime and for its
// output to be read, and frees what the tree held. Later calls wait for
// the first and return its error.
func (p *process) kill() error {
	p.killed.Do(func() {
		if p.hub != nil {
			// What is left undelivered goes with the tree; a shutdown
			// that gives the subscribers time closed the hub already.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			p.hub.Close(ctx)
		}
		p.freezer.stop(false)
		p.teardowns.do(p.teardown)
	})
	return p.killErr
}

// teardown kills the tree and frees what it held; kill calls it once.
func (p *process) teardown() {
	if p.cg != nil {
		p.cg.Kill()
	}
	p.signalTree(syscall.SIGKILL)
	<-p.exited
	p.pump.wait(time.Second)
	p.mem.close()
	if err := p.release(); err != nil {
		p.killErr = fmt.Errorf("release runtime %d: %w", p.pid, err)
	}
}

// stop asks the tree to end with SIGTERM, waits up to grace, then kills it.
func (p *process) stop(grace time.Duration) error {
	// Thawed, so that the runtime sees the signal.
	p.freezer.stop(true)
	p.signalTree(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
	}
	return p.kill()
}

// outOfMemory reports whether the kernel killed a process of the tree for
// passing its memory limit.
func (p *process) outOfMemory() bool {
	if p.cg == nil {
		return false
	}
	n, err := p.cg.OOMKills()
	return err == nil && n > 0
}

// samplesMemory reports whether an invocation's peak must be sampled
// while it runs: unless the tree has a cgroup whose own peak counter
// starts again at each invocation (cgroup v1; v2 from Linux 6.12), which
// the end of the invocation reads once, crash or not.
func (p *process) samplesMemory() bool {
	return p.cg == nil || !p.cg.MemoryPeakResets()
}

// capPeak bounds a peak summed over the tree's processes, which counts
// their shared pages once per process, by the cgroup's peak, which counts
// each page once but also the page cache of files the tree wrote (/tmp
// among them). Both are upper bounds; the lower is nearer the truth. It
// also starts the cgroup's next peak.
func (p *process) capPeak(peak int64) int64 {
	if p.cg == nil {
		return peak
	}
	if p.cg.MemoryPeakResets() {
		// The meter bounded it by the cgroup's peak already (see
		// meter.useCgroup): only the next peak is left to start.
		p.cg.ResetMemoryPeak()
		return peak
	}
	if cgPeak, err := p.cg.MemoryPeak(); err == nil && cgPeak > 0 && cgPeak < peak {
		peak = cgPeak
	}
	p.cg.ResetMemoryPeak()
	return peak
}
