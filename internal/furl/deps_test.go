package furl

import (
	"testing"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the package to the standard library and the values of
// an invocation and of signatures: what it serves is given to it.
func TestImports(t *testing.T) {
	deptest.DepChecker{Allowed: []string{"github.com/emberfn/ember/internal/invocation", "github.com/emberfn/ember/internal/sigv4"}}.Check(t)
}
