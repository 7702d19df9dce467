package isolation

import (
	"fmt"
	"os"
	"testing"
)

func TestStaleSubtree(t *testing.T) {
	for name, want := range map[string]bool{
		"ember-4194400-1":                       true, // past the kernel's largest pid
		fmt.Sprintf("ember-%d-1", os.Getpid()):  false,
		fmt.Sprintf("ember-%d-1", os.Getppid()): false,
		"ember-4194400-1-x":                     false,
		"ember-test-4194400-x":                  false,
		"other-4194400-1":                       false,
	} {
		if got := staleSubtree(name); got != want {
			t.Errorf("staleSubtree(%q) = %v; want %v", name, got, want)
		}
	}
}
