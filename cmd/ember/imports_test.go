package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// allowedImports is DESIGN.md's data flow: calls go down, value packages
// import nothing of ember's, and no package calls back up.
var allowedImports = map[string][]string{
	"internal/function":        {},
	"internal/invocation":      {},
	"internal/codezip":         {},
	"internal/testfunc":        {},
	"internal/testenv":         {},
	"internal/deptest":         {},
	"internal/runtimeapi":      {"internal/invocation"},
	"internal/environment":     {"internal/function", "internal/invocation", "internal/runtimeapi", "internal/sandbox", "internal/sandbox/cgroup", "internal/sandbox/pidfd", "internal/telemetry"},
	"internal/sandbox":         {"internal/sandbox/pidfd"},
	"internal/sandbox/cgroup":  {},
	"internal/sandbox/pidfd":   {},
	"internal/envpool":         {"internal/environment", "internal/invocation"},
	"internal/api":             {"internal/control", "internal/function", "internal/furl", "internal/image", "internal/invocation", "internal/invoke", "internal/invokewire", "internal/logstore", "internal/metrics", "internal/runtimes", "internal/sigv4", "internal/store", "internal/usage", "internal/billing"},
	"internal/control":         {"internal/codecache", "internal/codezip", "internal/function", "internal/image", "internal/invocation", "internal/runtimes", "internal/store"},
	"internal/rie":             {"internal/function", "internal/invocation", "internal/invokewire"},
	"internal/invokewire":      {"internal/invocation"},
	"internal/invoke":          {"internal/codecache", "internal/environment", "internal/envpool", "internal/function", "internal/image", "internal/invocation", "internal/logstore", "internal/runtimes", "internal/store", "internal/billing", "internal/metrics", "internal/usage"},
	"internal/store":           {},
	"internal/runtimes":        {"internal/function"},
	"internal/billing":         {},
	"internal/tune":            {"internal/billing", "internal/client"},
	"internal/usage":           {},
	"internal/metrics":         {},
	"internal/logstore":        {},
	"internal/codecache":       {"internal/codezip"},
	"internal/image":           {"internal/function"},
	"internal/image/imagetest": {},
	"internal/telemetry":       {},
	"internal/furl":            {"internal/invocation", "internal/sigv4"},
	"internal/sigv4":           {},
	"internal/client":          {"internal/sigv4"},
	"internal/isolation":       {"internal/environment", "internal/sandbox", "internal/sandbox/cgroup"},
	"internal/serve":           {"internal/api", "internal/billing", "internal/codecache", "internal/image", "internal/environment", "internal/invoke", "internal/invokewire", "internal/isolation", "internal/logstore", "internal/metrics", "internal/runtimes", "internal/sigv4", "internal/store", "internal/usage"},
}

func TestImportDirection(t *testing.T) {
	const module = "github.com/emberfn/ember/"
	out, err := exec.Command("go", "list", "-json", module+"internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, module)
		allowed, ok := allowedImports[name]
		if !ok {
			t.Errorf("package %s has no import rule: add it to allowedImports and DESIGN.md's picture", name)
			continue
		}
		seen++
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if !slices.Contains(allowed, dep) {
				t.Errorf("%s imports %s, which the design does not allow", name, dep)
			}
		}
	}
	if seen < len(allowedImports) {
		t.Errorf("checked %d packages, rules name %d", seen, len(allowedImports))
	}
}
