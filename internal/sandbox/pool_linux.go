package sandbox

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// poolRefillDelay is how long a Pool waits after a Start before it starts
// the next blank sandbox: the sandbox just taken needs the CPU first.
const poolRefillDelay = 25 * time.Millisecond

// Pool keeps sandboxes started ahead of need, blank: their process in its
// new namespaces, the init stage up and waiting for a spec, and an outbound
// sandbox's link made. None of that depends on what the sandbox will hold,
// and it is most of the time a sandbox takes to start. Start builds the
// sandbox of a Spec from a blank one when there is one, and the pool then
// starts another in the background.
//
// A Pool keeps blank sandboxes for the network modes it was asked for: the
// outbound mode from the start when it has a Network, the others from
// their first Start on. Close it to end them.
type Pool struct {
	outbound *Network
	spares   int
	refill   *refiller

	mu sync.Mutex
	// ready holds the blank sandboxes by network mode.
	ready map[NetworkMode][]*Sandbox
	// modes are the network modes asked for.
	modes  map[NetworkMode]bool
	closed bool
}

// NewPool keeps spares blank sandboxes of each network mode asked for.
// outbound is the Network of outbound sandboxes, or nil; with spares 0 the
// pool keeps none and Start starts each sandbox when asked.
func NewPool(spares int, outbound *Network) *Pool {
	p := &Pool{
		outbound: outbound,
		spares:   spares,
		ready:    map[NetworkMode][]*Sandbox{},
		modes:    map[NetworkMode]bool{},
	}
	p.refill = startRefiller(poolRefillDelay, p.fill)
	if spares > 0 && outbound != nil {
		p.modes[NetworkOutbound] = true
		p.refill.poke()
	}
	return p
}

// Start is the package's Start, from a blank sandbox when the pool has one
// for spec. A nil Pool starts every sandbox when asked.
func (p *Pool) Start(spec Spec) (*Sandbox, error) {
	if p == nil {
		return Start(spec)
	}
	if err := validate(spec); err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	// A blank sandbox has a user namespace where the machine allows one,
	// which a spec of an image's root cannot have (see Start): such a
	// sandbox starts from nothing, which costs the few milliseconds of
	// its process's start.
	if spec.Network == NetworkOutbound && spec.Outbound != p.outbound || len(spec.Image) > 0 || spec.noMountAPI {
		return Start(spec)
	}
	s := p.take(spec.Network)
	if s == nil {
		return Start(spec)
	}
	if err := s.build(spec); err != nil {
		s.Destroy()
		// A blank that died while it waited, before the pool could see
		// it: start another.
		if errors.Is(err, errInitEnded) {
			return Start(spec)
		}
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	return s, nil
}

// take gives a live blank sandbox for mode, or nil, and wakes the filler.
func (p *Pool) take(mode NetworkMode) *Sandbox {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.spares == 0 {
		return nil
	}
	p.modes[mode] = true
	p.refill.poke()
	for list := p.ready[mode]; len(list) > 0; list = p.ready[mode] {
		s := list[0]
		p.ready[mode] = list[1:]
		select {
		case <-s.Done():
			// Ended while it waited (killed from outside, say).
			go s.Destroy()
		default:
			return s
		}
	}
	return nil
}

// fill starts blank sandboxes until none is missing or stop is closed.
func (p *Pool) fill(stop <-chan struct{}) {
	for mode := p.next(); mode >= 0; mode = p.next() {
		s, err := startBlank(mode, p.outbound, true)
		if err != nil {
			// Start starts sandboxes itself when there is no blank
			// one; the next Start tries again.
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			s.Destroy()
			return
		}
		p.ready[mode] = append(p.ready[mode], s)
		p.mu.Unlock()
		select {
		case <-stop:
			return
		default:
		}
	}
}

// next is a network mode short of blank sandboxes, or -1.
func (p *Pool) next() NetworkMode {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return -1
	}
	for mode := range p.modes {
		if len(p.ready[mode]) < p.spares {
			return mode
		}
	}
	return -1
}

// Close stops starting blank sandboxes and ends those it has. Sandboxes
// that Start gave stay as they are.
func (p *Pool) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	ready := p.ready
	p.ready = nil
	p.mu.Unlock()
	p.refill.close()
	var errs []error
	for _, list := range ready {
		for _, s := range list {
			if err := s.Destroy(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sandbox pool: %w", err)
	}
	return nil
}
