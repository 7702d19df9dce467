package sandbox

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the package to the standard library and the modules
// that earn their place: the seccomp filter assembler (with
// golang.org/x/net/bpf, the instructions it assembles to) and
// golang.org/x/sys for the system calls the standard library lacks, and
// its own pidfd package. It knows nothing of the rest of ember.
func TestImports(t *testing.T) {
	allowed := []string{"github.com/emberfn/ember/internal/sandbox/pidfd", "github.com/elastic/go-seccomp-bpf", "golang.org/x/net/bpf", "golang.org/x/sys/"}
	for _, goos := range []string{"linux", "darwin"} {
		ctx := build.Default
		ctx.GOOS = goos
		pkg, err := ctx.ImportDir(".", 0)
		if err != nil {
			t.Fatal(err)
		}
	next:
		for _, imp := range pkg.Imports {
			first, _, _ := strings.Cut(imp, "/")
			if !strings.Contains(first, ".") {
				continue
			}
			for _, a := range allowed {
				if strings.HasPrefix(imp, a) {
					continue next
				}
			}
			t.Errorf("GOOS=%s: imports %s", goos, imp)
		}
	}
}
