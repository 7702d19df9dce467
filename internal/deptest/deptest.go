// Package deptest checks a package's dependencies against its rules, for
// the package's own tests: which modules and packages beyond the standard
// library it may import, and which it must not depend on at all, directly
// or through others. It asks the go command (go list), as tailscale's
// tstest/deptest does, for each operating system the package builds on.
package deptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// DepChecker holds one package's rules.
type DepChecker struct {
	// Package is the import path or directory checked; empty is the
	// package of the test (".").
	Package string
	// GOOS are the operating systems the rules are checked for; empty is
	// linux and darwin.
	GOOS []string
	// Allowed are the import paths beyond the standard library that the
	// package may import itself, ember's own packages included. An entry
	// allows the path and every path below it ("golang.org/x/sys" allows
	// "golang.org/x/sys/unix"). The packages it imports have rules of
	// their own.
	Allowed []string
	// Forbidden are import paths, each with the reason, that must not be
	// among the package's dependencies, direct or indirect, standard
	// library included; an entry forbids the paths below it too.
	Forbidden map[string]string
}

// Check runs go list for each operating system and reports every import
// that the rules do not allow, and every forbidden dependency, as an error
// of t.
func (c DepChecker) Check(t testing.TB) {
	t.Helper()
	pkg := c.Package
	if pkg == "" {
		pkg = "."
	}
	goos := c.GOOS
	if len(goos) == 0 {
		goos = []string{"linux", "darwin"}
	}
	for _, g := range goos {
		p, err := list(pkg, g)
		if err != nil {
			t.Fatalf("GOOS=%s: %v", g, err)
			return
		}
		for _, imp := range p.Imports {
			if !standard(imp) && !anyPrefix(imp, c.Allowed) {
				t.Errorf("GOOS=%s: %s imports %s, which its rules do not allow", g, p.ImportPath, imp)
			}
		}
		for _, dep := range p.Deps {
			for prefix, why := range c.Forbidden {
				if under(dep, prefix) {
					t.Errorf("GOOS=%s: %s depends on %s: %s", g, p.ImportPath, dep, why)
				}
			}
		}
	}
}

// listed is what go list says of a package.
type listed struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func list(pkg, goos string) (listed, error) {
	var p listed
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", pkg)
	cmd.Env = append(os.Environ(), "GOOS="+goos)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return p, fmt.Errorf("go list %s: %w\n%s", pkg, err, stderr.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("go list %s: %w", pkg, err)
	}
	if err := dec.Decode(&listed{}); !errors.Is(err, io.EOF) {
		return p, fmt.Errorf("go list %s: not one package", pkg)
	}
	return p, nil
}

// standard reports whether an import path is of the standard library: its
// first element has no dot.
func standard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func anyPrefix(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if under(path, p) {
			return true
		}
	}
	return false
}

// under reports whether path is prefix or a path below it.
func under(path, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}
