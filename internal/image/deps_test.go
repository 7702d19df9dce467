package image

import (
	"testing"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the store to go-containerregistry for image formats
// and the registry protocol, and x/sys for what unpacking needs.
func TestImports(t *testing.T) {
	deptest.DepChecker{Allowed: []string{"github.com/google/go-containerregistry", "golang.org/x/sys"}}.Check(t)
}

func TestImagetestImports(t *testing.T) {
	deptest.DepChecker{Package: "./imagetest", Allowed: []string{"github.com/google/go-containerregistry"}}.Check(t)
}
