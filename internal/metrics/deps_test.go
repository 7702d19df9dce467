package metrics

import (
	"testing"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the package to the standard library: the Prometheus
// modules are for its tests only, and the usage records are the caller's
// to translate.
func TestImports(t *testing.T) {
	deptest.DepChecker{}.Check(t)
}
