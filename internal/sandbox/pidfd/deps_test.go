package pidfd

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the package to the standard library and
// golang.org/x/sys.
func TestImports(t *testing.T) {
	for _, goos := range []string{"linux", "darwin"} {
		ctx := build.Default
		ctx.GOOS = goos
		pkg, err := ctx.ImportDir(".", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			first, _, _ := strings.Cut(imp, "/")
			if strings.Contains(first, ".") && !strings.HasPrefix(imp, "golang.org/x/sys/") {
				t.Errorf("GOOS=%s: imports %s", goos, imp)
			}
		}
	}
}
