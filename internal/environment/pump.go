package environment

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// maxLine is the longest log line kept whole; longer ones are split, as
// CloudWatch Logs splits events of 256 KB.
const maxLine = 256 * 1024

// The pump's read buffer starts small, since most runtimes write little
// and a thousand environments each hold one, and doubles up to
// maxReadBuf while reads fill it.
const (
	minReadBuf = 4 << 10
	maxReadBuf = 64 << 10
)

// pump reads a runtime's output pipe and emits it line by line. Reads and
// the emitting of what they read happen under mu, so that sync can drain
// the pipe and know that every byte written before it was emitted.
type pump struct {
	f    *os.File
	rc   syscall.RawConn
	emit func([]byte)
	done chan struct{}

	mu      sync.Mutex
	buf     []byte
	partial []byte
	eof     bool
}

func newPump(f *os.File, emit func([]byte)) (*pump, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	return &pump{f: f, rc: rc, emit: emit, done: make(chan struct{}), buf: make([]byte, minReadBuf)}, nil
}

// run reads until every writer has closed the pipe.
func (p *pump) run() {
	defer close(p.done)
	defer p.f.Close()
	for {
		err := p.rc.Read(func(fd uintptr) bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.readLocked(fd)
		})
		p.mu.Lock()
		eof := p.eof
		p.mu.Unlock()
		if eof || err != nil {
			p.mu.Lock()
			p.flushLocked()
			p.mu.Unlock()
			return
		}
	}
}

// readLocked reads once from fd; false means there was nothing to read.
func (p *pump) readLocked(fd uintptr) bool {
	n, err := syscall.Read(int(fd), p.buf)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return false
	}
	if n <= 0 {
		p.eof = true
		return true
	}
	p.linesLocked(p.buf[:n])
	if n == len(p.buf) && n < maxReadBuf {
		p.buf = make([]byte, 2*n)
	}
	return true
}

func (p *pump) linesLocked(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial, b...)
			for len(p.partial) >= maxLine {
				p.emit(p.partial[:maxLine])
				p.partial = append(p.partial[:0], p.partial[maxLine:]...)
			}
			return
		}
		line := b[:i]
		if len(p.partial) > 0 {
			p.partial = append(p.partial, line...)
			line = p.partial
		}
		for len(line) > maxLine {
			p.emit(line[:maxLine])
			line = line[maxLine:]
		}
		p.emit(bytes.TrimSuffix(line, []byte{'\r'}))
		p.partial = p.partial[:0]
		b = b[i+1:]
	}
}

func (p *pump) flushLocked() {
	if len(p.partial) > 0 {
		p.emit(p.partial)
		p.partial = p.partial[:0]
	}
}

// sync emits everything written to the pipe so far, a last line without
// its newline included.
func (p *pump) sync() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.eof {
		return
	}
	p.rc.Control(func(fd uintptr) {
		for i := 0; i < 64 && !p.eof; i++ {
			if !p.readLocked(fd) {
				break
			}
		}
	})
	p.flushLocked()
}

// wait waits up to d for the pipe to close.
func (p *pump) wait(d time.Duration) {
	select {
	case <-p.done:
	case <-time.After(d):
	}
}
