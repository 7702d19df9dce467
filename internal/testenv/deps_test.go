package testenv

import (
	"testing"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the package to the standard library: tests of every
// layer import it.
func TestImports(t *testing.T) {
	deptest.DepChecker{}.Check(t)
}
