package cgroup

import (
	"testing"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the package on the standard library: it works on the
// cgroup files itself and knows nothing of the rest of ember.
func TestImports(t *testing.T) {
	deptest.DepChecker{}.Check(t)
}
