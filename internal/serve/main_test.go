package serve

import (
	"fmt"
	"os"
	"testing"

	"github.com/emberfn/ember/internal/sandbox"
)

// TestMain lets the test binary be a sandbox's init stage, as ember's main
// is: a sandbox starts by re-executing the running binary.
func TestMain(m *testing.M) {
	if sandbox.IsInit(os.Args) {
		if err := sandbox.RunInit(); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox init:", err)
			os.Exit(127)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
