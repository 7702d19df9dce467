package usage

import (
	"testing"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the package to the standard library: it is a leaf that
// the invoke path writes to and the API reads from.
func TestImports(t *testing.T) {
	deptest.DepChecker{}.Check(t)
}
