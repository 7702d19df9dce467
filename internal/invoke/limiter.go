package invoke

import (
	"context"
	"sync"
	"time"

	"github.com/emberfn/ember/internal/envpool"
	"github.com/emberfn/ember/internal/invocation"
)

// DefaultAccountConcurrency is Lambda's default limit of concurrent
// executions in an account.
const DefaultAccountConcurrency = 1000

// LimiterOptions configure a Limiter.
type LimiterOptions struct {
	// Account is the most invocations that may run at once, every function
	// together; 0 means DefaultAccountConcurrency.
	Account int
	// QueueTimeout, when positive, makes an invocation that finds its limit
	// reached wait up to that long for a slot before it is throttled.
	QueueTimeout time.Duration
}

// Limiter decides whether an invocation may run: a function with reserved
// concurrency runs up to its reservation, and the functions without one
// share the account's limit less every reservation. Past its limit an
// invocation waits up to QueueTimeout, then gets Lambda's throttle.
type Limiter struct {
	account      int
	queueTimeout time.Duration

	mu sync.Mutex
	// reserved is each function's reserved concurrency, and reservedSum
	// their sum.
	reserved    map[string]int
	reservedSum int
	// running counts invocations per function; unreserved counts those of
	// functions without a reservation.
	running    map[string]int
	unreserved int
	// freed, when not nil, is closed at the next release: queued
	// invocations wait on it.
	freed chan struct{}
}

// NewLimiter returns a limiter with no reservations.
func NewLimiter(opts LimiterOptions) *Limiter {
	if opts.Account <= 0 {
		opts.Account = DefaultAccountConcurrency
	}
	return &Limiter{
		account:      opts.Account,
		queueTimeout: opts.QueueTimeout,
		reserved:     make(map[string]int),
		running:      make(map[string]int),
	}
}

// Acquire takes a slot for an invocation of function name, waiting up to
// QueueTimeout for one; past that it returns an *invocation.ThrottleError.
// Release gives the slot back.
func (l *Limiter) Acquire(ctx context.Context, name string) error {
	var deadline <-chan time.Time
	for {
		l.mu.Lock()
		err := l.tryLocked(name)
		if err == nil || l.queueTimeout <= 0 {
			l.mu.Unlock()
			return err
		}
		if l.freed == nil {
			l.freed = make(chan struct{})
		}
		freed := l.freed
		l.mu.Unlock()
		if deadline == nil {
			t := time.NewTimer(l.queueTimeout)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-freed:
		case <-deadline:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// tryLocked takes a slot, or returns the throttle that refuses it.
func (l *Limiter) tryLocked(name string) error {
	if r, ok := l.reserved[name]; ok {
		if l.running[name] >= r {
			return &invocation.ThrottleError{Reason: invocation.ReasonReservedConcurrentLimit, Limit: r}
		}
	} else {
		if l.unreserved >= l.account-l.reservedSum {
			return &invocation.ThrottleError{Reason: invocation.ReasonConcurrentLimit, Limit: l.account}
		}
		l.unreserved++
	}
	l.running[name]++
	return nil
}

// Release gives back a slot that Acquire took for function name.
func (l *Limiter) Release(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running[name]--
	if l.running[name] <= 0 {
		delete(l.running, name)
	}
	if _, ok := l.reserved[name]; !ok {
		l.unreserved--
	}
	if l.freed != nil {
		close(l.freed)
		l.freed = nil
	}
}

// SetReserved records a function's reserved concurrency (nil: none); its
// running invocations move out of, or into, the unreserved count.
func (l *Limiter) SetReserved(name string, reserved *int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setReservedLocked(name, reserved)
}

// ReplaceReserved makes reserved every function's reserved concurrency,
// dropping the reservations of functions not in it.
func (l *Limiter) ReplaceReserved(reserved map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name := range l.reserved {
		if _, ok := reserved[name]; !ok {
			l.setReservedLocked(name, nil)
		}
	}
	for name, r := range reserved {
		l.setReservedLocked(name, &r)
	}
}

func (l *Limiter) setReservedLocked(name string, reserved *int) {
	old, had := l.reserved[name]
	n := l.running[name]
	if reserved == nil {
		if had {
			delete(l.reserved, name)
			l.reservedSum -= old
			l.unreserved += n
		}
		return
	}
	l.reserved[name] = *reserved
	l.reservedSum += *reserved - old
	if !had {
		l.unreserved -= n
	}
	// A larger reservation or a smaller one elsewhere may let queued
	// invocations run.
	if l.freed != nil {
		close(l.freed)
		l.freed = nil
	}
}

// Concurrency reports the invocations running now and the account's limit
// left to functions without reserved concurrency.
func (l *Limiter) Concurrency() (running, unreservedLimit int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.running {
		running += n
	}
	return running, l.account - l.reservedSum
}

// Pool runs invocations in environments; *envpool.Pool is one. done is
// the return path of an invocation's end (see envpool.Pool.Invoke).
type Pool interface {
	Invoke(ctx context.Context, req invocation.Request, done func(invocation.Report)) (invocation.Response, error)
}

var _ Pool = (*envpool.Pool)(nil)

// Limited runs the invocations of one function on its pool, each within a
// slot of a limiter, held until its end: `ember rie` invokes through it.
type Limited struct {
	limiter *Limiter
	name    string
	pool    Pool
	// held counts the slots taken and not yet given back.
	held sync.WaitGroup
}

// NewLimited returns the invoker of function name's invocations on pool
// within l's slots.
func NewLimited(l *Limiter, name string, pool Pool) *Limited {
	return &Limited{limiter: l, name: name, pool: pool}
}

// Invoke takes a slot, waiting for one as the limiter allows, and runs req
// on the pool. The slot is given back when the invocation ends, before the
// report reaches the channel.
func (x *Limited) Invoke(ctx context.Context, req invocation.Request) (invocation.Response, <-chan invocation.Report, error) {
	if err := x.limiter.Acquire(ctx, x.name); err != nil {
		return invocation.Response{}, nil, err
	}
	x.held.Add(1)
	out := make(chan invocation.Report, 1)
	resp, err := x.pool.Invoke(ctx, req, func(r invocation.Report) {
		x.limiter.Release(x.name)
		x.held.Done()
		out <- r
		close(out)
	})
	if err != nil {
		x.limiter.Release(x.name)
		x.held.Done()
		return resp, nil, err
	}
	return resp, out, nil
}

// Wait waits until the slot of every invocation that started is given back.
func (x *Limited) Wait() { x.held.Wait() }
