package cgroup

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the package on the standard library: it works on the
// cgroup files itself and knows nothing of the rest of ember.
func TestImports(t *testing.T) {
	for _, goos := range []string{"linux", "darwin"} {
		ctx := build.Default
		ctx.GOOS = goos
		pkg, err := ctx.ImportDir(".", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
				t.Errorf("GOOS=%s: imports %s", goos, imp)
			}
		}
	}
}
