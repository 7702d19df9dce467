package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/emberfn/ember/internal/runtimes"
	"github.com/emberfn/ember/internal/testenv"
	"github.com/emberfn/ember/internal/testfunc"
)

// needRuntime skips a test of a managed runtime that this machine cannot
// run.
func needRuntime(t *testing.T, name string) {
	t.Helper()
	if _, err := runtimes.NewRegistry().Lookup(name); err != nil {
		testenv.Missing(t, "no interpreter for %s here: %v", name, err)
	}
}

// managedDir is a directory of testdata/managed.
func managedDir(t *testing.T, name string) string {
	t.Helper()
	root, err := testfunc.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "testdata", "managed", name)
}

func createManaged(t *testing.T, c *lambda.Client, name, runtime, handler, dir string, memoryMB, timeout int32, layers ...string) {
	t.Helper()
	_, err := c.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Role: aws.String(testRole), Runtime: types.Runtime(runtime), Handler: aws.String(handler),
		Code:       &types.FunctionCode{S3Bucket: aws.String("ember-local"), S3Key: aws.String(dir)},
		MemorySize: aws.Int32(memoryMB), Timeout: aws.Int32(timeout), Layers: layers,
	})
	if err != nil {
		t.Fatalf("CreateFunction %s: %v", name, err)
	}
}

var maxMemoryUsed = regexp.MustCompile(`Max Memory Used: (\d+) MB`)

// writeTarGz writes a .tar.gz of n files of size bytes each, random so
// that they do not compress: the archive is as large as its contents.
func writeTarGz(t *testing.T, path string, n, size int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewWriterLevel(f, gzip.NoCompression)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(gz)
	for i := range n {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("part-%d.bin", i), Mode: 0o644, Size: int64(size)}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(tw, rand.Reader, int64(size)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []io.Closer{tw, gz, f} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestServePythonStreamsArchiveAt128MB downloads a 140 MB .tar.gz from an
// HTTP server of the test's into /tmp from a 128 MB Python function: read
// as it streams, it fits, as on Lambda; read whole into memory first, it
// does not, and the function runs out of memory.
func TestServePythonStreamsArchiveAt128MB(t *testing.T) {
	needRuntime(t, "python3.11")
	testenv.Root(t, "functions run without a sandbox, so 128 MB is not enforced and the test would show nothing")
	const files, size = 2, 70 << 20
	archive := filepath.Join(t.TempDir(), "data.tar.gz")
	writeTarGz(t, archive, files, size)
	// The sandbox reaches the host as host.ember.internal, on the
	// addresses of the host's end of its link: the server listens on all.
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, archive) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	url := fmt.Sprintf("http://%s:%d/data.tar.gz", "host.ember.internal", l.Addr().(*net.TCPAddr).Port)

	p := startServe(t, t.TempDir())
	c := sdkClient(p.url, testSecret)
	createManaged(t, c, "unpack", "python3.11", "app.handler", managedDir(t, "python-stream"), 128, 300)
	ctx := context.Background()

	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("unpack"), LogType: types.LogTypeTail,
		Payload: []byte(`{"url":"` + url + `","mode":"stream"}`)})
	if err != nil {
		t.Fatal(err)
	}
	tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	var got struct{ Files, Bytes int }
	if out.FunctionError != nil || json.Unmarshal(out.Payload, &got) != nil || got.Files != files || got.Bytes != files*size {
		t.Fatalf("streaming unpack answered %s (error %v); log:\n%s", out.Payload, aws.ToString(out.FunctionError), tail)
	}
	m := maxMemoryUsed.FindStringSubmatch(string(tail))
	if m == nil {
		t.Fatalf("no Max Memory Used in %s", tail)
	}
	t.Logf("streamed %d bytes at 128 MB: Max Memory Used %s MB", got.Bytes, m[1])
	if used, _ := strconv.Atoi(m[1]); used > 128 {
		t.Errorf("Max Memory Used %d MB at 128 MB", used)
	}

	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("unpack"),
		Payload: []byte(`{"url":"` + url + `","mode":"read-all"}`)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read whole: %s", out.Payload)
	if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "Runtime.OutOfMemory") && !strings.Contains(string(out.Payload), "MemoryError") {
		t.Errorf("reading the whole archive into 128 MB answered %s; want an out-of-memory error", out.Payload)
	}
}

