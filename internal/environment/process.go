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
	// release frees what the tree held, once it has exited.
	release func() error
	// killed makes kill's teardown happen once; killErr is its result.
	killed  sync.Once
	killErr error
	// cg is the tree's cgroup; nil when limits are not enforced.
	cg *cgroup.Group
	// init is the pid of the sandbox's init stage while it is in cg, to be
	// moved to inits at the first pause; 0 once moved, or to stay.
	init  int
	inits *cgroup.Group

	// pauseMu guards paused.
	pauseMu sync.Mutex
	// paused is closed once cg has been paused after the last invocation,
	// and is to be thawed before the next; nil when it was not paused.
	paused chan struct{}
}

// pause pauses cg in the background and notes it in paused.
func (p *process) pause(log func(err error)) {
	done := make(chan struct{})
	p.pauseMu.Lock()
	p.paused = done
	p.pauseMu.Unlock()
	go func() {
		defer close(done)
		// One pause at a time: each waits for the thaw that waited for
		// the last.
		if p.init != 0 {
			if err := p.inits.Add(p.init); err != nil {
				log(err)
			}
			p.init = 0
		}
		if err := p.cg.Pause(); err != nil {
			log(err)
		}
	}()
}

// thaw thaws cg, once its pause has been made, if it was paused. The
// thaw itself is not waited for: a runtime sent an event while still
// frozen reads it as soon as it runs.
func (p *process) thaw(log func(err error)) {
	p.pauseMu.Lock()
	paused := p.paused
	p.paused = nil
	p.pauseMu.Unlock()
	if paused == nil {
		return
	}
	<-paused
	go func() {
		if err := p.cg.Thaw(); err != nil {
			log(err)
		}
	}()
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
	p, err := newProcess(pid, start, r, emit, func() (syscall.WaitStatus, error) {
		cmd.Wait()
		if cmd.ProcessState == nil {
			return 0, errors.New("not waited for")
		}
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		return ws, nil
	})
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	p.signalTree = func(sig syscall.Signal) { syscall.Kill(-pid, sig) }
	return p, nil
}

// newProcess tracks a started process: its output on out, its end through
// wait.
func newProcess(pid int, start time.Time, out *os.File, emit func([]byte), wait func() (syscall.WaitStatus, error)) (*process, error) {
	pu, err := newPump(out, emit)
	if err != nil {
		return nil, fmt.Errorf("start runtime: %w", err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	p := &process{pid: pid, start: start, ctx: ctx, exited: make(chan struct{}), pump: pu, mem: newMeter(pid), release: func() error { return nil }}
	go pu.run()
	go func() {
		status, err := wait()
		cancel(&ExitError{Status: status, Err: err})
		close(p.exited)
	}()
	return p, nil
}

// kill ends the whole tree at once, waits for the runtime and for its
// output to be read, and frees what the tree held. Later calls wait for
// the first and return its error.
func (p *process) kill() error {
	p.killed.Do(func() {
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
	})
	return p.killErr
}

// stop asks the tree to end with SIGTERM, waits up to grace, then kills it.
func (p *process) stop(grace time.Duration) error {
	if p.cg != nil {
		p.pauseMu.Lock()
		paused := p.paused
		p.pauseMu.Unlock()
		if paused != nil {
			<-paused
		}
		p.cg.Thaw()
	}
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

// capPeak bounds a peak summed over the tree's processes, which counts
// their shared pages once per process, by the cgroup's peak, which counts
// each page once but also the page cache of files the tree wrote (/tmp
// among them). Both are upper bounds; the lower is nearer the truth. It
// also starts the cgroup's next peak.
func (p *process) capPeak(peak int64) int64 {
	if p.cg == nil {
		return peak
	}
	if cgPeak, err := p.cg.MemoryPeak(); err == nil && cgPeak > 0 && cgPeak < peak {
		peak = cgPeak
	}
	p.cg.ResetMemoryPeak()
	return peak
}
