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
// not wait for mkfs, nor for the mount of its file system: Take moves a
// fresh image into place, and the pool makes another in the background. It
// keeps spares of the sizes it was asked for. A sandbox whose TmpSpec names
// the pool takes the image's file system mounted already.
type ImagePool struct {
	dir    string
	spares int
	refill *refiller

	mu sync.Mutex
	// ready holds fresh images by size in MB.
	ready map[int][]spareImage
	// taken holds the mounts of the images that Take moved into place and
	// no sandbox has taken yet, by their path.
	taken map[string]spareImage
	// sizes are those Take was asked for.
	sizes  map[int]bool
	closed bool
	seq    int
}

// spareImage is a fresh image and, where the kernel can mount a file
// system without attaching it (Linux 5.2), the mount of its file system.
type spareImage struct {
	name string
	// mnt is the mount, attached nowhere, or nil; dev is its loop device.
	mnt *os.File
	dev string
}

func (im spareImage) remove() {
	if im.mnt != nil {
		im.mnt.Close()
	}
	os.Remove(im.name)
}

// NewImagePool keeps spares fresh images of each size asked for in dir.
func NewImagePool(dir string, spares int) *ImagePool {
	p := &ImagePool{
		dir:    dir,
		spares: spares,
		ready:  map[int][]spareImage{},
		taken:  map[string]spareImage{},
		sizes:  map[int]bool{},
	}
	// A Take comes with a sandbox starting: it has the CPU before mkfs.
	p.refill = startRefiller(refillDelay, p.fill)
	return p
}

// Take puts a fresh image of sizeMB at path: a spare when there is one,
// else one made now.
func (p *ImagePool) Take(path string, sizeMB int) error {
	// A mount held for the image at path before is of another file now.
	p.Drop(path)
	p.mu.Lock()
	p.sizes[sizeMB] = true
	var spare spareImage
	if list := p.ready[sizeMB]; len(list) > 0 {
		spare = list[len(list)-1]
		p.ready[sizeMB] = list[:len(list)-1]
	}
	p.mu.Unlock()
	p.refill.poke()
	if spare.name == "" {
		return ensureImage(path, sizeMB)
	}
	if err := os.Rename(spare.name, path); err != nil {
		spare.remove()
		return ensureImage(path, sizeMB)
	}
	if spare.mnt == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		spare.mnt.Close()
		return nil
	}
	spare.name = path
	p.taken[path] = spare
	return nil
}

// Drop lets go of the mount the pool holds for the image at path, if no
// sandbox took it: call it before the image is deleted, so that its loop
// device and blocks are freed.
func (p *ImagePool) Drop(path string) {
	if mnt, _ := p.takeMount(path); mnt != nil {
		mnt.Close()
	}
}

// takeMount gives the file system of the image at path mounted, and its
// loop device, if the pool has it: once, to the sandbox that mounts it.
func (p *ImagePool) takeMount(path string) (*os.File, string) {
	if p == nil {
		return nil, ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	im, ok := p.taken[path]
	if !ok {
		return nil, ""
	}
	delete(p.taken, path)
	return im.mnt, im.dev
}

// fill makes spares until none is missing or stop is closed.
func (p *ImagePool) fill(stop <-chan struct{}) {
	for {
		size, name := p.next()
		if size == 0 {
			return
		}
		if err := ensureImage(name, size); err != nil {
			// Take makes images itself when there is no spare.
			return
		}
		im := spareImage{name: name}
		// Without a mount, the sandbox mounts the image itself.
		if loop, dev, err := attachLoop(name); err == nil {
			mnt, err := mountDetached(dev)
			loop.Close()
			if err == nil {
				im.mnt, im.dev = mnt, dev
			}
		}
		p.mu.Lock()
		p.ready[size] = append(p.ready[size], im)
		p.mu.Unlock()
		select {
		case <-stop:
			return
		default:
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

// Close stops making images and removes the spares. Calls after the first
// do nothing.
func (p *ImagePool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.refill.close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, list := range p.ready {
		for _, im := range list {
			im.remove()
		}
	}
	for _, im := range p.taken {
		im.mnt.Close()
	}
	p.ready = map[int][]spareImage{}
	p.taken = map[string]spareImage{}
	return nil
}
