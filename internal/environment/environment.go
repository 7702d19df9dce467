// Package environment owns one execution environment: its runtime process,
// its Runtime API server, the Init → Invoke → Shutdown lifecycle with its
// deadlines, the START/END/REPORT lines and the measured durations and
// memory. It runs one invocation at a time; envpool decides which.
package environment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/runtimeapi"
	"github.com/emberfn/ember/internal/telemetry"
)

// Options configure one environment.
type Options struct {
	Function function.Config
	// Logs receives the function's log lines, runtime output and
	// START/END/REPORT alike.
	Logs io.Writer
	// LogsFor, when set, gives each environment its own writer, named by
	// its log stream; Logs is then unused.
	LogsFor func(stream string) io.Writer
	// Log is ember's own log.
	Log *slog.Logger
	// RuntimeAPIAddr is where the Runtime API listens; the default
	// 127.0.0.1:0 picks a free port.
	RuntimeAPIAddr string
	// BaseEnv is passed through to the runtime below Lambda's variables
	// (ember rie passes its own environment, as AWS's emulator does).
	BaseEnv map[string]string
	// ShutdownGrace is the time between SIGTERM and SIGKILL at shutdown.
	ShutdownGrace time.Duration
	// InitTimeout bounds the init phase; Lambda's is 10 s.
	InitTimeout time.Duration
	// Isolation runs the runtime in a sandbox; nil runs a plain process,
	// which enforces none of Lambda's limits.
	Isolation *Isolation
}

// memorySampleInterval is how often memory is sampled during an invocation.
const memorySampleInterval = 20 * time.Millisecond

var (
	errTimeout     = errors.New("invocation timed out")
	errInitTimeout = errors.New("init timed out")
	// ErrBusy is returned when an invocation is asked of an environment
	// that is running one.
	ErrBusy = errors.New("environment is busy")
	// ErrShutdown is returned by an environment that was shut down.
	ErrShutdown = errors.New("environment is shut down")
)

// Environment is one execution environment of one function version.
type Environment struct {
	fn        function.Config
	opts      Options
	log       *slog.Logger
	api       *runtimeapi.Server
	apiAddr   string
	logStream string
	logs      *logWriter
	// id names the environment's files and cgroups.
	id string
	// iso is nil for plain processes.
	iso *Isolation
	// tmpImage is the file behind the sandbox's /tmp, kept across resets.
	tmpImage string
	// extensions are the names of the external extensions, started with
	// each runtime.
	extensions []string
	// starts counts runtime starts, to name their cgroups. Only the
	// invocation that holds the environment, or Prepare before anyone can
	// claim it, starts a runtime.
	starts int
	// serving tracks the goroutines serving the Runtime API.
	serving sync.WaitGroup
	// resting is the memory the runtime held when its last invocation
	// ended: where the next invocation's peak starts.
	resting atomic.Int64
	// state mirrors st for readers that take no lock.
	state atomic.Int32
	// inflight counts invocations begun and not yet ended.
	inflight sync.WaitGroup
	// tasks are the short goroutines of a cold start, off its path.
	tasks sync.WaitGroup

	mu sync.Mutex
	// st is the lifecycle state; change it only with transitionLocked.
	st State
	// proc is the runtime process; nil before init and after a reset.
	proc *process
	// prepared is a sandbox built ahead for the next runtime, if any.
	prepared *prepared
	// hub serves the Telemetry and Logs APIs of the runtime started last.
	hub *telemetry.Hub
	// idleSince is when the environment last became idle.
	idleSince time.Time
	// closing is set once Close has begun the teardown.
	closing bool
	// gone is closed when the environment reaches StateGone.
	gone chan struct{}
}

