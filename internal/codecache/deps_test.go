package codecache

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the package to the standard library and the code
// package unpacker.
func TestImports(t *testing.T) {
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") && imp != "github.com/emberfn/ember/internal/codezip" {
			t.Errorf("imports %s", imp)
		}
	}
}
