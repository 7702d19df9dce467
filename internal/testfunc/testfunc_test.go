package testfunc

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestBuildEcho(t *testing.T) {
	dir := Build(t, "echo")
	fi, err := os.Stat(filepath.Join(dir, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("bootstrap is not an executable file: mode %v", fi.Mode())
	}
}

func TestBuildIsCached(t *testing.T) {
	first := Build(t, "echo")
	before, err := os.Stat(filepath.Join(first, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	second := Build(t, "echo")
	elapsed := time.Since(start)

	if second != first {
		t.Fatalf("second build returned %s, want cached %s", second, first)
	}
	after, err := os.Stat(filepath.Join(second, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("bootstrap was rebuilt instead of served from the cache")
	}
	if elapsed > time.Second {
		t.Fatalf("cached build took %v", elapsed)
	}
}

// TestBuildAllFunctions keeps every test function compiling.
func TestBuildAllFunctions(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(root, "testdata", "functions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			Build(t, e.Name())
		})
	}
}