// New prepares an environment: its Runtime API listens, no process runs
// until the first invocation.
func New(opts Options) (*Environment, error) {
	fn := opts.Function.WithDefaults()
	if opts.RuntimeAPIAddr == "" {
		opts.RuntimeAPIAddr = "127.0.0.1:0"
	}
	if opts.ShutdownGrace == 0 {
		opts.ShutdownGrace = 500 * time.Millisecond
	}
	if opts.InitTimeout == 0 {
		opts.InitTimeout = function.InitTimeout
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Logs == nil {
		opts.Logs = io.Discard
	}
	if fn.Image != nil && opts.Isolation == nil {
		return nil, errors.New("a container-image function runs only in ember's sandbox, which needs root")
	}
	stream := invocation.NewRequestID()
	e := &Environment{
		fn:        fn,
		opts:      opts,
		log:       opts.Log.With("function", fn.Name, "version", fn.Version),
		logStream: time.Now().UTC().Format("2006/01/02") + "/[" + fn.Version + "]" + stream[:8] + stream[9:13] + stream[14:18] + stream[19:23] + stream[24:],
		id:        "env-" + stream[24:],
		iso:       opts.Isolation,
		idleSince: time.Now(),
		gone:      make(chan struct{}),
	}
	e.logs = &logWriter{out: opts.Logs}
	if opts.LogsFor != nil {
		e.logs.out = opts.LogsFor(e.logStream)
	}
	e.api = runtimeapi.New(e.log)
	e.extensions = extensionNames(fn)
	e.api.ConfigureExtensions(runtimeapi.ExtensionsConfig{
		Function:   runtimeapi.FunctionInfo{Name: fn.Name, Version: fn.Version, Handler: fn.Handler, AccountID: fn.AccountID},
		External:   e.extensions,
		Telemetry:  subscriptions{e},
		Registered: e.registered,
	})
	if e.iso != nil {
		// Each sandbox gets a listener in its own network namespace.
		e.apiAddr = sandboxRuntimeAPI
		e.tmpImage = filepath.Join(e.iso.StateDir, e.id+"-tmp.img")
		return e, nil
	}
	l, err := net.Listen("tcp", opts.RuntimeAPIAddr)
	if errors.Is(err, syscall.EADDRINUSE) {
		// The address is taken, most often by this pool's first
		// environment: take any free port on the same host.
		host, _, splitErr := net.SplitHostPort(opts.RuntimeAPIAddr)
		if splitErr == nil {
			l, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("listen for runtime api on %s: %w", opts.RuntimeAPIAddr, err)
	}
	e.apiAddr = l.Addr().String()
	e.serve(l)
	return e, nil
}

// RuntimeAPI is the host:port of the environment's Runtime API.
func (e *Environment) RuntimeAPI() string { return e.apiAddr }

// LogStream is the environment's log stream name.
func (e *Environment) LogStream() string { return e.logStream }

// run is one invocation in this environment.
type run struct {
	req          invocation.Request
	started      time.Time
	initDuration time.Duration
	// done receives the report; see Invoke.
	done func(invocation.Report)
	// limited is set when the runtime ran under enforced limits.
	limited bool
	// hub receives the invocation's telemetry events; nil when none go
	// out (an init that failed).
	hub *telemetry.Hub
	// answered is when the runtime's answer came.
	answered time.Time
	// proc is the runtime that serves the invocation, once it runs.
	proc *process
	// peak is the highest memory seen in use, in bytes.
	peak atomic.Int64
	// samplerMu guards the timer that samples memory while the
	// invocation runs.
	samplerMu      sync.Mutex
	sampler        *time.Timer
	samplerStopped bool
}

// samplePeak records the memory the runtime's process tree uses at its
// peak. Sampled while the tree is alive, it survives a crash.
func (r *run) samplePeak(m *meter) {
	v, _ := m.peak()
	r.raisePeak(v)
}

// raisePeak records v if it is the highest figure yet.
func (r *run) raisePeak(v int64) {
	for {
		old := r.peak.Load()
		if v <= old || r.peak.CompareAndSwap(old, v) {
			return
		}
	}
}

// sampleEvery samples memory every d until stopSampling.
func (r *run) sampleEvery(m *meter, d time.Duration) {
	r.samplerMu.Lock()
	defer r.samplerMu.Unlock()
	var tick func()
	tick = func() {
		r.samplePeak(m)
		r.samplerMu.Lock()
		defer r.samplerMu.Unlock()
		if !r.samplerStopped {
			r.sampler.Reset(d)
		}
	}
	r.sampler = time.AfterFunc(d, tick)
}

func (r *run) stopSampling() {
	r.samplerMu.Lock()
	defer r.samplerMu.Unlock()
	r.samplerStopped = true
	if r.sampler != nil {
		r.sampler.Stop()
	}
}

// State returns the environment's lifecycle state.
func (e *Environment) State() State { return State(e.state.Load()) }

// IdleSince returns when the environment last became idle.
func (e *Environment) IdleSince() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.idleSince
}

// transitionLocked moves the environment to state to, or says why the
// lifecycle does not allow it.
func (e *Environment) transitionLocked(to State) error {
	if !e.st.canMoveTo(to) {
		return &TransitionError{From: e.st, To: to}
	}
	if to.Idle() && !e.st.Idle() {
		e.idleSince = time.Now()
	}
	e.st = to
	e.state.Store(int32(to))
	if to == StateGone {
		close(e.gone)
	}
	return nil
}

// move makes a transition of the invocation in flight. Once the
// environment is shutting down, the shutdown owns its state and move does
// nothing; any other refused move is a fault of ember's, and logged.
func (e *Environment) move(to State) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.st == StateShuttingDown || e.st == StateGone {
		return
	}
	if err := e.transitionLocked(to); err != nil {
		e.log.Error("environment state", "err", err)
	}
}

