// Package envpool owns the execution environments of one function version:
// it hands each invocation an idle environment (most recently used first)
// or starts a new one, never gives one environment two invocations, and
// shuts down environments that stay idle too long. Whether an invocation
// may run at all is decided above it, by invoke's limiter.
package envpool

import (
	"context"
	"fmt"
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

// Pool holds the environments of one function version.
type Pool struct {
	opts    Options
	newEnv  func() (*environment.Environment, error)
	stop    chan struct{}
	stopped chan struct{}

	mu sync.Mutex
	// idle is a stack: the most recently used environment is last.
	idle []idleEnv
	// total counts environments, idle, busy and starting.
	total int
	// waiters are invocations waiting for an environment that is
	// finishing, oldest first.
	waiters []chan *environment.Environment
	// finishing counts environments that have answered and are waiting
	// for their runtime to ask for the next event.
	finishing int
	closed    bool
	// inflight counts invocations that hold an environment.
	inflight sync.WaitGroup
	// spares are environments prepared ahead, not yet used.
	spares []*environment.Environment
	// filling is set while the goroutine that prepares spares runs.
	filling bool
	fills   sync.WaitGroup
}

type idleEnv struct {
	env   *environment.Environment
	since time.Time
}

// New returns a pool and starts its reaper.
func New(opts Options) *Pool {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 10 * time.Minute
	}
	p := &Pool{
		opts:    opts,
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	p.newEnv = func() (*environment.Environment, error) { return environment.New(opts.Environment) }
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
	if p.closed || p.filling || len(p.spares) >= p.opts.Spares {
		return
	}
	p.filling = true
	p.fills.Add(1)
	go func() {
		defer p.fills.Done()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-p.stop:
			}
		}
		for {
			env, err := p.newEnv()
			if err == nil {
				if err = env.Prepare(); err != nil {
					env.Shutdown()
				}
			}
			p.mu.Lock()
			if err != nil || p.closed {
				p.filling = false
				p.mu.Unlock()
				if err == nil {
					env.Shutdown()
				}
				return
			}
			p.spares = append(p.spares, env)
			if len(p.spares) >= p.opts.Spares {
				p.filling = false
				p.mu.Unlock()
				return
			}
			p.mu.Unlock()
		}
	}()
}

// ErrClosed is returned by a pool that was closed.
var ErrClosed = fmt.Errorf("pool closed: %w", invocation.ErrUnavailable)

// Invoke runs req in an environment of the pool. It returns the response
// as soon as the runtime gives it; the channel receives the report when
// the invocation has ended.
func (p *Pool) Invoke(ctx context.Context, req invocation.Request) (invocation.Response, <-chan invocation.Report, error) {
	env, err := p.acquire(ctx)
	if err != nil {
		return invocation.Response{}, nil, err
	}
	resp, done, err := env.Invoke(req)
	if err != nil {
		p.release(env, true)
		return invocation.Response{}, nil, fmt.Errorf("invoke %s: %w", req.ID, err)
	}
	reports := make(chan invocation.Report, 1)
	p.mu.Lock()
	p.finishing++
	p.mu.Unlock()
	go func() {
		rep := <-done
		p.release(env, false)
		reports <- rep
		close(reports)
	}()
	return resp, reports, nil
}

// handoffWait is how long an invocation that finds no idle environment
// waits for one that has answered and is about to ask for its next event,
// before it starts a new one: a client that invokes again as soon as it has
// its answer would otherwise often get a cold start.
const handoffWait = 2 * time.Millisecond

