package sandbox

import (
	"testing"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the package to the standard library and the modules
// that earn their place: the seccomp filter assembler (with
// golang.org/x/net/bpf, the instructions it assembles to), the nf_tables
// client that keeps sandboxes apart, golang.org/x/sys for the system
// calls the standard library lacks, and its own pidfd package. It knows
// nothing of the rest of ember.
func TestImports(t *testing.T) {
	deptest.DepChecker{Allowed: []string{"github.com/emberfn/ember/internal/sandbox/pidfd", "github.com/elastic/go-seccomp-bpf", "github.com/google/nftables", "golang.org/x/net/bpf", "golang.org/x/sys"}}.Check(t)
}
