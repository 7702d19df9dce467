package sigv4

import (
	"testing"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the package to the standard library.
func TestImports(t *testing.T) {
	deptest.DepChecker{}.Check(t)
}
