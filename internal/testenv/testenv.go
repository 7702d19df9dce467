// Package testenv decides what a test does when the machine lacks what it
// needs: root, cgroups, a program, a Python module, an interpreter. The
// test is skipped, with a message saying what is missing; in strict mode
// (EMBER_TEST_STRICT=1, which .ci/run sets) it fails with the same
// message, so that a machine that should have everything cannot pass by
// skipping. Skips for other reasons (-short, another platform, a kernel
// feature that a machine may lack) are the tests' own.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// StrictVar is the environment variable that turns strict mode on.
const StrictVar = "EMBER_TEST_STRICT"

// Strict reports whether a missing requirement fails a test.
func Strict() bool {
	v := os.Getenv(StrictVar)
	return v != "" && v != "0"
}

// Missing skips t, or fails it in strict mode, with the message: a
// requirement of the test is not met here.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatalf("%s (%s is set: a missing requirement fails the test)", msg, StrictVar)
		return
	}
	t.Skip(msg)
}

// Root requires that the test run as root; why says what needs it.
func Root(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "not root: %s", why)
	}
}

// Command requires a program, by name on PATH or by path, and returns
// its path.
func Command(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s is not installed (scripts/install-test-deps.sh installs it as root): %v", name, err)
	}
	return path
}

// PythonModule requires that the Python interpreter python import module.
func PythonModule(t testing.TB, python, module string) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import "+module).CombinedOutput(); err != nil {
		Missing(t, "the Python module %s is not installed for %s (scripts/install-test-deps.sh installs it as root): %v\n%s", module, python, err, out)
	}
}