// Claim takes an idle environment for the next invocation, so that no one
// else can: it fails unless the environment is idle.
func (e *Environment) Claim() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.claimLocked()
}

func (e *Environment) claimLocked() error {
	switch e.st {
	case StateShuttingDown, StateGone:
		return ErrShutdown
	}
	if !e.st.Idle() {
		return ErrBusy
	}
	return e.transitionLocked(StateClaimed)
}

// Retire begins the shutdown of an environment that is idle and has not
// been claimed since: it reports whether it did. Close must follow.
func (e *Environment) Retire() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.st.Idle() {
		return false
	}
	return e.transitionLocked(StateShuttingDown) == nil
}

// Invoke runs req in the environment, claimed already or idle. It returns
// as soon as the runtime answers (or the invocation fails). done is the
// return path of the invocation's end: it is called once with the report,
// when the invocation has ended and the environment is idle again, from
// whichever goroutine ended it (the caller's, the one serving the
// runtime's next /next, or the one of a deadline or of the runtime's exit);
// it must not block. On an error (ErrBusy, ErrShutdown) nothing began and
// done is not called.
func (e *Environment) Invoke(req invocation.Request, done func(invocation.Report)) (invocation.Response, error) {
	e.mu.Lock()
	if e.st != StateClaimed {
		if err := e.claimLocked(); err != nil {
			e.mu.Unlock()
			return invocation.Response{}, err
		}
	}
	proc := e.proc
	e.inflight.Add(1)
	e.mu.Unlock()

	r := &run{req: req, done: done, limited: e.iso != nil && e.iso.Cgroups != nil}

	if proc == nil {
		e.move(StateInitializing)
		var resp invocation.Response
		var ok bool
		proc, resp, ok = e.init(r)
		if !ok {
			return resp, nil
		}
		// What init wrote comes before the invocation's START, as on
		// Lambda: the runtime wrote it before it asked for the event.
		proc.pump.sync()
		// The first sample opens the process's /proc files, a tenth of a
		// millisecond that the invocation need not wait for. (The peak
		// of init stays in the runtime's high-water mark until the end
		// of the invocation reads it; this sample is for a runtime that
		// does not live that long.)
		e.tasks.Go(func() { r.samplePeak(proc.mem) })
	} else {
		r.peak.Store(e.resting.Load())
	}
	e.move(StateBusy)
	if proc.samplesMemory() {
		r.sampleEvery(proc.mem, memorySampleInterval)
	}

	// The function's timeout bounds the invoke phase; a cold start's init
	// has its own limit.
	proc.thaw(func(err error) { e.log.Warn("thaw runtime", "err", err) })
	r.hub, r.proc = proc.hub, proc
	r.hub.Resume()
	r.started = time.Now()
	r.req.Deadline = r.started.Add(e.fn.Timeout)
	if r.req.WantLog {
		e.logs.capture()
	}
	e.logs.queue(startLine(r.req.ID, e.fn.Version))
	r.hub.Start(telemetry.Start{RequestID: r.req.ID, Version: e.fn.Version, Tracing: telemetry.XRay(r.req.TraceID, "")})
	ctx, cancel := context.WithDeadlineCause(proc.ctx, r.req.Deadline, errTimeout)
	resp, err := e.api.Invoke(ctx, &r.req)
	r.answered = time.Now()
	if err != nil {
		cancel()
		r.stopSampling()
		return e.fail(r, proc, err), nil
	}
	e.move(StateFinishing)
	// The invocation ends when the runtime asks for its next event, or
	// when the deadline passes or the runtime exits first: whichever
	// comes first stops the other and finishes.
	stop := context.AfterFunc(ctx, func() {
		e.finish(r, proc, resp, context.Cause(ctx))
	})
	next := func() {
		if stop() {
			cancel()
			e.finish(r, proc, resp, nil)
		}
	}
	if asked := e.api.AfterNext(next); asked {
		next()
	}
	return resp, nil
}

