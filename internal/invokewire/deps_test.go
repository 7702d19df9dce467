package invokewire

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the package to the standard library and invocation's
// value types: the emulator's endpoint shares it without the store's NATS
// or the API's signatures.
func TestImports(t *testing.T) {
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") && imp != "github.com/emberfn/ember/internal/invocation" {
			t.Errorf("imports %s", imp)
		}
	}
}
