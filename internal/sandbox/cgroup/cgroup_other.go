//go:build !linux

package cgroup

import "fmt"

// Manager owns ember's subtree of cgroups; there are none outside Linux.
type Manager struct{}

// New returns ErrUnsupported: cgroups are Linux's.
func New(root string) (*Manager, error) {
	return nil, fmt.Errorf("%w: cgroups need Linux", ErrUnsupported)
}

// Mode says how the machine's cgroups are laid out; "" outside Linux.
func (m *Manager) Mode() string { return "" }

// Close does nothing outside Linux.
func (m *Manager) Close() error { return nil }

// NewGroup returns ErrUnsupported.
func (m *Manager) NewGroup(name string, l Limits) (*Group, error) { return nil, ErrUnsupported }

// Group is one sandbox's cgroup; there are none outside Linux.
type Group struct{}

// FD reports false: there is no cgroup directory to start a process in.
func (g *Group) FD() (int, bool) { return -1, false }

// Add returns ErrUnsupported.
func (g *Group) Add(pid int) error { return ErrUnsupported }

// Freeze returns ErrUnsupported.
func (g *Group) Freeze() error { return ErrUnsupported }

// Pause returns ErrUnsupported.
func (g *Group) Pause() error { return ErrUnsupported }

// Thaw returns ErrUnsupported.
func (g *Group) Thaw() error { return ErrUnsupported }

// OOMKills returns ErrUnsupported.
func (g *Group) OOMKills() (int64, error) { return 0, ErrUnsupported }

// MemoryPeak returns ErrUnsupported.
func (g *Group) MemoryPeak() (int64, error) { return 0, ErrUnsupported }

// ResetMemoryPeak returns ErrUnsupported.
func (g *Group) ResetMemoryPeak() error { return ErrUnsupported }

// MemoryPeakResets reports false: there is no peak to reset.
func (g *Group) MemoryPeakResets() bool { return false }

// FileCache fails: there are no cgroups here.
func (g *Group) FileCache() (int64, error) { return 0, ErrUnsupported }

// Procs returns ErrUnsupported.
func (g *Group) Procs() ([]int, error) { return nil, ErrUnsupported }

// Kill returns ErrUnsupported.
func (g *Group) Kill() error { return ErrUnsupported }

// Delete does nothing outside Linux.
func (g *Group) Delete() error { return nil }

// SetCPU returns ErrUnsupported.
func (g *Group) SetCPU(cpus float64) error { return ErrUnsupported }

// RemoveStale does nothing where there are no cgroups.
func (m *Manager) RemoveStale(stale func(name string) bool) error { return nil }