// init starts the runtime and waits for it to ask for its first event.
func (e *Environment) init(r *run) (*process, invocation.Response, bool) {
	argv := e.command()
	var proc *process
	var err error
	var hub *telemetry.Hub
	if e.iso != nil {
		ns := &sandboxDialer{}
		hub = e.newHub(ns.dial)
		e.initStart(hub)
		proc, err = e.startSandboxed(argv, e.sandboxVariables(), ns, e.output(hub, telemetry.TypeFunction), e.output(hub, telemetry.TypeExtension))
	} else {
		hub = e.newHub(nil)
		e.initStart(hub)
		proc, err = e.startPlainWithExtensions(argv, e.output(hub, telemetry.TypeFunction), e.output(hub, telemetry.TypeExtension))
	}
	if err != nil {
		initDone(hub, time.Now(), 0, telemetry.StatusFailure, "Runtime.InvalidEntrypoint")
		hub.Close(context.Background())
		e.log.Warn("runtime did not start", "err", err)
		// An image with neither ENTRYPOINT nor CMD has no command at all.
		msg := fmt.Sprintf("RequestId: %s Error: Couldn't find valid bootstrap(s): %v", r.req.ID, argv[:min(1, len(argv))])
		if !errors.Is(err, os.ErrNotExist) {
			msg = fmt.Sprintf("RequestId: %s Error: %v", r.req.ID, err)
		}
		resp := invocation.ErrorResponse("Runtime.InvalidEntrypoint", msg)
		e.initFailed(r, nil, 0, invocation.StatusError, resp)
		return nil, resp, false
	}
	proc.hub = hub
	e.mu.Lock()
	closing := e.st == StateShuttingDown
	if !closing {
		e.proc = proc
	}
	e.mu.Unlock()
	if closing {
		// Close came while the runtime started, and did not see it.
		resp := invocation.ErrorResponse("Runtime.Unknown", fmt.Sprintf("RequestId: %s Error: %v", r.req.ID, ErrShutdown))
		e.initFailed(r, proc, time.Since(proc.start), invocation.StatusError, resp)
		return nil, resp, false
	}

	ctx, cancel := context.WithTimeoutCause(proc.ctx, e.opts.InitTimeout, errInitTimeout)
	err = e.api.AwaitInit(ctx)
	cancel()
	r.initDuration = time.Since(proc.start)
	if err == nil {
		initDone(hub, proc.start, r.initDuration, telemetry.StatusSuccess, "")
		if proc.cg != nil {
			// While the event goes to the runtime: the write takes a
			// tenth of a millisecond on cgroup v1.
			e.tasks.Go(func() {
				if err := proc.cg.SetCPU(cpuShare(e.fn.MemoryMB)); err != nil {
					e.log.Warn("set the CPU quota after init", "err", err)
				}
			})
		}
		e.logs.writeLines(extensionLines(e.api.Extensions(), nil)...)
		return proc, invocation.Response{}, true
	}

	var resp invocation.Response
	status := invocation.StatusError
	var initErr *runtimeapi.InitError
	var exitErr *ExitError
	var extErr *runtimeapi.ExtensionError
	switch {
	case errors.As(err, &extErr):
		e.logs.writeLines(extensionLines(e.api.Extensions(), extErr)...)
		resp = invocation.ErrorResponse(extErr.Type, fmt.Sprintf("RequestId: %s Error: %v", r.req.ID, extErr))
	case errors.As(err, &initErr):
		resp = invocation.Response{Payload: initErr.Body, ContentType: invocation.ContentTypeJSON,
			FunctionError: invocation.FunctionErrorUnhandled, ErrorType: initErr.Type}
	case errors.As(err, &exitErr):
		resp = exitResponse(r.req.ID, proc, exitErr)
	case errors.Is(err, errInitTimeout):
		status = invocation.StatusTimeout
		resp = invocation.ErrorResponse("Sandbox.Timedout",
			fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", r.req.ID, e.opts.InitTimeout.Seconds()))
	default:
		resp = invocation.ErrorResponse("Runtime.Unknown", fmt.Sprintf("RequestId: %s Error: %v", r.req.ID, err))
	}
	initStatus := telemetry.StatusFailure
	if status == invocation.StatusTimeout {
		initStatus = telemetry.StatusTimeout
	}
	initDone(hub, proc.start, r.initDuration, initStatus, resp.ErrorType)
	e.initFailed(r, proc, r.initDuration, status, resp)
	return nil, resp, false
}

// command is the runtime's command on the host.
func (e *Environment) command() []string {
	if e.fn.Image != nil {
		return e.fn.Image.Command
	}
	if len(e.fn.Command) > 0 {
		return e.fn.Command
	}
	return []string{filepath.Join(e.fn.CodeDir, "bootstrap")}
}

// sandboxVariables is the runtime's environment inside a sandbox.
func (e *Environment) sandboxVariables() []string {
	return variables(e.fn, e.opts.BaseEnv, e.apiAddr, e.logStream, TaskRoot)
}

// initFailed logs a failed init and ends its invocation; the next
// invocation starts the runtime again.
func (e *Environment) initFailed(r *run, proc *process, d time.Duration, status invocation.Status, resp invocation.Response) {
	errorType := resp.ErrorType
	if proc != nil {
		r.samplePeak(proc.mem)
		e.reset(proc, runtimeapi.ShutdownFailure)
	}
	initType := errorType
	if status == invocation.StatusTimeout {
		initType = ""
	}
	e.logs.write([]byte(initReportLine(d, status, initType)))
	if r.req.WantLog {
		e.logs.capture()
	}
	e.logs.write([]byte(startLine(r.req.ID, e.fn.Version)))
	e.end(r, resp, StateCold, status, errorType)
}

// fail ends an invocation whose runtime gave no answer: it timed out, or
// the runtime exited.
func (e *Environment) fail(r *run, proc *process, err error) invocation.Response {
	r.samplePeak(proc.mem)
	var exitErr *ExitError
	var resp invocation.Response
	status := invocation.StatusError
	switch {
	case errors.Is(err, errTimeout):
		status = invocation.StatusTimeout
		resp = invocation.ErrorResponse("Sandbox.Timedout",
			fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", r.req.ID, e.fn.Timeout.Seconds()))
	case errors.As(err, &exitErr):
		resp = exitResponse(r.req.ID, proc, exitErr)
	default:
		resp = invocation.ErrorResponse("Runtime.Unknown", fmt.Sprintf("RequestId: %s Error: %v", r.req.ID, err))
	}
	if status == invocation.StatusTimeout {
		r.runtimeDone(resp, telemetry.StatusTimeout, "")
	} else {
		r.runtimeDone(resp, telemetry.StatusFailure, resp.ErrorType)
	}
	e.reset(proc, shutdownReason(status))
	e.end(r, resp, StateCold, status, resp.ErrorType)
	return resp
}

// shutdownReason is the SHUTDOWN event's reason after an invocation that
// ended with status.
func shutdownReason(status invocation.Status) runtimeapi.ShutdownReason {
	if status == invocation.StatusTimeout {
		return runtimeapi.ShutdownTimeout
	}
	return runtimeapi.ShutdownFailure
}

// exitResponse is the error for a runtime that exited: Runtime.OutOfMemory
// when the kernel killed it for passing its memory limit, else
// Runtime.ExitError.
func exitResponse(requestID string, proc *process, exitErr *ExitError) invocation.Response {
	typ := "Runtime.ExitError"
	if proc.outOfMemory() {
		typ = "Runtime.OutOfMemory"
	}
	return invocation.ErrorResponse(typ, fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %s", requestID, exitErr))
}

// finish ends an answered invocation: err is nil when the runtime asked
// for its next event, else the deadline's or the runtime's exit.
func (e *Environment) finish(r *run, proc *process, resp invocation.Response, err error) {
	r.stopSampling()
	if err == nil {
		peak, resident := proc.mem.peak()
		r.raisePeak(proc.capPeak(peak))
		// A new peak for the next invocation, which starts from the
		// memory in use now.
		proc.mem.reset()
		e.resting.Store(resident)
		proc.pump.sync()
		doneStatus, doneError := answerStatus(resp)
		r.runtimeDone(resp, doneStatus, doneError)
		// Nothing of the runtime runs between invocations: end freezes
		// it.
		idle := StateReady
		if proc.cg != nil {
			idle = StatePaused
		}
		status, errorType := invocation.StatusSuccess, ""
		if resp.ErrorType == "Function.ResponseSizeTooLarge" {
			status, errorType = invocation.StatusError, resp.ErrorType
		}
		if f := e.api.ExtensionFailure(); f != nil {
			// An extension failed during the invocation: the environment
			// resets, as Lambda's does.
			e.reset(proc, runtimeapi.ShutdownFailure)
			e.end(r, resp, StateCold, invocation.StatusError, f.Type)
			return
		}
		e.end(r, resp, idle, status, errorType)
		return
	}
	r.samplePeak(proc.mem)
	status, errorType := invocation.StatusError, "Runtime.ExitError"
	if proc.outOfMemory() {
		errorType = "Runtime.OutOfMemory"
	}
	if errors.Is(err, errTimeout) {
		status, errorType = invocation.StatusTimeout, ""
	}
	if resp.ErrorType == "Function.ResponseSizeTooLarge" {
		errorType = resp.ErrorType
	}
	if status == invocation.StatusTimeout {
		r.runtimeDone(resp, telemetry.StatusTimeout, "")
	} else {
		r.runtimeDone(resp, telemetry.StatusFailure, errorType)
	}
	e.reset(proc, shutdownReason(status))
	e.end(r, resp, StateCold, status, errorType)
}

// end writes END and REPORT, makes the environment idle in state idle, and
// hands the report over. The lines come first, so that the next
// invocation's START follows them.
func (e *Environment) end(r *run, answer invocation.Response, idle State, status invocation.Status, errorType string) {
	now := time.Now()
	d := time.Duration(0)
	if !r.started.IsZero() {
		d = now.Sub(r.started)
	}
	if status == invocation.StatusTimeout {
		d = e.fn.Timeout
		if r.started.IsZero() {
			d = e.opts.InitTimeout
		}
	}
	rep := invocation.Report{
		RequestID:      r.req.ID,
		Version:        e.fn.Version,
		Duration:       d,
		BilledDuration: billed(d, r.initDuration),
		MemorySizeMB:   e.fn.MemoryMB,
		MaxMemoryUsed:  r.peak.Load(),
		InitDuration:   r.initDuration,
		Status:         status,
		ErrorType:      errorType,
		LimitsEnforced: r.limited,

		FunctionError:     answer.FunctionError,
		FunctionErrorType: answer.ErrorType,
	}
	if status == invocation.StatusTimeout {
		rep.ErrorType = ""
	}
	// Under the memory limit the peak cannot pass the memory size, though
	// the kernel's count at an out-of-memory kill can, by what it held
	// outside the limit's reach (its stacks, the page tables): Lambda
	// reports the size then.
	if limit := int64(e.fn.MemoryMB) << 20; r.limited && rep.MaxMemoryUsed > limit {
		rep.MaxMemoryUsed = limit
	}
	e.logs.writeLines(endLine(r.req.ID), reportLine(rep))
	r.report(rep)
	if r.req.WantLog {
		rep.LogTail = e.logs.takeTail()
	}
	if idle == StatePaused && r.proc != nil {
		// The kernel freezes the runtime in the background, so that
		// the next invocation need not wait; the telemetry first.
		e.quiesce(r.hub)
		r.proc.pause(func(err error) { e.log.Warn("freeze runtime", "err", err) })
	}
	e.move(idle)
	if r.done != nil {
		r.done(rep)
	}
	e.inflight.Done()
}

// reset kills the runtime after a failure; the next invocation starts it
// again in the same environment. Extensions are told to shut down, for
// reason, and given Lambda's budget first.
func (e *Environment) reset(proc *process, reason runtimeapi.ShutdownReason) {
	var err error
	if proc.hasExtensions() {
		err = e.stopWithExtensions(proc, reason, extensionShutdownBudget)
	} else {
		err = proc.kill()
	}
	if err != nil {
		e.log.Warn("reset runtime", "err", err)
	}
	e.mu.Lock()
	if e.proc == proc {
		e.proc = nil
	}
	e.mu.Unlock()
	e.api.Reset()
}

// Close ends the environment: SIGTERM to the runtime, the grace period
// (cut short by ctx), SIGKILL to its whole process tree, then the Runtime
// API closes. An invocation in flight fails and is ended, its done called,
// before Close returns. It returns what went wrong in the teardown. A
// second Close waits for the first.
func (e *Environment) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		select {
		case <-e.gone:
		case <-ctx.Done():
		}
		return nil
	}
	e.closing = true
	if e.st != StateShuttingDown {
		// Retire may have begun the shutdown already.
		e.transitionLocked(StateShuttingDown)
	}
	proc := e.proc
	e.proc = nil
	pr := e.prepared
	e.prepared = nil
	e.mu.Unlock()

	var errs []error
	if pr != nil {
		errs = append(errs, pr.discard())
	}
	if proc != nil {
		grace := e.opts.ShutdownGrace
		if proc.hasExtensions() {
			grace = extensionShutdownBudget
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < grace {
			grace = max(time.Until(dl), 0)
		}
		if proc.hasExtensions() {
			errs = append(errs, e.stopWithExtensions(proc, runtimeapi.ShutdownSpindown, grace))
		} else {
			errs = append(errs, proc.stop(grace))
		}
	}
	e.api.Close()
	e.inflight.Wait()
	e.tasks.Wait()
	e.serving.Wait()
	if e.tmpImage != "" {
		e.iso.Images.Drop(e.tmpImage)
		if err := os.Remove(e.tmpImage); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove /tmp image: %w", err))
		}
	}
	e.mu.Lock()
	e.transitionLocked(StateGone)
	e.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close environment %s: %w", e.id, err)
	}
	return nil
}
