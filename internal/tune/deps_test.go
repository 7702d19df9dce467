package tune

import (
	"testing"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the package to the standard library, the API client
// whose interface it uses, and billing.
func TestImports(t *testing.T) {
	deptest.DepChecker{Allowed: []string{"github.com/emberfn/ember/internal/billing", "github.com/emberfn/ember/internal/client"}}.Check(t)
}
