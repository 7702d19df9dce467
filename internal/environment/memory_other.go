//go:build !linux

package environment

import "github.com/emberfn/ember/internal/sandbox/cgroup"

// meter measures nothing where /proc is missing.
type meter struct{}

func newMeter(root int) *meter { return &meter{} }

func (m *meter) peak() (peak, resident int64) { return 0, 0 }

func (m *meter) reset() {}

func (m *meter) useCgroup(cg *cgroup.Group) {}

func (m *meter) close() {}
