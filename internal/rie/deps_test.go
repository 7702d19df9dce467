package rie

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps `ember rie` free of what only `ember serve` needs: the
// store's NATS, SigV4 and the Lambda API.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/nats-io/", "/internal/store", "/internal/sigv4", "/internal/api"} {
			if strings.Contains(dep, banned) {
				t.Errorf("depends on %s", dep)
			}
		}
	}
}
