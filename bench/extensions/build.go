package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/emberfn/ember/bench/internal/harness"
)

// extensionName is the file name of the extension in extensions/ of the
// --opt directory, and so the name it registers under.
const extensionName = "bench-quiet"

// binaries are what the benchmark runs.
type binaries struct {
	harness.Binaries
	// OptDir is what the ember with the extension gets as --opt: its
	// extensions/ holds the extension alone.
	OptDir string
}

// build compiles ember and the echo function as the other benchmarks do,
// and the extension (bench/extensions/ext) into the extensions/ of a
// directory of its own, static and cgo-free as an extension ships in a
// layer. The directories are readable by all, as a layer's /opt is, for
// a sandbox whose runtime is not root.
func build(ctx context.Context, dir string) (binaries, error) {
	b, err := harness.Build(ctx, dir, "function")
	if err != nil {
		return binaries{}, err
	}
	root, err := harness.ModuleRoot(ctx)
	if err != nil {
		return binaries{}, err
	}
	opt := filepath.Join(dir, "opt")
	exts := filepath.Join(opt, "extensions")
	if err := os.MkdirAll(exts, 0o755); err != nil {
		return binaries{}, err
	}
	for _, d := range []string{opt, exts} {
		if err := os.Chmod(d, 0o755); err != nil {
			return binaries{}, err
		}
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(exts, extensionName), "./bench/extensions/ext")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return binaries{}, fmt.Errorf("go build ./bench/extensions/ext: %w\n%s", err, out)
	}
	return binaries{Binaries: b, OptDir: opt}, nil
}
