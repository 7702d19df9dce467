package environment

import (
	"sync"
	"time"

	"github.com/emberfn/ember/internal/sandbox/cgroup"
)

// freezer pauses and thaws a runtime's cgroup off every invocation's
// path, without a goroutine of its own: a pause is due pauseDelay after it
// is asked (a timer, which runs it on a goroutine of the runtime's timers),
// and an invocation that comes sooner stops the timer, so that neither the
// pause nor the thaw is made. A thaw of a cgroup that was paused runs on a
// goroutine of its own. Whatever runs applies the state asked for last,
// one at a time, so they may run in any order.
type freezer struct {
	cg *cgroup.Group
	// work bounds the freezes and thaws of every environment at once:
	// each write waits for the kernel, in a thread of its own.
	work limiter
	// pending tracks the goroutines that apply a state.
	pending sync.WaitGroup

	// applyMu makes one apply at a time; it comes before mu.
	applyMu sync.Mutex
	// frozen says that cg was last paused; init is the pid of the
	// sandbox's init stage while it is in cg, to be moved to inits at the
	// first pause, 0 once moved or to stay. Both are guarded by applyMu.
	frozen bool
	init   int
	inits  *cgroup.Group

	mu sync.Mutex
	// want is the state asked for last, and log the function that asked
	// it passed for errors.
	want bool
	log  func(err error)
	// due runs the pause once pauseDelay has passed.
	due *time.Timer
	// mayBeFrozen is set once an apply has decided on a pause, and
	// cleared by the thaw that follows: while it is set, a thaw must be
	// made even when due was stopped before it ran.
	mayBeFrozen bool
	// stopped is set by stop: nothing is applied after it.
	stopped bool
}

// pauseDelay is how long a runtime that has asked for its next event may
// run on before it is frozen: a next invocation that comes sooner finds it
// running, and neither the freeze nor the thaw is made. Under a steady
// stream of invocations that saves both writes, and the work the kernel
// does in each of the runtime's threads to freeze and thaw them; after
// any longer gap nothing of the runtime runs.
const pauseDelay = time.Millisecond

// newFreezer returns the freezer of cg. init is the pid to move to inits
// at the first pause, or 0.
func newFreezer(cg *cgroup.Group, init int, inits *cgroup.Group, work limiter) *freezer {
	f := &freezer{cg: cg, init: init, inits: inits, work: work}
	f.due = time.AfterFunc(time.Hour, f.applyWanted)
	f.due.Stop()
	return f
}

// set asks for cg paused (frozen) or thawed; log receives what fails.
func (f *freezer) set(frozen bool, log func(err error)) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.want, f.log = frozen, log
	if frozen {
		f.due.Reset(pauseDelay)
		return
	}
	if f.due.Stop() && !f.mayBeFrozen {
		// The pause was not made, and now never is.
		return
	}
	// The pause may have been made: thaw, off the caller's path.
	f.pending.Add(1)
	go func() {
		defer f.pending.Done()
		f.applyWanted()
	}()
}

// applyWanted brings cg to the state asked for last.
func (f *freezer) applyWanted() {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	f.mu.Lock()
	want, log, stopped := f.want, f.log, f.stopped
	if want && !f.frozen && !stopped {
		f.mayBeFrozen = true
	}
	f.mu.Unlock()
	if want != f.frozen && !stopped {
		f.work.do(func() { f.apply(want, log) })
	}
	if !f.frozen {
		f.mu.Lock()
		f.mayBeFrozen = false
		f.mu.Unlock()
	}
}

// stop ends the freezer, after a thaw of cg if thaw is set: nothing is
// applied after it returns. Calls after the first only wait.
func (f *freezer) stop(thaw bool) {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.stopped = true
	f.due.Stop()
	f.mu.Unlock()
	f.pending.Wait()
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	if thaw && f.frozen {
		f.work.do(func() { f.apply(false, nil) })
	}
}

// apply pauses or thaws cg. A failed pause counts as made: a Freeze
// that fails leaves cg thawed, but frozen when it could not put its CPU
// quota back, and the next thaw must lift that.
func (f *freezer) apply(frozen bool, log func(err error)) {
	f.frozen = frozen
	if !frozen {
		if err := f.cg.Thaw(); err != nil && log != nil {
			log(err)
		}
		return
	}
	// Moved at the first pause, once the runtime has been through an
	// invocation (see Isolation.Inits).
	if f.init != 0 {
		if err := f.inits.Add(f.init); err != nil && log != nil {
			log(err)
		}
		f.init = 0
	}
	if err := f.cg.Pause(); err != nil && log != nil {
		log(err)
	}
}

// limiter bounds how many of one kind of work run at once, across the
// environments that share it; nil bounds none.
type limiter chan struct{}

// newLimiter lets n run at once.
func newLimiter(n int) limiter { return make(limiter, n) }

// do runs fn once fewer than the limit run.
func (l limiter) do(fn func()) {
	if l != nil {
		l <- struct{}{}
		defer func() { <-l }()
	}
	fn()
}
