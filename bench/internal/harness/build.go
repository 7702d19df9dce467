package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModulePath is ember's module, whose root the benchmarks run from.
const ModulePath = "github.com/emberfn/ember"

// Binaries are what a benchmark builds.
type Binaries struct {
	Ember string
	// FnDir holds the echo function's bootstrap, and nothing else: the
	// function's code directory, in which ember rie also runs, as Lambda
	// runs a function in its task root.
	FnDir     string
	Bootstrap string
}

// Build compiles ember and the echo function (testdata/functions/echo)
// into dir, the bootstrap into its subdirectory fnDir, static and
// cgo-free as they ship, as internal/testfunc builds the test functions
// (which takes a testing.TB, which a program has not).
func Build(ctx context.Context, dir, fnDir string) (Binaries, error) {
	return build(ctx, dir, fnDir, true)
}

// BuildEcho compiles the echo function alone, as Build does, for a
// benchmark given an ember binary; the Binaries' Ember is then "".
func BuildEcho(ctx context.Context, dir, fnDir string) (Binaries, error) {
	return build(ctx, dir, fnDir, false)
}

func build(ctx context.Context, dir, fnDir string, ember bool) (Binaries, error) {
	b := Binaries{FnDir: filepath.Join(dir, fnDir)}
	b.Bootstrap = filepath.Join(b.FnDir, "bootstrap")
	root, err := ModuleRoot(ctx)
	if err != nil {
		return b, err
	}
	targets := []struct{ out, pkg string }{{b.Bootstrap, "./testdata/functions/echo"}}
	if ember {
		b.Ember = filepath.Join(dir, "ember")
		targets = append(targets, struct{ out, pkg string }{b.Ember, "./cmd/ember"})
	}
	for _, t := range targets {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", t.out, t.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", t.pkg, err, out)
		}
	}
	return b, nil
}

// ModuleRoot returns the directory of ember's go.mod, found from the
// working directory.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not in a Go module: run the benchmark from ember's module root")
	}
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			if strings.Trim(strings.TrimSpace(name), `"`) != ModulePath {
				return "", fmt.Errorf("%s is module %s, not %s: run the benchmark from ember's module root", gomod, name, ModulePath)
			}
			return filepath.Dir(gomod), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", gomod, err)
	}
	return "", fmt.Errorf("%s names no module", gomod)
}

// Environ is the benchmark's environment without the variables that
// start with one of drop, those that configure a function or an AWS
// client, so that a caller's shell does not change what is measured.
func Environ(drop ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !hasAnyPrefix(kv, drop) {
			env = append(env, kv)
		}
	}
	return env
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
