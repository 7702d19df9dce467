package store

import (
	"testing"

	"github.com/emberfn/ember/internal/deptest"
)

// TestImports keeps the package to the standard library and NATS (the
// embedded server and its client): it imports nothing else of ember's.
func TestImports(t *testing.T) {
	deptest.DepChecker{Allowed: []string{"github.com/nats-io/nats-server/v2", "github.com/nats-io/nats.go"}}.Check(t)
}
