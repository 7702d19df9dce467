package metrics

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the package to the standard library: the Prometheus
// modules are for its tests only, and the usage records are the caller's
// to translate.
func TestImports(t *testing.T) {
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") {
			t.Errorf("imports %s", imp)
		}
	}
}
