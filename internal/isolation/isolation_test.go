package isolation

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"testing"

	"github.com/emberfn/ember/internal/testenv"
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

func TestSetupDisabled(t *testing.T) {
	iso, release, err := Setup(slog.New(slog.DiscardHandler), true, 0, 0)
	if err != nil || iso != nil {
		t.Fatalf("Setup with the sandbox switched off: %+v, %v; want nil, nil", iso, err)
	}
	if err := release(); err != nil {
		t.Errorf("release: %v", err)
	}
}

// TestSetup sets up the sandboxes as ember serve does, and checks that
// releasing them removes the state directory and the cgroup subtree.
func TestSetup(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sandboxes need Linux")
	}
	testenv.Root(t, "sandboxes need root")
	iso, release, err := Setup(slog.New(slog.DiscardHandler), false, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if iso == nil || iso.Sandboxes == nil || iso.Images == nil {
		release()
		t.Fatalf("Setup as root: %+v", iso)
	}
	if iso.Cgroups == nil {
		release()
		testenv.Missing(t, "no usable cgroups here")
	}
	if fi, err := os.Stat(iso.StateDir); err != nil || !fi.IsDir() {
		t.Errorf("state directory %s: %v", iso.StateDir, err)
	}
	if err := release(); err != nil {
		t.Errorf("release: %v", err)
	}
	if _, err := os.Stat(iso.StateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory %s after release: %v", iso.StateDir, err)
	}
}
