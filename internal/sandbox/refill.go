package sandbox

import "time"

// refiller runs a pool's fill in the background: each time it is poked,
// after a delay that leaves the CPU to whatever took from the pool, until
// it is stopped. fill gets the stop channel, to return early on.
type refiller struct {
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// startRefiller starts a refiller that runs fill delay after each poke.
func startRefiller(delay time.Duration, fill func(stop <-chan struct{})) *refiller {
	r := &refiller{
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go func() {
		defer close(r.done)
		for {
			select {
			case <-r.stop:
				return
			case <-r.wake:
			}
			select {
			case <-r.stop:
				return
			case <-time.After(delay):
			}
			fill(r.stop)
		}
	}()
	return r
}

// poke asks for a fill; pokes before it starts count once.
func (r *refiller) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// close stops the refiller and waits for a fill under way to return.
func (r *refiller) close() {
	close(r.stop)
	<-r.done
}
