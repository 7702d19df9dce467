package invokewire

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the package to the standard library, invocation's
// value types and the AWS SDK's event-stream framing: the emulator's
// endpoint shares it without the store's NATS or the API's signatures.
func TestImports(t *testing.T) {
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") && imp != "github.com/emberfn/ember/internal/invocation" &&
			imp != "github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream" {
			t.Errorf("imports %s", imp)
		}
	}
}
