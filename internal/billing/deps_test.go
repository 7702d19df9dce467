package billing

import (
	"testing"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the package to the standard library: it is a leaf that
// whoever reports costs imports.
func TestImports(t *testing.T) {
	deptest.DepChecker{}.Check(t)
}
