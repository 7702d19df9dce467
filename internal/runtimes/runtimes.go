// Package runtimes owns Lambda's managed runtimes as ember runs them: which
// runtime names exist, which interpreter on this machine serves each, and
// the runtime interface clients (Python and Node.js, written from the
// Runtime API specification) that ember ships inside its binary and mounts
// at /var/runtime.
package runtimes

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/emberfn/ember/internal/function"
)

// Families of runtimes.
const (
	Provided = "provided"
	Python   = "python"
	NodeJS   = "nodejs"
)

// Runtime is one runtime name and what serves it here.
type Runtime struct {
	// Name is Lambda's name: python3.12, nodejs20.x, provided.al2023.
	Name   string
	Family string
	// Version is the language version the name asks for: "3.12", "20".
	Version string
	// Deprecated names still run, with a warning.
	Deprecated bool
	// Interpreter is the program on this machine that runs it; empty for
	// provided runtimes and for managed ones with none installed.
	Interpreter string
}

// known lists Lambda's runtime names that ember runs, by family.
var known = []Runtime{
	{Name: "provided", Family: Provided, Deprecated: true},
	{Name: "provided.al2", Family: Provided},
	{Name: "provided.al2023", Family: Provided},
	{Name: "python3.8", Family: Python, Version: "3.8", Deprecated: true},
	{Name: "python3.9", Family: Python, Version: "3.9"},
	{Name: "python3.10", Family: Python, Version: "3.10"},
	{Name: "python3.11", Family: Python, Version: "3.11"},
	{Name: "python3.12", Family: Python, Version: "3.12"},
	{Name: "python3.13", Family: Python, Version: "3.13"},
	{Name: "python3.14", Family: Python, Version: "3.14"},
	{Name: "nodejs16.x", Family: NodeJS, Version: "16", Deprecated: true},
	{Name: "nodejs18.x", Family: NodeJS, Version: "18"},
	{Name: "nodejs20.x", Family: NodeJS, Version: "20"},
	{Name: "nodejs22.x", Family: NodeJS, Version: "22"},
	{Name: "nodejs24.x", Family: NodeJS, Version: "24"},
}

// ErrUnknown is a runtime name ember does not run.
var ErrUnknown = errors.New("unknown runtime")

// ErrNoInterpreter is a managed runtime without an interpreter here.
var ErrNoInterpreter = errors.New("no interpreter for the runtime")

// Registry finds interpreters. Its search path is a value, read once at
// the edge: the directories a sandbox sees from the host (/usr, /bin).
type Registry struct {
	// Dirs are searched in order for python3.X and node.
	Dirs []string
	// nodeVersion reports the major version of a node binary; a field so
	// that tests need no node of every version.
	nodeVersion func(path string) (string, error)
}

// NewRegistry searches the host directories that every sandbox sees.
func NewRegistry() *Registry {
	return &Registry{Dirs: []string{"/usr/local/bin", "/usr/bin", "/bin"}, nodeVersion: nodeMajor}
}

// Lookup returns the runtime of that name with its interpreter; a managed
// runtime without one gives ErrNoInterpreter with the interpreters found.
func (r *Registry) Lookup(name string) (Runtime, error) {
	if name == "" {
		name = "provided.al2023"
	}
	i := slices.IndexFunc(known, func(k Runtime) bool { return k.Name == name })
	if i < 0 {
		return Runtime{}, fmt.Errorf("%w %q: ember runs %s", ErrUnknown, name, strings.Join(names(), ", "))
	}
	rt := known[i]
	if rt.Family == Provided {
		return rt, nil
	}
	rt.Interpreter = r.find(rt)
	if rt.Interpreter == "" {
		return rt, fmt.Errorf("%w %s: no %s here; the runtimes this machine can run are %s",
			ErrNoInterpreter, name, r.wanted(rt), strings.Join(r.available(), ", "))
	}
	return rt, nil
}

// List returns every runtime name with its interpreter, if any.
func (r *Registry) List() []Runtime {
	out := make([]Runtime, len(known))
	for i, rt := range known {
		if rt.Family != Provided {
			rt.Interpreter = r.find(rt)
		}
		out[i] = rt
	}
	return out
}

func (r *Registry) wanted(rt Runtime) string {
	if rt.Family == Python {
		return "python" + rt.Version
	}
	return "node " + rt.Version + ".x"
}

func (r *Registry) available() []string {
	var have []string
	for _, rt := range r.List() {
		if rt.Family == Provided || rt.Interpreter != "" {
			have = append(have, rt.Name)
		}
	}
	return have
}

// find looks for the interpreter of a managed runtime.
func (r *Registry) find(rt Runtime) string {
	for _, dir := range r.Dirs {
		switch rt.Family {
		case Python:
			p := filepath.Join(dir, "python"+rt.Version)
			if isExecutable(p) {
				return p
			}
		case NodeJS:
			for _, name := range []string{"node" + rt.Version, "node"} {
				p := filepath.Join(dir, name)
				if !isExecutable(p) {
					continue
				}
				if v, err := r.nodeVersion(p); err == nil && v == rt.Version {
					return p
				}
			}
		}
	}
	return ""
}

var nodeVersionPattern = regexp.MustCompile(`^v(\d+)\.`)

// nodeMajor runs node --version.
func nodeMajor(path string) (string, error) {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "", err
	}
	m := nodeVersionPattern.FindStringSubmatch(strings.TrimSpace(string(out)))
	if m == nil {
		return "", fmt.Errorf("%s --version printed %q", path, out)
	}
	return m[1], nil
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

func names() []string {
	var out []string
	for _, k := range known {
		out = append(out, k.Name)
	}
	return out
}

//go:embed all:python all:nodejs
var clients embed.FS

// Install writes the runtime interface clients into dir, which a sandbox
// mounts at /var/runtime: dir/python/bootstrap.py, dir/nodejs/….
func Install(dir string) error {
	// The runtime runs as an unprivileged user: the directory it sees as
	// /var/runtime must be readable by all, whoever made it.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	return fs.WalkDir(clients, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, path)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		b, err := clients.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}

// Command is the runtime's command on the host: the interpreter, the
// client installed in runtimeDir (by Install), and the directory of the
// function's layers (optDir; "" for none, and the function sees "/opt").
func (rt Runtime) Command(runtimeDir, optDir string) []string {
	if optDir == "" {
		optDir = "/opt"
	}
	switch rt.Family {
	case Python:
		return []string{rt.Interpreter, filepath.Join(runtimeDir, "python", "bootstrap.py"), optDir}
	case NodeJS:
		return []string{rt.Interpreter, filepath.Join(runtimeDir, "nodejs", "bootstrap.mjs"), optDir}
	}
	return nil
}

// Configure sets up fn to run under rt: its command and variables. A
// provided runtime keeps fn's own bootstrap.
func (rt Runtime) Configure(fn *function.Config, runtimeDir string) {
	if rt.Family == Provided {
		return
	}
	fn.Command = rt.Command(runtimeDir, fn.OptDir)
	fn.RuntimeDir = runtimeDir
	fn.RuntimeEnv = rt.Env()
}

// Env is what Lambda sets for the runtime's family, as the function sees
// the paths.
func (rt Runtime) Env() map[string]string {
	switch rt.Family {
	case NodeJS:
		return map[string]string{
			"NODE_PATH": fmt.Sprintf("/opt/nodejs/node%s/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task", rt.Version),
		}
	}
	return nil
}
