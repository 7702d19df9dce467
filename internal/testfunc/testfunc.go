// Package testfunc builds the test functions in testdata/functions for tests.
//
// Each function is a package main under testdata/functions/<name> in the
// module root. Build compiles one into a directory holding an executable
// named bootstrap, as AWS Lambda's provided runtime expects. Builds are cached
// under os.TempDir(), keyed by the function's source files, go.mod and go.sum,
// so test binaries of different packages share them.
package testfunc

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// cacheDirName is the directory under os.TempDir() that holds built functions.
const cacheDirName = "ember-testfunc"

// Build compiles testdata/functions/<name> with CGO_ENABLED=0 and returns the
// directory containing the resulting executable, bootstrap. The test fails
// with the compiler output if the build fails.
func Build(t testing.TB, name string) string {
	t.Helper()

	root, err := ModuleRoot()
	if err != nil {
		t.Fatalf("testfunc: %v", err)
	}
	src := filepath.Join(root, "testdata", "functions", name)
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		t.Fatalf("testfunc: no test function %q in %s", name, filepath.Dir(src))
	}
	key, err := sourceKey(root, src)
	if err != nil {
		t.Fatalf("testfunc: hashing %s: %v", name, err)
	}

	cache := filepath.Join(os.TempDir(), cacheDirName)
	dir := filepath.Join(cache, name+"-"+key)
	if isExecutable(filepath.Join(dir, "bootstrap")) {
		return dir
	}

	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatalf("testfunc: %v", err)
	}
	tmp, err := os.MkdirTemp(cache, name+".tmp-")
	if err != nil {
		t.Fatalf("testfunc: %v", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed into place

	cmd := exec.Command("go", "build", "-o", filepath.Join(tmp, "bootstrap"), "./testdata/functions/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testfunc: building %s: %v\n%s", name, err, out)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatalf("testfunc: %v", err)
	}

	if err := os.Rename(tmp, dir); err != nil {
		// Another test process may have finished the same build first.
		if isExecutable(filepath.Join(dir, "bootstrap")) {
			return dir
		}
		t.Fatalf("testfunc: %v", err)
	}
	return dir
}

// BuildAll builds each named function and returns their directories by name.
func BuildAll(t testing.TB, names ...string) map[string]string {
	t.Helper()
	dirs := make(map[string]string, len(names))
	for _, name := range names {
		dirs[name] = Build(t, name)
	}
	return dirs
}

// ModuleRoot returns the directory holding the go.mod that encloses the
// working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

// sourceKey hashes everything the build of src depends on besides the Go
// toolchain's standard library: the files under src, go.mod and go.sum, and
// the toolchain version and target platform.
func sourceKey(root, src string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	add := func(name, path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
		return nil
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := add(f, filepath.Join(root, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	// WalkDir visits files in lexical order, so the hash is deterministic.
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		return add(filepath.ToSlash(rel), path)
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
