package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/testfunc"
)

// emberCLI runs an ember client command against the server at url.
func emberCLI(t *testing.T, url string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(emberBinary(t), args...)
	cmd.Env = []string{"EMBER_ENDPOINT=" + url, "PATH=/usr/bin:/bin"}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	checkRaces(t, "ember "+strings.Join(args, " "), errb.String())
	return out.String(), errb.String(), code
}

func TestServeEmberCLI(t *testing.T) {
	p := startServe(t, t.TempDir())
	dir := testfunc.Build(t, "envdump")

	out, errOut, code := emberCLI(t, p.url, "deploy", "dump", dir, "--memory", "256", "--env", "COLOR=blue")
	if code != 0 || !strings.Contains(out, "created dump") {
		t.Fatalf("deploy: %d %s %s", code, out, errOut)
	}
	out, errOut, code = emberCLI(t, p.url, "invoke", "dump", "--payload", `{"x":1}`)
	if code != 0 || !strings.Contains(out, `"COLOR":"blue"`) || !strings.Contains(out, `"AWS_LAMBDA_FUNCTION_MEMORY_SIZE":"256"`) {
		t.Errorf("invoke printed %s", out)
	}
	if !strings.HasPrefix(errOut, "REPORT RequestId: ") || !strings.Contains(errOut, "Memory Size: 256 MB") {
		t.Errorf("invoke's stderr %q holds no REPORT line", errOut)
	}

	// A second deploy updates the function in place.
	zip := filepath.Join(t.TempDir(), "echo.zip")
	if err := os.WriteFile(zip, zipFunction(t, "echo"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = emberCLI(t, p.url, "deploy", "dump", zip, "--publish")
	if code != 0 || !strings.Contains(out, "updated dump") || !strings.Contains(out, "published version 1") {
		t.Fatalf("second deploy: %d %s %s", code, out, errOut)
	}
	event := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(event, []byte(`{"from":"file"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code = emberCLI(t, p.url, "invoke", "dump", "--event", event)
	if code != 0 || strings.TrimSpace(out) != `{"from":"file"}` {
		t.Errorf("invoke after the update printed %q (exit %d)", out, code)
	}

	// ember url makes the function's URL once and prints it each time; a
	// request to it reaches the function as a payload 2.0 event.
	fnURL, errOut, code := emberCLI(t, p.url, "url", "dump")
	fnURL = strings.TrimSpace(fnURL)
	if code != 0 || !regexp.MustCompile(`^http://[a-z0-9]{32}\.lambda-url\.us-east-1\.localhost:[0-9]+/$`).MatchString(fnURL) {
		t.Fatalf("url printed %q (exit %d, %s)", fnURL, code, errOut)
	}
	if again, _, _ := emberCLI(t, p.url, "url", "dump"); strings.TrimSpace(again) != fnURL {
		t.Errorf("url printed %q the second time, %q the first", again, fnURL)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(fnURL, "http://"), "/")
	req, err := http.NewRequest(http.MethodGet, p.url+"/hello?who=cli", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `"rawPath":"/hello"`) || !strings.Contains(string(body), `"rawQueryString":"who=cli"`) {
		t.Errorf("GET through the function URL: %d %s (%v)", resp.StatusCode, body, err)
	}

	out, _, code = emberCLI(t, p.url, "ls")
	if code != 0 || !strings.Contains(out, "dump") || !strings.Contains(out, "256 MB") {
		t.Errorf("ls printed %q", out)
	}
	out, _, code = emberCLI(t, p.url, "logs", "dump")
	if code != 0 || !strings.Contains(out, "START RequestId:") || !strings.Contains(out, "REPORT RequestId:") {
		t.Errorf("logs printed %q", out)
	}

	// logs -f prints lines as invocations write them.
	cmd := exec.Command(emberBinary(t), "logs", "-f", "dump")
	cmd.Env = []string{"EMBER_ENDPOINT=" + p.url}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// The follower is connected once it has printed the kept lines.
	<-lines
	_, _, code = emberCLI(t, p.url, "invoke", "dump", "--payload", `{"follow":"me"}`)
	if code != 0 {
		t.Fatal("invoke while following failed")
	}
	out, _, _ = emberCLI(t, p.url, "logs", "dump")
	want := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "START RequestId:") {
			want = line[strings.Index(line, "START RequestId:"):]
		}
	}
	timeout := time.After(10 * time.Second)
	for found := false; !found; {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("logs -f ended")
			}
			found = strings.Contains(line, want)
		case <-timeout:
			t.Fatalf("logs -f did not print %q", want)
		}
	}

	_, errOut, code = emberCLI(t, p.url, "invoke", "missing")
	if code != 1 || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Errorf("invoke of a missing function: exit %d, %q", code, errOut)
	}
	out, _, code = emberCLI(t, p.url, "rm", "dump")
	if code != 0 || !strings.Contains(out, "deleted dump") {
		t.Errorf("rm printed %q (exit %d)", out, code)
	}
	if out, _, _ = emberCLI(t, p.url, "ls"); strings.Contains(out, "dump") {
		t.Errorf("ls after rm printed %q", out)
	}
}
