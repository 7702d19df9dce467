package store

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the package to the standard library and NATS (the
// embedded server and its client): it imports nothing else of ember's.
func TestImports(t *testing.T) {
	allowed := []string{"github.com/nats-io/nats-server/v2/", "github.com/nats-io/nats.go"}
	pkg, err := build.Default.ImportDir(".", 0)
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
		t.Errorf("imports %s", imp)
	}
}
