package client

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the package to the standard library and sigv4.
func TestImports(t *testing.T) {
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") && imp != "github.com/emberfn/ember/internal/sigv4" {
			t.Errorf("imports %s", imp)
		}
	}
}
