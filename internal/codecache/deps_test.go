package codecache

import (
	"testing"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the package to the standard library and the code
// package unpacker.
func TestImports(t *testing.T) {
	deptest.DepChecker{Allowed: []string{"github.com/emberfn/ember/internal/codezip"}}.Check(t)
}