// acquire takes an idle environment, one that is finishing, or starts a new
// one.
func (p *Pool) acquire(ctx context.Context) (*environment.Environment, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if env := p.popIdleLocked(); env != nil {
		p.mu.Unlock()
		return env, nil
	}
	if p.finishing > 0 {
		wait := p.enqueueLocked()
		p.mu.Unlock()
		env, ok, err := p.await(ctx, wait, handoffWait)
		if ok || err != nil {
			return env, err
		}
		p.mu.Lock()
		if env := p.popIdleLocked(); env != nil {
			p.mu.Unlock()
			return env, nil
		}
	}
	p.total++
	p.inflight.Add(1)
	var spare *environment.Environment
	if n := len(p.spares); n > 0 {
		spare = p.spares[n-1]
		p.spares = p.spares[:n-1]
	}
	p.mu.Unlock()
	p.refill(spareDelay)
	if spare != nil {
		return spare, nil
	}
	env, err := p.newEnv()
	if err != nil {
		p.mu.Lock()
		p.total--
		p.mu.Unlock()
		p.inflight.Done()
		return nil, fmt.Errorf("create environment: %w", err)
	}
	return env, nil
}

// popIdleLocked takes the most recently used idle environment, if any.
func (p *Pool) popIdleLocked() *environment.Environment {
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	env := p.idle[n-1].env
	p.idle = p.idle[:n-1]
	p.inflight.Add(1)
	return env
}

// enqueueLocked adds a place in the queue for the next released environment.
func (p *Pool) enqueueLocked() chan *environment.Environment {
	wait := make(chan *environment.Environment, 1)
	p.waiters = append(p.waiters, wait)
	return wait
}

// await waits up to d for an environment on wait. ok is false when none
// came in time; the place in the queue is then given up.
func (p *Pool) await(ctx context.Context, wait chan *environment.Environment, d time.Duration) (env *environment.Environment, ok bool, err error) {
	timer := time.NewTimer(d)
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
	queued := false
	for i, w := range p.waiters {
		if w == wait {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			queued = true
			break
		}
	}
	p.mu.Unlock()
	if !queued {
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

// release gives env back: to the oldest invocation waiting for it, or to
// the idle stack. A broken environment is shut down instead.
func (p *Pool) release(env *environment.Environment, broken bool) {
	defer p.inflight.Done()
	p.mu.Lock()
	if !broken {
		p.finishing--
	}
	if broken || p.closed {
		p.total--
		p.mu.Unlock()
		env.Shutdown()
		return
	}
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.inflight.Add(1)
		p.mu.Unlock()
		w <- env
		return
	}
	p.idle = append(p.idle, idleEnv{env: env, since: time.Now()})
	p.mu.Unlock()
}

// Stats is a snapshot of a pool.
type Stats struct {
	Total, Idle, Busy int
	// Spare counts environments prepared ahead, outside Total.
	Spare int
}

// Stats returns how many environments exist and how many are idle.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Total: p.total, Idle: len(p.idle), Busy: p.total - len(p.idle), Spare: len(p.spares)}
}

// reap shuts down environments idle for longer than IdleTimeout, least
// recently used first.
func (p *Pool) reap() {
	defer close(p.stopped)
	every := p.opts.IdleTimeout / 4
	if every < 10*time.Millisecond {
		every = 10 * time.Millisecond
	}
	if every > 10*time.Second {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.reapOnce(now)
		}
	}
}

func (p *Pool) reapOnce(now time.Time) {
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].since) >= p.opts.IdleTimeout {
		n++
	}
	old := make([]*environment.Environment, n)
	for i := range n {
		old[i] = p.idle[i].env
	}
	p.idle = append(p.idle[:0], p.idle[n:]...)
	p.total -= n
	p.mu.Unlock()
	for _, env := range old {
		env.Shutdown()
	}
}

// Close shuts down every environment after the invocations in flight end.
func (p *Pool) Close() error {
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
	<-p.stopped
	p.fills.Wait()
	p.inflight.Wait()
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.total -= len(idle)
	spares := p.spares
	p.spares = nil
	p.mu.Unlock()
	for _, env := range spares {
		env.Shutdown()
	}
	for _, ie := range idle {
		ie.env.Shutdown()
	}
	return nil
}
