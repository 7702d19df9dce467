package usage

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the package to the standard library: it is a leaf that
// the invoke path writes to and the API reads from.
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
