package testfunc

import (
	"testing"

	// The test functions import aws-lambda-go from testdata, which go mod
	// tidy does not scan; this import keeps it a direct requirement in
	// go.mod.
	_ "github.com/aws/aws-lambda-go/lambda"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the package to the standard library: tests of every
// layer import it.
func TestImports(t *testing.T) {
	deptest.DepChecker{}.Check(t)
}
