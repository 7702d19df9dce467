package environment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// process is one runtime process and the process group it leads.
type process struct {
	cmd   *exec.Cmd
	pid   int
	start time.Time
	// ctx is cancelled with an *ExitError as cause when the process exits.
	ctx    context.Context
	exited chan struct{}
	pump   *pump
	mem    *meter
}

// ExitError says how a runtime process ended.
type ExitError struct{ State *os.ProcessState }

// Error gives the words Lambda uses after "Runtime exited with error: ".
func (e *ExitError) Error() string {
	if e.State == nil {
		return "exit status unknown"
	}
	ws, ok := e.State.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return "signal: " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", e.State.ExitCode())
}

// startProcess starts argv in its own process group with stdout and stderr
// on one pipe whose lines go to emit.
func startProcess(argv []string, dir string, env []string, emit func([]byte)) (*process, error) {
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
	pu, err := newPump(r, emit)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("start runtime: %w", err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	p := &process{cmd: cmd, pid: cmd.Process.Pid, start: start, ctx: ctx, exited: make(chan struct{}), pump: pu, mem: newMeter(cmd.Process.Pid)}
	go pu.run()
	go func() {
		cmd.Wait()
		cancel(&ExitError{State: cmd.ProcessState})
		close(p.exited)
	}()
	return p, nil
}

// signalGroup sends sig to every process of the group.
func (p *process) signalGroup(sig syscall.Signal) {
	syscall.Kill(-p.pid, sig)
}

// kill ends the whole process group at once and waits for the runtime
// and for its output to be read.
func (p *process) kill() {
	p.signalGroup(syscall.SIGKILL)
	<-p.exited
	p.pump.wait(time.Second)
	p.mem.close()
}

// stop asks the process group to end with SIGTERM, waits up to grace, then
// kills it.
func (p *process) stop(grace time.Duration) {
	p.signalGroup(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
	}
	p.kill()
}
