package client

import (
	"testing"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the package to the standard library and sigv4.
func TestImports(t *testing.T) {
	deptest.DepChecker{Allowed: []string{"github.com/emberfn/ember/internal/sigv4"}}.Check(t)
}
