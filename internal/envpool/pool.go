// Package envpool owns the execution environments of one function version:
// it hands each invocation an idle environment (most recently used first)
// or starts a new one, never gives one environment two invocations, keeps
// sandboxes built ahead for cold starts, and shuts down environments that
// stay idle too long. Whether an invocation may run at all is decided
// above it (invoke's limiter); what state an environment is in, by the
// environment itself: the pool reads it rather than keeping sets of its own.
package envpool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/emberfn/ember/internal/environment"
	"github.com/emberfn/ember/internal/invocation"
)

// Options configure a pool.
type Options struct {
	// Environment is the template for every environment of the pool.
	Environment environment.Options
	// IdleTimeout is how long an environment may stay idle before it is
	// shut down.
	IdleTimeout time.Duration
	// Spares is how many environments to keep prepared ahead (their
	// sandboxes built, no runtime started) for cold starts.
	Spares int
}

// DefaultIdleTimeout is how long an idle environment lives unless told.
const DefaultIdleTimeout = 10 * time.Minute

// Pool holds the environments of one function version.
type Pool struct {
	opts   Options
	log    *slog.Logger
	newEnv func() (*environment.Environment, error)
	// stop ends the reaper and the making of spares.
	stop chan struct{}
	// tasks are the goroutines the pool owns: the reaper, the making of
	// spares, and the closing of reaped environments.
	tasks sync.WaitGroup
	// inflight counts invocations that hold an environment of the pool.
	inflight sync.WaitGroup

	mu sync.Mutex
	// envs holds the pool's environments, least recently used first.
	envs []*environment.Environment
	// waiters are invocations waiting a moment for an environment that
	// is finishing, oldest first.
	waiters []chan *environment.Environment
	// filling is set while the goroutine that prepares spares runs.
	filling bool
	closed  bool
}

// New returns a pool and starts its reaper.
func New(opts Options) *Pool {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	log := opts.Environment.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pool{opts: opts, log: log, stop: make(chan struct{})}
	p.newEnv = func() (*environment.Environment, error) { return environment.New(opts.Environment) }
	p.tasks.Add(1)
	go p.reap()
	p.refill(0)
	return p
}

// spareDelay is how long the pool waits, after a spare was taken, before it
// prepares the next: the cold start that took it needs the CPU first.
const spareDelay = 50 * time.Millisecond

// refill starts preparing spares after delay, unless enough are there or
// being made.
func (p *Pool) refill(delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.filling || p.countLocked(environment.StatePrepared) >= p.opts.Spares {
		return
	}
	p.filling = true
	p.tasks.Add(1)
	go func() {
		defer p.tasks.Done()
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-p.stop:
				t.Stop()
			}
		}
		for p.fillOne() {
		}
	}()
}

// fillOne prepares one spare; it reports whether another is wanted.
func (p *Pool) fillOne() bool {
	env, err := p.newEnv()
	if err == nil {
		if err = env.Prepare(); err != nil {
			err = errors.Join(err, env.Close(context.Background()))
		}
	}
	p.mu.Lock()
	if err != nil || p.closed {
		p.filling = false
		p.mu.Unlock()
		if err != nil {
			p.log.Warn("prepare an environment ahead", "err", err)
		} else if err := env.Close(context.Background()); err != nil {
			p.log.Warn("close an environment prepared ahead", "err", err)
		}
		return false
	}
	p.envs = append(p.envs, env)
	more := p.countLocked(environment.StatePrepared) < p.opts.Spares
	if !more {
		p.filling = false
	}
	p.mu.Unlock()
	return more
}

// ErrClosed is returned by a pool that was closed.
var ErrClosed = fmt.Errorf("pool closed: %w", invocation.ErrUnavailable)

// Invoke runs req in an environment of the pool. It returns the response
// as soon as the runtime gives it. done is the return path of the
// invocation's end: it is called once with the report, when the invocation
// has ended and its environment is back in the pool, from the goroutine
// that ended it; it must not block. On an error done is not called.
func (p *Pool) Invoke(ctx context.Context, req invocation.Request, done func(invocation.Report)) (invocation.Response, error) {
	env, err := p.acquire(ctx)
	if err != nil {
		return invocation.Response{}, err
	}
	resp, err := env.Invoke(req, func(r invocation.Report) {
		p.release(env)
		if done != nil {
			done(r)
		}
	})
	if err != nil {
		p.drop(env)
		return invocation.Response{}, fmt.Errorf("invoke %s: %w", req.ID, err)
	}
	return resp, nil
}

// handoffWait is how long an invocation that finds no idle environment
// waits for one that has answered and is about to ask for its next event,
// before it starts a new one: a client that invokes again as soon as it has
// its answer would otherwise often get a cold start.
const handoffWait = 2 * time.Millisecond

