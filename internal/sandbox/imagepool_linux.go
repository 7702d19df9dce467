package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// refillDelay is how long the pool waits after a Take before it makes
// the next spare.
const refillDelay = 200 * time.Millisecond

// ImagePool makes /tmp images ahead, so that a sandbox's first start need
// not wait for mkfs: Take moves a fresh image into place, and the pool makes
// another in the background. It keeps spares of the sizes it was asked for.
type ImagePool struct {
	dir    string
	spares int
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}

	mu sync.Mutex
	// ready holds fresh images by size in MB.
	ready map[int][]string
	// sizes are those Take was asked for.
	sizes map[int]bool
	seq   int
}

// NewImagePool keeps spares fresh images of each size asked for in dir.
func NewImagePool(dir string, spares int) *ImagePool {
	p := &ImagePool{
		dir:    dir,
		spares: spares,
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		ready:  map[int][]string{},
		sizes:  map[int]bool{},
	}
	go p.fill()
	return p
}

// Take puts a fresh image of sizeMB at path: a spare when there is one,
// else one made now.
func (p *ImagePool) Take(path string, sizeMB int) error {
	p.mu.Lock()
	p.sizes[sizeMB] = true
	var spare string
	if list := p.ready[sizeMB]; len(list) > 0 {
		spare = list[len(list)-1]
		p.ready[sizeMB] = list[:len(list)-1]
	}
	p.mu.Unlock()
	p.poke()
	if spare != "" {
		if err := os.Rename(spare, path); err == nil {
			return nil
		}
		os.Remove(spare)
	}
	return ensureImage(path, sizeMB)
}

func (p *ImagePool) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// fill makes spares until Close.
func (p *ImagePool) fill() {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			return
		case <-p.wake:
		}
		// A Take comes with a sandbox starting: let it have the CPU
		// before mkfs runs.
		select {
		case <-p.stop:
			return
		case <-time.After(refillDelay):
		}
		for {
			size, name := p.next()
			if size == 0 {
				break
			}
			if err := ensureImage(name, size); err != nil {
				// Take makes images itself when there is no spare.
				break
			}
			p.mu.Lock()
			p.ready[size] = append(p.ready[size], name)
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			default:
			}
		}
	}
}

// next names the next spare to make, or gives size 0 when all are there.
func (p *ImagePool) next() (size int, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for s := range p.sizes {
		if len(p.ready[s]) < p.spares {
			p.seq++
			return s, filepath.Join(p.dir, fmt.Sprintf("spare-%d-%dmb.img", p.seq, s))
		}
	}
	return 0, ""
}

// Close stops making images and removes the spares.
func (p *ImagePool) Close() error {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, list := range p.ready {
		for _, name := range list {
			os.Remove(name)
		}
	}
	p.ready = map[int][]string{}
	return nil
}
