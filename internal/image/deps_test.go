package image

import (
	"testing"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the store to go-containerregistry for image formats
// and the registry protocol, x/sys for what unpacking needs, and the
// function value type for what a function of an image runs.
func TestImports(t *testing.T) {
	deptest.DepChecker{Allowed: []string{"github.com/google/go-containerregistry", "golang.org/x/sys", "github.com/emberfn/ember/internal/function"}}.Check(t)
}

func TestImagetestImports(t *testing.T) {
	deptest.DepChecker{Package: "./imagetest", Allowed: []string{"github.com/google/go-containerregistry"}}.Check(t)
}
