package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/testenv"
	"github.com/emberfn/ember/internal/testfunc"
)

// emberBinary builds the real ember binary once per test binary run,
// with the race detector when the tests run with it.
func emberBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "ember")
	buildOnce.Do(func() {
		args := []string{"build", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

var (
	binDir    string
	buildOnce sync.Once
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ember-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// emberRun runs the ember binary with args and returns stdout, stderr and
// the exit status.
func emberRun(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(emberBinary(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	checkRaces(t, "ember "+strings.Join(args, " "), stderr.String())
	return stdout.String(), stderr.String(), code
}

// checkRaces fails the test if an ember process built with the race
// detector reported a race on its standard error.
func checkRaces(t *testing.T, what, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "WARNING: DATA RACE") {
		t.Errorf("%s: the race detector found a race:\n%s", what, stderr)
	}
}

var reportRE = regexp.MustCompile(`(?m)^REPORT RequestId: \S+\tDuration: [0-9.]+ ms\tBilled Duration: [0-9]+ ms\tMemory Size: (\d+) MB\tMax Memory Used: [0-9]+ MB\t`)

func TestRunDirectory(t *testing.T) {
	dir := testfunc.Build(t, "echo")
	event := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(event, []byte(`{"from":"file"}`), 0o644)
	stdout, stderr, code := emberRun(t, "", "run", dir, "--event", event, "--memory", "512")
	if code != 0 || stdout != "{\"from\":\"file\"}\n" {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	m := reportRE.FindStringSubmatch(stderr)
	if m == nil || m[1] != "512" || !strings.Contains(stderr, "START RequestId: ") {
		t.Errorf("stderr:\n%s", stderr)
	}
	// Flags before the path, the event on stdin.
	stdout, _, code = emberRun(t, `{"from":"stdin"}`, "run", "--event", "-", dir)
	if code != 0 || stdout != "{\"from\":\"stdin\"}\n" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}

func TestRunFunctionErrorExitsNonZero(t *testing.T) {
	stdout, stderr, code := emberRun(t, "", "run", testfunc.Build(t, "error"))
	if code != 1 || !strings.Contains(stdout, `"errorType":"errorString"`) {
		t.Errorf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	stdout, _, code = emberRun(t, `{"ms":3000}`, "run", testfunc.Build(t, "sleep"), "--timeout", "1", "--event", "-")
	if code != 1 || !strings.Contains(stdout, "Task timed out after 1.00 seconds") {
		t.Errorf("timeout: exit %d, stdout %q", code, stdout)
	}
}

func TestRunZipAndEnv(t *testing.T) {
	bootstrap, err := os.ReadFile(filepath.Join(testfunc.Build(t, "envdump"), "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(t.TempDir(), "fn.zip")
	f, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bootstrap)
	zw.Close()
	f.Close()

	stdout, stderr, code := emberRun(t, "", "run", zipPath, "--env", "GREETING=hi", "--handler", "x.y", "--name", "zipped")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var vars map[string]string
	if err := json.Unmarshal([]byte(stdout), &vars); err != nil {
		t.Fatalf("%s: %v", stdout, err)
	}
	if vars["GREETING"] != "hi" || vars["_HANDLER"] != "x.y" || vars["AWS_LAMBDA_FUNCTION_NAME"] != "zipped" {
		t.Errorf("vars %v", vars)
	}
}

func TestRunBadUsage(t *testing.T) {
	if _, stderr, code := emberRun(t, "", "run"); code != 2 || !strings.Contains(stderr, "exactly one PATH") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if _, stderr, code := emberRun(t, "", "run", testfunc.Build(t, "echo"), "--memory", "64"); code != 2 || !strings.Contains(stderr, "memory size 64 MB") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if _, _, code := emberRun(t, "", "nonsense"); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
}

// rieProcess is a running `ember rie` (or aws-lambda-rie).
type rieProcess struct {
	cmd    *exec.Cmd
	url    string
	stdout *bytes.Buffer
	mu     *sync.Mutex
}

// startRIE starts the binary at bin with args and env and waits until it
// listens.
func startRIE(t *testing.T, bin string, env []string, args ...string) *rieProcess {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var mu sync.Mutex
	stdout := &bytes.Buffer{}
	cmd.Stdout = lockedWriter{&mu, stdout}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &rieProcess{cmd: cmd, stdout: stdout, mu: &mu}
	var logs bytes.Buffer // guarded by mu
	scanned := make(chan struct{})
	t.Cleanup(func() {
		// SIGTERM, so that ember removes its cgroups and state; SIGKILL
		// only if it does not stop.
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		<-scanned
		mu.Lock()
		defer mu.Unlock()
		checkRaces(t, "ember rie", logs.String())
	})
	addr := make(chan string, 1)
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`ember rie listening" address=(\S+)`)
		for sc.Scan() {
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		p.url = "http://" + a + "/2015-03-31/functions/function/invocations"
	case <-time.After(10 * time.Second):
		t.Fatal("ember rie did not start listening")
	}
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (p *rieProcess) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

func TestRIEServesConcurrentInvocations(t *testing.T) {
	p := startRIE(t, emberBinary(t), os.Environ(), "rie", "--runtime-interface-emulator-address", "127.0.0.1:0",
		"--runtime-api-address", "127.0.0.1:0", filepath.Join(testfunc.Build(t, "sleep"), "bootstrap"))
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(p.url, "application/json", strings.NewReader(`{"ms":200}`))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("invocation %d: status %d", i, s)
		}
	}
	if n := strings.Count(p.logs(), "Init Duration"); n < 2 {
		t.Errorf("overlapping invocations ran in %d environments, want several:\n%s", n, p.logs())
	}

	// SIGTERM: ember stops, and so do the runtimes.
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ember rie did not stop on SIGTERM")
	}
}

func TestStartedAsAWSLambdaRIE(t *testing.T) {
	link := filepath.Join(t.TempDir(), "aws-lambda-rie")
	if err := os.Symlink(emberBinary(t), link); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "AWS_LAMBDA_FUNCTION_NAME=from-env", "AWS_LAMBDA_FUNCTION_TIMEOUT=1", "IMAGE_VAR=passed")
	p := startRIE(t, link, env, "--runtime-interface-emulator-address", "127.0.0.1:0",
		"--runtime-api-address", "127.0.0.1:0", filepath.Join(testfunc.Build(t, "envdump"), "bootstrap"))
	resp, err := http.Post(p.url, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var vars map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
		t.Fatal(err)
	}
	if vars["AWS_LAMBDA_FUNCTION_NAME"] != "from-env" || vars["IMAGE_VAR"] != "passed" || vars["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] != "3008" {
		t.Errorf("vars: name %q image %q memory %q", vars["AWS_LAMBDA_FUNCTION_NAME"], vars["IMAGE_VAR"], vars["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
	}
	if resp.Header.Get("X-Amzn-RequestId") == "" {
		t.Error("no request id")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.url, strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Log-Type", "Tail")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.Header.Get("X-Amz-Log-Result") == "" {
		t.Error("no log tail")
	}
}

// TestStaleStateRemoved leaves a state directory as a killed ember would,
// and checks that the next ember that builds sandboxes removes it.
func TestStaleStateRemoved(t *testing.T) {
	testenv.Root(t, "ember builds no sandboxes, and keeps no state directory")
	stale := filepath.Join(os.TempDir(), "ember-state-4194400-test")
	if err := os.MkdirAll(filepath.Join(stale, "img"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(stale) })
	// The empty directory a sandbox's root was built on.
	staleRoot := filepath.Join(os.TempDir(), "ember-sandbox-4194400-test")
	if err := os.Mkdir(staleRoot, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(staleRoot) })
	if _, stderr, code := emberRun(t, "", "run", testfunc.Build(t, "echo")); code != 0 {
		t.Fatalf("ember run: %d %s", code, stderr)
	}
	for _, dir := range []string{stale, staleRoot} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s of a dead ember is still there: %v", dir, err)
		}
	}
}

// TestEmberBinaryRace checks that the ember the tests run has the race
// detector exactly when the tests have it.
func TestEmberBinaryRace(t *testing.T) {
	out, err := exec.Command("go", "version", "-m", emberBinary(t)).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	if got := strings.Contains(string(out), "-race=true"); got != raceEnabled {
		t.Errorf("the ember binary has the race detector: %v; the tests: %v\n%s", got, raceEnabled, out)
	}
}
