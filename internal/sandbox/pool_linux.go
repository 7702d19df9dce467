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
// A Pool keeps blank sandboxes of the kinds it was asked for: the
// outbound mode with a user namespace from the start when it has a
// Network, the others from their first Start on. Close it to end them.
type Pool struct {
	outbound *Network
	spares   int
	refill   *refiller

	mu sync.Mutex
	// ready holds the blank sandboxes by kind.
	ready map[blankKind][]*Sandbox
	// kinds are the kinds asked for.
	kinds  map[blankKind]bool
	closed bool
}

// blankKind is what a blank sandbox was started with: its network mode,
// and whether it may have a user namespace, which a sandbox of an image's
// root may not (see Start).
type blankKind struct {
	mode   NetworkMode
	userNS bool
}

// kindOf is the kind of blank sandbox that spec can be built from.
func kindOf(spec Spec) blankKind {
	return blankKind{mode: spec.Network, userNS: len(spec.Image) == 0}
}

// NewPool keeps spares blank sandboxes of each network mode asked for.
// outbound is the Network of outbound sandboxes, or nil; with spares 0 the
// pool keeps none and Start starts each sandbox when asked.
func NewPool(spares int, outbound *Network) *Pool {
	p := &Pool{
		outbound: outbound,
		spares:   spares,
		ready:    map[blankKind][]*Sandbox{},
		kinds:    map[blankKind]bool{},
	}
	p.refill = startRefiller(poolRefillDelay, p.fill)
	if spares > 0 && outbound != nil {
		p.kinds[blankKind{mode: NetworkOutbound, userNS: true}] = true
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
	// A spec of an image's root takes a blank sandbox started without a
	// user namespace (see Start), kept apart from the others.
	if spec.Network == NetworkOutbound && spec.Outbound != p.outbound || spec.noMountAPI {
		return Start(spec)
	}
	s := p.take(kindOf(spec))
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

// take gives a live blank sandbox of kind k, or nil, and wakes the filler.
func (p *Pool) take(k blankKind) *Sandbox {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.spares == 0 {
		return nil
	}
	p.kinds[k] = true
	p.refill.poke()
	for list := p.ready[k]; len(list) > 0; list = p.ready[k] {
		s := list[0]
		p.ready[k] = list[1:]
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
	for k, ok := p.next(); ok; k, ok = p.next() {
		s, err := startBlank(k.mode, p.outbound, k.userNS)
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
		p.ready[k] = append(p.ready[k], s)
		p.mu.Unlock()
		select {
		case <-stop:
			return
		default:
		}
	}
}

// next is a kind short of blank sandboxes; ok is false when none is.
func (p *Pool) next() (k blankKind, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return blankKind{}, false
	}
	for k := range p.kinds {
		if len(p.ready[k]) < p.spares {
			return k, true
		}
	}
	return blankKind{}, false
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