// TestServeManagedRuntimesWithLayers runs a Python and a Node function
// that each take a module from a layer, sandboxed (as root) and as plain
// processes, where the layers' directory stands in for /opt.
func TestServeManagedRuntimesWithLayers(t *testing.T) {
	for _, mode := range [][]string{nil, {"--no-sandbox"}} {
		t.Run(strings.Join(append([]string{"serve"}, mode...), " "), func(t *testing.T) {
			testManagedRuntimesWithLayers(t, mode...)
		})
	}
}

func testManagedRuntimesWithLayers(t *testing.T, args ...string) {
	p := startServe(t, t.TempDir(), args...)
	c := sdkClient(p.url, testSecret)
	ctx := context.Background()
	for _, tc := range []struct {
		runtime, handler, code, layer string
		check                         func(payload map[string]any) bool
	}{
		{"python3.11", "app.handler", "python-layer", "python-layer-lib", func(m map[string]any) bool {
			return m["message"] == "hello, ember, from a layer" && m["request_id"] != ""
		}},
		{"nodejs20.x", "index.handler", "node-layer", "node-layer-lib", func(m map[string]any) bool {
			return m["message"] == "hello, ember, from a layer" && m["required"] == "hello, cjs, from a layer" && m["requestId"] != ""
		}},
	} {
		t.Run(tc.runtime, func(t *testing.T) {
			needRuntime(t, tc.runtime)
			layer, err := c.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{
				LayerName: aws.String(tc.layer),
				Content:   &types.LayerVersionContentInput{S3Bucket: aws.String("ember-local"), S3Key: aws.String(managedDir(t, tc.layer))},
			})
			if err != nil {
				t.Fatal(err)
			}
			createManaged(t, c, tc.code, tc.runtime, tc.handler, managedDir(t, tc.code), 256, 10, *layer.LayerVersionArn)
			out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(tc.code), Payload: []byte(`{"name":"ember"}`), LogType: types.LogTypeTail})
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
			if out.FunctionError != nil || json.Unmarshal(out.Payload, &m) != nil || !tc.check(m) {
				t.Errorf("%s answered %s (error %v); log:\n%s", tc.runtime, out.Payload, aws.ToString(out.FunctionError), tail)
			}
			if !strings.Contains(string(tail), "Init Duration:") {
				t.Errorf("the first REPORT has no Init Duration:\n%s", tail)
			}
		})
	}
}

// TestRunManagedRuntimes runs a Python and a Node handler with ember run,
// and refuses a runtime without an interpreter here, naming those there are.
func TestRunManagedRuntimes(t *testing.T) {
	for _, tc := range []struct{ runtime, handler, dir, log string }{
		{"python3.11", "app.handler", "python-hello", "greeting ember"},
		{"nodejs20.x", "index.handler", "node-hello", "\tINFO\tgreeting ember"},
	} {
		t.Run(tc.runtime, func(t *testing.T) {
			needRuntime(t, tc.runtime)
			stdout, stderr, code := emberRun(t, `{"name":"ember"}`, "run", managedDir(t, tc.dir),
				"--runtime", tc.runtime, "--handler", tc.handler, "--memory", "256", "--event", "-")
			var got map[string]any
			if code != 0 || json.Unmarshal([]byte(stdout), &got) != nil || got["message"] != "Hello, ember!" || fmt.Sprint(got["memory"]) != "256" {
				t.Fatalf("ember run: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.log) || !strings.Contains(stderr, "Init Duration:") {
				t.Errorf("the function's log lacks %q or the Init Duration:\n%s", tc.log, stderr)
			}
		})
	}
	t.Run("no interpreter", func(t *testing.T) {
		var missing string
		for _, rt := range runtimes.NewRegistry().List() {
			if rt.Family != runtimes.Provided && rt.Interpreter == "" {
				missing = rt.Name
				break
			}
		}
		if missing == "" {
			t.Skip("every managed runtime has an interpreter here")
		}
		_, stderr, code := emberRun(t, "", "run", managedDir(t, "python-hello"), "--runtime", missing, "--handler", "app.handler")
		if code == 0 || !strings.Contains(stderr, missing) || !strings.Contains(stderr, "the runtimes this machine can run are") {
			t.Errorf("ember run --runtime %s: exit %d, %q", missing, code, stderr)
		}
	})
	out, _, code := emberRun(t, "", "runtimes")
	if code != 0 || !strings.Contains(out, "provided.al2023") || !strings.Contains(out, "python3.11") {
		t.Errorf("ember runtimes printed %q", out)
	}
}
