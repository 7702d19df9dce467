//go:build !linux

package sandbox

import (
	"context"
	"net"
	"os"
)

// Sandbox is one started sandbox; only Linux has them.
type Sandbox struct{}

// Start returns ErrUnsupported: sandboxes need Linux.
func Start(spec Spec) (*Sandbox, error) { return nil, ErrUnsupported }

// RunInit returns ErrUnsupported: sandboxes need Linux.
func RunInit() error { return ErrUnsupported }

// Pid is 0.
func (s *Sandbox) Pid() int { return 0 }

// Listen returns ErrUnsupported.
func (s *Sandbox) Listen(network, addr string) (net.Listener, error) { return nil, ErrUnsupported }

// Dial returns ErrUnsupported.
func (s *Sandbox) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return nil, ErrUnsupported
}

// Exec returns ErrUnsupported.
func (s *Sandbox) Exec() error { return ErrUnsupported }

// Done is never closed.
func (s *Sandbox) Done() <-chan struct{} { return nil }

// Wait returns ErrUnsupported.
func (s *Sandbox) Wait() (*os.ProcessState, error) { return nil, ErrUnsupported }

// Signal returns ErrUnsupported.
func (s *Sandbox) Signal(sig os.Signal) error { return ErrUnsupported }

// AfterExit never calls f.
func (s *Sandbox) AfterExit(f func()) {}

// Destroy does nothing.
func (s *Sandbox) Destroy() error { return nil }

// Pool keeps no sandboxes where they cannot run.
type Pool struct{}

// NewPool returns a pool whose Start fails.
func NewPool(spares int, outbound *Network) *Pool { return &Pool{} }

// Start returns ErrUnsupported.
func (p *Pool) Start(spec Spec) (*Sandbox, error) { return nil, ErrUnsupported }

// Close does nothing.
func (p *Pool) Close() error { return nil }

// ImagePool makes no images where sandboxes cannot run.
type ImagePool struct{}

// NewImagePool returns a pool whose Take fails.
func NewImagePool(dir string, spares int) *ImagePool { return &ImagePool{} }

// Take returns ErrUnsupported.
func (p *ImagePool) Take(path string, sizeMB int) error { return ErrUnsupported }

// Drop does nothing.
func (p *ImagePool) Drop(path string) {}

// Close does nothing.
func (p *ImagePool) Close() error { return nil }

// Network has no links where sandboxes cannot run.
type Network struct{}

// NewNetwork returns ErrUnsupported.
func NewNetwork() (*Network, error) { return nil, ErrUnsupported }

// NAT returns ErrUnsupported.
func (n *Network) NAT() error { return ErrUnsupported }

// Close does nothing.
func (n *Network) Close() error { return nil }
