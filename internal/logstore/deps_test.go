package logstore

import (
	"testing"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the package to the standard library: it is a leaf that
// the layers above write to and read from.
func TestImports(t *testing.T) {
	deptest.DepChecker{}.Check(t)
}