// acquire claims an environment for one invocation: a warm one, one that
// is finishing, one prepared ahead, a cold one, or a new one.
func (p *Pool) acquire(ctx context.Context) (*environment.Environment, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if env := p.claimLocked(environment.StateReady, environment.StatePaused); env != nil {
		p.mu.Unlock()
		return env, nil
	}
	if p.countLocked(environment.StateFinishing) > 0 {
		wait := make(chan *environment.Environment, 1)
		p.waiters = append(p.waiters, wait)
		p.mu.Unlock()
		env, ok, err := p.await(ctx, wait)
		if ok || err != nil {
			return env, err
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if env := p.claimLocked(environment.StateReady, environment.StatePaused); env != nil {
			p.mu.Unlock()
			return env, nil
		}
	}
	env := p.claimLocked(environment.StatePrepared)
	if env == nil {
		env = p.claimLocked(environment.StateCold)
	}
	p.mu.Unlock()
	p.refill(spareDelay)
	if env != nil {
		return env, nil
	}
	env, err := p.newEnv()
	if err != nil {
		return nil, fmt.Errorf("create environment: %w", err)
	}
	if err := env.Claim(); err != nil {
		return nil, errors.Join(fmt.Errorf("claim a new environment: %w", err), env.Close(context.Background()))
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.Join(ErrClosed, env.Close(context.Background()))
	}
	p.envs = append(p.envs, env)
	p.inflight.Add(1)
	p.mu.Unlock()
	return env, nil
}

// claimLocked claims the most recently used environment in one of states.
func (p *Pool) claimLocked(states ...environment.State) *environment.Environment {
	for i := len(p.envs) - 1; i >= 0; i-- {
		env := p.envs[i]
		if slices.Contains(states, env.State()) && env.Claim() == nil {
			p.inflight.Add(1)
			return env
		}
	}
	return nil
}

// countLocked counts the environments in state s.
func (p *Pool) countLocked(s environment.State) int {
	n := 0
	for _, env := range p.envs {
		if env.State() == s {
			n++
		}
	}
	return n
}

// await waits up to handoffWait for an environment on wait. ok is false
// when none came in time; the place in the queue is then given up.
func (p *Pool) await(ctx context.Context, wait chan *environment.Environment) (env *environment.Environment, ok bool, err error) {
	timer := time.NewTimer(handoffWait)
	defer timer.Stop()
	select {
	case env, open := <-wait:
		if !open {
			return nil, false, ErrClosed
		}
		return env, true, nil
	case <-timer.C:
	case <-ctx.Done():
	}
	p.mu.Lock()
	i := slices.Index(p.waiters, wait)
	if i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
	}
	p.mu.Unlock()
	if i < 0 {
		// A release (or Close) took this place off the queue and is
		// committed to sending on it.
		env, open := <-wait
		if !open {
			return nil, false, ErrClosed
		}
		return env, true, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	return nil, false, nil
}

// release takes back an environment whose invocation has ended: it becomes
// the most recently used, and goes to the oldest waiting invocation.
func (p *Pool) release(env *environment.Environment) {
	defer p.inflight.Done()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if i := slices.Index(p.envs, env); i >= 0 {
		p.envs = append(slices.Delete(p.envs, i, i+1), env)
	}
	if len(p.waiters) == 0 || env.Claim() != nil {
		p.mu.Unlock()
		return
	}
	w := p.waiters[0]
	p.waiters = p.waiters[1:]
	p.inflight.Add(1)
	p.mu.Unlock()
	w <- env
}

// drop forgets an environment that refused an invocation it was claimed
// for: it was shut down.
func (p *Pool) drop(env *environment.Environment) {
	defer p.inflight.Done()
	p.mu.Lock()
	if i := slices.Index(p.envs, env); i >= 0 {
		p.envs = slices.Delete(p.envs, i, i+1)
	}
	p.mu.Unlock()
}

// Stats is a snapshot of a pool.
type Stats struct {
	// Total counts environments that have run or run now; Idle those of
	// them that wait, Busy those that hold an invocation.
	Total, Idle, Busy int
	// Spare counts environments prepared ahead, outside Total.
	Spare int
}

// Stats returns how many environments exist, and in which states.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	var st Stats
	for _, env := range p.envs {
		switch s := env.State(); {
		case s == environment.StatePrepared:
			st.Spare++
			continue
		case s.InFlight():
			st.Busy++
		case s.Idle():
			st.Idle++
		}
		st.Total++
	}
	return st
}

// reap shuts down environments idle for longer than IdleTimeout, least
// recently used first.
func (p *Pool) reap() {
	defer p.tasks.Done()
	every := min(max(p.opts.IdleTimeout/4, 10*time.Millisecond), 10*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			for _, env := range p.retire(now) {
				if err := env.Close(context.Background()); err != nil {
					p.log.Warn("shut down an idle environment", "err", err)
				}
			}
		}
	}
}

// retire takes out of the pool the environments idle since before
// IdleTimeout; they are shutting down and must be closed.
func (p *Pool) retire(now time.Time) []*environment.Environment {
	p.mu.Lock()
	defer p.mu.Unlock()
	var old []*environment.Environment
	p.envs = slices.DeleteFunc(p.envs, func(env *environment.Environment) bool {
		s := env.State()
		if !s.Idle() || s == environment.StatePrepared || now.Sub(env.IdleSince()) < p.opts.IdleTimeout {
			return false
		}
		if !env.Retire() {
			return false
		}
		old = append(old, env)
		return true
	})
	return old
}

// Close stops the pool: no new invocation gets in, those in flight have
// until ctx is done to end, then every environment is shut down. It
// returns once every goroutine of the pool has ended, with what went wrong
// in the teardown.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for _, w := range p.waiters {
		close(w)
	}
	p.waiters = nil
	p.mu.Unlock()
	close(p.stop)

	ended := make(chan struct{})
	go func() {
		p.inflight.Wait()
		close(ended)
	}()
	select {
	case <-ended:
	case <-ctx.Done():
	}
	p.tasks.Wait()
	p.mu.Lock()
	envs := p.envs
	p.envs = nil
	p.mu.Unlock()
	errs := make([]error, len(envs))
	var wg sync.WaitGroup
	for i, env := range envs {
		wg.Go(func() { errs[i] = env.Close(ctx) })
	}
	wg.Wait()
	// The invocations still in flight ended with their environments.
	<-ended
	return errors.Join(errs...)
}
