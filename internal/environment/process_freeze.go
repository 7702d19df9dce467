package environment

import (
	"sync"
	"time"

	"github.com/emberfn/ember/internal/sandbox/cgroup"
)

// freezer pauses and thaws a runtime's cgroup on a goroutine of its own,
// which lives as long as the runtime: no invocation waits for a pause or
// a thaw, and none starts a goroutine for one. It does one at a time, in
// the order asked; a thaw asked before the pause it follows was made
// cancels both.
type freezer struct {
	cg *cgroup.Group
	// init is the pid of the sandbox's init stage while it is in cg, to
	// be moved to inits at the first pause; 0 once moved, or to stay.
	init  int
	inits *cgroup.Group
	// work bounds the freezes and thaws of every environment at once:
	// each write waits for the kernel, in a thread of its own.
	work limiter
	// frozen says that cg was last paused; only run reads and writes it.
	frozen bool
	wake   chan struct{}
	done   chan struct{}

	mu sync.Mutex
	// want is the state asked for last, and log the function that
	// asked it passed for errors.
	want bool
	log  func(err error)
	// stopping is set by stop; thawLast then says whether run thaws cg
	// before it returns.
	stopping, thawLast bool
}

// newFreezer starts the freezer of cg. init is the pid to move to inits
// at the first pause, or 0.
func newFreezer(cg *cgroup.Group, init int, inits *cgroup.Group, work limiter) *freezer {
	f := &freezer{cg: cg, init: init, inits: inits, work: work, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go f.run()
	return f
}

// set asks for cg paused (frozen) or thawed; log receives what fails.
func (f *freezer) set(frozen bool, log func(err error)) {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.want, f.log = frozen, log
	f.mu.Unlock()
	f.poke()
}

func (f *freezer) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// stop ends the freezer once what it was asked is done, after a thaw
// of cg if thaw is set, and waits for it. Calls after the first only
// wait.
func (f *freezer) stop(thaw bool) {
	if f == nil {
		return
	}
	f.mu.Lock()
	if !f.stopping {
		f.stopping, f.thawLast = true, thaw
	}
	f.mu.Unlock()
	f.poke()
	<-f.done
}

// pauseDelay is how long a runtime that has asked for its next event may
// run on before it is frozen: a next invocation that comes sooner finds it
// running, and neither the freeze nor the thaw is made. Under a steady
// stream of invocations that saves both writes, and the work the kernel
// does in each of the runtime's threads to freeze and thaw them; after
// any longer gap nothing of the runtime runs.
const pauseDelay = time.Millisecond

// run applies what is asked until stop.
func (f *freezer) run() {
	defer close(f.done)
	delay := time.NewTimer(pauseDelay)
	delay.Stop()
	for range f.wake {
		for {
			f.mu.Lock()
			want, log, stopping, thawLast := f.want, f.log, f.stopping, f.thawLast
			f.mu.Unlock()
			if stopping && thawLast {
				want = false
			}
			if want && !f.frozen && !stopping {
				delay.Reset(pauseDelay)
				select {
				case <-f.wake:
					// Asked again before the pause was due: look again.
					delay.Stop()
					continue
				case <-delay.C:
				}
			}
			if want != f.frozen {
				f.work.do(func() { f.apply(want, log) })
			}
			if stopping {
				return
			}
			break
		}
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
