package main

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/testenv"
	"github.com/emberfn/ember/internal/testfunc"
)

// TestRIETaskRootFromEnvironment starts ember rie outside a container with
// LAMBDA_TASK_ROOT naming the code directory and a bootstrap elsewhere that
// changes to $LAMBDA_TASK_ROOT and runs the function from there, as the
// scripts of AWS's runtime interface clients do. The runtime must find the
// code: at /var/task in the sandbox, at the directory itself without it.
func TestRIETaskRootFromEnvironment(t *testing.T) {
	code := testfunc.Build(t, "echo")
	runtimeDir := t.TempDir()
	if err := os.Chmod(runtimeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(runtimeDir, "bootstrap.sh")
	body := "#!/bin/sh\necho \"task root: $LAMBDA_TASK_ROOT\"\ncd \"$LAMBDA_TASK_ROOT\" || exit 3\nexec ./bootstrap\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name     string
		flags    []string
		taskRoot string
	}{
		{"sandbox", nil, "/var/task"},
		{"no-sandbox", []string{"--no-sandbox"}, code},
	} {
		t.Run(mode.name, func(t *testing.T) {
			if mode.flags == nil {
				testenv.Root(t, "the sandbox needs root")
			}
			args := append([]string{"rie", "--runtime-interface-emulator-address", "127.0.0.1:0",
				"--runtime-api-address", "127.0.0.1:0"}, mode.flags...)
			p := startRIE(t, emberBinary(t), append(os.Environ(), "LAMBDA_TASK_ROOT="+code), append(args, script)...)
			resp, err := http.Post(p.url, "application/json", strings.NewReader(`{"cd":"task root"}`))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" || string(got) != `{"cd":"task root"}` {
				t.Fatalf("status %d, function error %q, body %s\nlogs:\n%s", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), got, p.logs())
			}
			if want := "task root: " + mode.taskRoot + "\n"; !strings.Contains(p.logs(), want) {
				t.Errorf("the runtime did not see LAMBDA_TASK_ROOT=%s:\n%s", mode.taskRoot, p.logs())
			}
		})
	}
}

// TestRIEFunctionTaskRoot checks the code directory and bootstrap that
// rieFunction takes from LAMBDA_TASK_ROOT.
func TestRIEFunctionTaskRoot(t *testing.T) {
	code := testfunc.Build(t, "echo")
	fn, err := rieFunction(nil, map[string]string{"LAMBDA_TASK_ROOT": code})
	if err != nil {
		t.Fatal(err)
	}
	if fn.CodeDir != code || len(fn.Command) != 1 || fn.Command[0] != filepath.Join(code, "bootstrap") {
		t.Errorf("no command: code dir %q, command %q; want %q and its bootstrap", fn.CodeDir, fn.Command, code)
	}
	fn, err = rieFunction([]string{"/bin/true"}, map[string]string{"LAMBDA_TASK_ROOT": code})
	if err != nil {
		t.Fatal(err)
	}
	if fn.CodeDir != code {
		t.Errorf("with a command: code dir %q, want %q", fn.CodeDir, code)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	_, err = rieFunction([]string{"/bin/true"}, map[string]string{"LAMBDA_TASK_ROOT": missing})
	var usage *usageError
	if !errors.As(err, &usage) || !strings.Contains(err.Error(), missing) {
		t.Errorf("LAMBDA_TASK_ROOT of a missing directory: %v, want a usage error naming it", err)
	}
}

// TestRIEExtensions starts ember rie outside a container with --opt naming
// a directory whose extensions/ holds an external extension: it starts
// with the runtime, is logged as Lambda logs it, and sees each invocation.
func TestRIEExtensions(t *testing.T) {
	bin, err := os.ReadFile(filepath.Join(testfunc.Build(t, "extension"), "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	opt := t.TempDir()
	if err := os.Chmod(opt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(opt, "extensions"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(opt, "extensions", "extcount"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	code := testfunc.Build(t, "echo")
	for _, mode := range []struct {
		name  string
		flags []string
	}{
		{"sandbox", nil},
		{"no-sandbox", []string{"--no-sandbox"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			if mode.flags == nil {
				testenv.Root(t, "the sandbox needs root")
			}
			args := append([]string{"rie", "--runtime-interface-emulator-address", "127.0.0.1:0",
				"--runtime-api-address", "127.0.0.1:0", "--opt", opt}, mode.flags...)
			p := startRIE(t, emberBinary(t), os.Environ(), append(args, filepath.Join(code, "bootstrap"))...)
			for range 2 {
				resp, err := http.Post(p.url, "application/json", strings.NewReader(`{"x":1}`))
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || string(got) != `{"x":1}` {
					t.Fatalf("status %d, body %s, %v\nlogs:\n%s", resp.StatusCode, got, err, p.logs())
				}
			}
			// The extension prints a line per INVOKE, which reaches the
			// log after the answer; the invocations may have met one
			// environment or two.
			deadline := time.Now().Add(10 * time.Second)
			for strings.Count(p.logs(), "extcount invoke ") < 2 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			logs := p.logs()
			if !strings.Contains(logs, "EXTENSION\tName: extcount\tState: Ready\tEvents: [INVOKE, SHUTDOWN]") {
				t.Errorf("no EXTENSION line for extcount:\n%s", logs)
			}
			if n := strings.Count(logs, "extcount invoke "); n != 2 {
				t.Errorf("extcount saw %d INVOKE events, want 2:\n%s", n, logs)
			}
		})
	}
}
