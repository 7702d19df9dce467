package tune

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// TestImports keeps the package to the standard library, the API client
// whose interface it uses, and billing.
func TestTuneImports(t *testing.T) {
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{"github.com/emberfn/ember/internal/billing", "github.com/emberfn/ember/internal/client"}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") && !slices.Contains(allowed, imp) {
			t.Errorf("imports %s", imp)
		}
	}
}
