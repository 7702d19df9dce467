package deptest

import "testing"

// TestImports keeps the package to the standard library: tests of every
// layer import it.
func TestImports(t *testing.T) {
	DepChecker{}.Check(t)
}
