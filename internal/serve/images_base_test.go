package serve

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/emberfn/ember/internal/client"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/image"
	"github.com/emberfn/ember/internal/image/imagetest"
	"github.com/emberfn/ember/internal/runtimes"
	"github.com/emberfn/ember/internal/testenv"
	"github.com/emberfn/ember/internal/testfunc"
)

// lambdaEntrypoint is /lambda-entrypoint.sh of AWS's base images: the
// handler as its one argument, the emulator when no Runtime API is set.
const lambdaEntrypoint = `#!/bin/sh
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
else
  exec $RUNTIME_ENTRYPOINT
fi
`

// pythonHandler answers with the event's name and what Lambda told the
// runtime, so that the answer can only come from this handler run by a
// Python runtime client.
const pythonHandler = `import os
import sys


def handler(event, context):
    return {
        "hello": event.get("name"),
        "handler": os.environ["_HANDLER"],
        "python": "%d.%d" % sys.version_info[:2],
        "executable": sys.executable,
        "request": context.aws_request_id,
        "cwd": os.getcwd(),
    }
`

// rootfs collects the entries of a layer copied from this machine's
// files, each directory once and before what it holds.
type rootfs struct {
	t     *testing.T
	files []imagetest.File
	seen  map[string]bool
	size  int64
}

func newRootfs(t *testing.T) *rootfs {
	return &rootfs{t: t, seen: map[string]bool{}}
}

// dir adds the directory name (no leading slash) and its parents.
func (r *rootfs) dir(name string) {
	name = strings.Trim(name, "/")
	if name == "" || name == "." || r.seen[name+"/"] {
		return
	}
	r.dir(path.Dir(name))
	r.seen[name+"/"] = true
	r.files = append(r.files, imagetest.Dir(name+"/", 0o755))
}

// add adds a file of the given body at name; any user may read it, and
// run it when mode has an execute bit.
func (r *rootfs) add(name, body string, mode fs.FileMode) {
	name = strings.TrimPrefix(name, "/")
	if r.seen[name] {
		return
	}
	r.dir(path.Dir(name))
	r.seen[name] = true
	m := int64(0o644)
	if mode&0o111 != 0 {
		m = 0o755
	}
	r.files = append(r.files, imagetest.File{Name: name, Body: body, Mode: m})
	r.size += int64(len(body))
}

// copy adds the host's file host (symbolic links followed) at name.
func (r *rootfs) copy(name, host string) {
	r.t.Helper()
	st, err := os.Stat(host)
	if err != nil {
		r.t.Fatal(err)
	}
	b, err := os.ReadFile(host)
	if err != nil {
		r.t.Fatal(err)
	}
	r.add(name, string(b), st.Mode())
}

// symlink adds a symbolic link name -> target.
func (r *rootfs) symlink(name, target string) {
	name = strings.TrimPrefix(name, "/")
	r.dir(path.Dir(name))
	r.seen[name] = true
	r.files = append(r.files, imagetest.Symlink(name, target))
}

// libs adds what the host's dynamically linked program or library needs
// to be loaded, as ldd finds it: the dynamic loader at its own path (the
// path written in programs) and every library under /lib64, which the
// image's LD_LIBRARY_PATH names as AWS's base images do.
func (r *rootfs) libs(host string) {
	r.t.Helper()
	out, err := exec.Command("ldd", host).Output()
	if err != nil {
		// Not dynamically linked: nothing to add.
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			r.copy("lib64/"+f[0], f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			r.copy(f[0], f[0])
		}
	}
}

// tree adds the host's directory host at name, leaving out what skip
// names (base names of directories) and dangling links.
func (r *rootfs) tree(name, host string, skip func(base string) bool) {
	r.t.Helper()
	err := filepath.WalkDir(host, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(host, p)
		if d.IsDir() {
			if p != host && skip(d.Name()) {
				return filepath.SkipDir
			}
			r.dir(path.Join(name, filepath.ToSlash(rel)))
			return nil
		}
		if _, err := os.Stat(p); err != nil {
			return nil
		}
		r.copy(path.Join(name, filepath.ToSlash(rel)), p)
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

// pythonBaseImage builds, from this machine's files and without Docker,
// an image laid out as AWS's Python base images are: /bin/sh for
// /lambda-entrypoint.sh, the interpreter in /var/lang, ember's own Python
// runtime client in /var/runtime started by /var/runtime/bootstrap as
// ember starts it, and the handler in /var/task.
func pythonBaseImage(t *testing.T) (v1.Image, string) {
	t.Helper()
	python := testenv.Command(t, "python3")
	// python3 may be a shim (pyenv's): ask the interpreter where it is.
	out, err := exec.Command(python, "-c", "import os, sys; print(os.path.realpath(sys.executable)); print(os.path.dirname(os.__file__)); print('%d.%d' % sys.version_info[:2])").Output()
	if err != nil {
		testenv.Missing(t, "python3 does not run: %v", err)
	}
	lines := strings.Fields(string(out))
	if len(lines) != 3 {
		t.Fatalf("python3 answered %q", out)
	}
	exe, stdlib, version := lines[0], lines[1], lines[2]
	if filepath.Base(stdlib) != "python"+version {
		t.Skipf("the standard library of %s is in %s, not a python%s directory", exe, stdlib, version)
	}
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}

	r := newRootfs(t)
	r.copy("bin/sh", sh)
	r.libs(sh)
	r.copy("var/lang/bin/python"+version, exe)
	r.symlink("var/lang/bin/python3", "python"+version)
	r.libs(exe)
	// Only what a runtime needs of the standard library: no tests, no
	// third-party packages, no caches, no GUI or build support.
	leave := map[string]bool{"test": true, "tests": true, "idle_test": true, "idlelib": true, "site-packages": true, "dist-packages": true,
		"__pycache__": true, "tkinter": true, "turtledemo": true, "ensurepip": true, "lib2to3": true, "pydoc_data": true}
	r.tree("var/lang/lib/python"+version, stdlib, func(base string) bool {
		return leave[base] || strings.HasPrefix(base, "config-")
	})
	dynload, _ := filepath.Glob(filepath.Join(stdlib, "lib-dynload", "*.so"))
	for _, so := range dynload {
		if !strings.HasPrefix(filepath.Base(so), "_tkinter") {
			r.libs(so)
		}
	}

	// ember's Python runtime client, started as ember starts it.
	clients := t.TempDir()
	if err := runtimes.Install(clients); err != nil {
		t.Fatal(err)
	}
	r.tree("var/runtime/python", filepath.Join(clients, "python"), func(string) bool { return false })
	rt := runtimes.Runtime{Name: "python" + version, Family: runtimes.Python, Version: version, Interpreter: "/var/lang/bin/python3"}
	r.add("var/runtime/bootstrap", "#!/bin/sh\nexec "+strings.Join(rt.Command("/var/runtime", ""), " ")+"\n", 0o755)
	r.add("var/task/app.py", pythonHandler, 0o644)
	r.add("lambda-entrypoint.sh", lambdaEntrypoint, 0o755)
	r.dir("tmp")
	r.dir("opt")
	t.Logf("the Python base image holds %d entries, %d MB", len(r.files), r.size>>20)

	// The layer is uncompressed, as docker save writes layers: nothing
	// to gzip.
	img := imagetest.Image(t, v1.Config{
		Entrypoint: []string{"/lambda-entrypoint.sh"},
		Cmd:        []string{"app.handler"},
		WorkingDir: "/var/task",
		Env: []string{
			"LANG=en_US.UTF-8", "TZ=:/etc/localtime",
			"PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
			"LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
			"LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime",
		},
	}, "x86_64", static.NewLayer(imagetest.Tar(t, r.files...), ggcrtypes.DockerUncompressedLayer))
	return img, version
}

// TestPythonBaseImageUnderSDK: an image laid out as AWS's Python base
// images, with /lambda-entrypoint.sh as ENTRYPOINT and the handler as CMD,
// runs its Python handler through ember's Python runtime client.
func TestPythonBaseImageUnderSDK(t *testing.T) {
	testenv.Root(t, "container-image functions run in ember's sandbox")
	testenv.Command(t, "ldd")
	img, version := pythonBaseImage(t)
	url := start(t, Config{Region: function.DefaultRegion, AccountID: function.DefaultAccountID, AllowLocalCode: true, IdleTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := sdkClient(url)
	ec := client.New(client.Options{Endpoint: url})

	if _, err := ec.LoadImages(ctx, imagetest.WriteTarball(t, img, "python-base:3"), ""); err != nil {
		t.Fatalf("LoadImages: %v", err)
	}
	if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("py"), Role: aws.String(testRole), PackageType: types.PackageTypeImage,
		Code: &types.FunctionCode{ImageUri: aws.String("python-base:3")}, Timeout: aws.Int32(30),
	}); err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("py"), Payload: []byte(`{"name":"image"}`), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if out.FunctionError != nil {
		t.Fatalf("Invoke: function error %s: %s\nlog:\n%s", aws.ToString(out.FunctionError), out.Payload, decodeTail(aws.ToString(out.LogResult)))
	}
	var got map[string]string
	if err := json.Unmarshal(out.Payload, &got); err != nil {
		t.Fatalf("Invoke answered %s: %v", out.Payload, err)
	}
	for k, want := range map[string]string{
		"hello": "image", "handler": "app.handler", "python": version, "cwd": "/var/task",
		"executable": "/var/lang/bin/python3",
	} {
		if got[k] != want {
			t.Errorf("the handler answered %s=%q; want %q (answer %s)", k, got[k], want, out.Payload)
		}
	}
	if got["request"] == "" || out.ExecutedVersion == nil {
		t.Errorf("the handler saw no request id, or the answer no version: %s", out.Payload)
	}

	// A second invocation reuses the environment: the runtime client
	// serves invocations in a loop.
	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("py"), Payload: []byte(`{"name":"again"}`)})
	if err != nil || out.FunctionError != nil || !strings.Contains(string(out.Payload), `"hello": "again"`) && !strings.Contains(string(out.Payload), `"hello":"again"`) {
		t.Errorf("second Invoke: %v, %s", err, out.Payload)
	}
}

// decodeTail is the LogResult of an Invoke as text.
func decodeTail(b64 string) string {
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return b64
	}
	return string(b)
}

// zeroLayer is an uncompressed layer of files of zero bytes, written as
// it is read rather than held: data/zero-0, data/zero-1, ...
type zeroLayer struct {
	files int
	each  int64
	once  sync.Once
	hash  v1.Hash
	size  int64
	err   error
}

func (l *zeroLayer) stream() io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		zeros := make([]byte, 1<<20)
		err := tw.WriteHeader(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: imagetest.ModTime()})
		for i := 0; i < l.files && err == nil; i++ {
			err = tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data/zero-%d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: l.each, ModTime: imagetest.ModTime()})
			for left := l.each; left > 0 && err == nil; {
				n := min(left, int64(len(zeros)))
				_, err = tw.Write(zeros[:n])
				left -= n
			}
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// digest hashes the stream once: an uncompressed layer's digest is its
// diff ID.
func (l *zeroLayer) digest() (v1.Hash, error) {
	l.once.Do(func() {
		rc := l.stream()
		defer rc.Close()
		h := sha256.New()
		l.size, l.err = io.Copy(h, rc)
		l.hash = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	})
	return l.hash, l.err
}

func (l *zeroLayer) Digest() (v1.Hash, error)             { return l.digest() }
func (l *zeroLayer) DiffID() (v1.Hash, error)             { return l.digest() }
func (l *zeroLayer) Compressed() (io.ReadCloser, error)   { return l.stream(), nil }
func (l *zeroLayer) Uncompressed() (io.ReadCloser, error) { return l.stream(), nil }
func (l *zeroLayer) MediaType() (ggcrtypes.MediaType, error) {
	return ggcrtypes.OCIUncompressedLayer, nil
}
func (l *zeroLayer) Size() (int64, error) {
	_, err := l.digest()
	return l.size, err
}

// diskUsage is the space the files under dir take on disk, as du counts
// it.
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	n, err := image.DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLargeImageSecondEnvironmentCopiesNothing: a 1 GiB image is stored
// once, with its bytes on disk, and a second environment of its function
// runs on the same unpacked layers: the images directory does not grow.
func TestLargeImageSecondEnvironmentCopiesNothing(t *testing.T) {
	testenv.Root(t, "container-image functions run in ember's sandbox")
	const files, each = 4, 256 << 20
	dataDir := t.TempDir()
	url := start(t, Config{Region: function.DefaultRegion, AccountID: function.DefaultAccountID, AllowLocalCode: true, IdleTimeout: time.Minute, DataDir: dataDir})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := sdkClient(url)
	ec := client.New(client.Options{Endpoint: url})

	bin, err := os.ReadFile(filepath.Join(testfunc.Build(t, "sleep"), "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	base := imagetest.Layer(t,
		imagetest.Dir("var/", 0o755), imagetest.Dir("var/runtime/", 0o755), imagetest.Dir("var/task/", 0o755), imagetest.Dir("tmp/", 0o1777),
		imagetest.File{Name: "var/runtime/bootstrap", Body: string(bin), Mode: 0o755},
	)
	img := imagetest.Image(t, v1.Config{Entrypoint: []string{"/var/runtime/bootstrap"}, Cmd: []string{"sleep.handler"}, WorkingDir: "/var/task"},
		"x86_64", base, &zeroLayer{files: files, each: each})
	began := time.Now()
	if _, err := ec.LoadImages(ctx, imagetest.WriteLayout(t, map[string]v1.Image{"big:v1": img}), ""); err != nil {
		t.Fatalf("LoadImages: %v", err)
	}
	t.Logf("built and loaded a %d MB image in %v", files*each>>20, time.Since(began).Round(time.Millisecond))
	images := filepath.Join(dataDir, "images")
	if loaded := diskUsage(t, images); loaded < files*each {
		t.Fatalf("the images directory takes %d bytes on disk after loading; want the image's %d bytes written", loaded, files*each)
	}
	if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("big"), Role: aws.String(testRole), PackageType: types.PackageTypeImage,
		Code: &types.FunctionCode{ImageUri: aws.String("big:v1")}, Timeout: aws.Int32(30),
	}); err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	// run is when the sleep function's handler ran, in Unix nanoseconds.
	type run struct {
		Start int64 `json:"start"`
		End   int64 `json:"end"`
	}
	invoke := func(ms int) (run, error) {
		var r run
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("big"), Payload: []byte(fmt.Sprintf(`{"ms":%d}`, ms))})
		if err != nil {
			return r, err
		}
		if out.FunctionError != nil {
			return r, fmt.Errorf("function error %s: %s", aws.ToString(out.FunctionError), out.Payload)
		}
		if err := json.Unmarshal(out.Payload, &r); err != nil || r.End == 0 {
			return r, fmt.Errorf("answer %s: %v", out.Payload, err)
		}
		return r, nil
	}
	if _, err := invoke(0); err != nil {
		t.Fatalf("first Invoke: %v", err)
	}
	one := diskUsage(t, images)

	// Two invocations at once, each holding its environment: the warm
	// one and a second, new environment.
	var wg sync.WaitGroup
	runs := make([]run, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i], errs[i] = invoke(1500)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Invoke %d: %v", i, err)
		}
	}
	// An environment runs one invocation at a time: handlers that ran at
	// the same time ran in two.
	if runs[0].Start >= runs[1].End || runs[1].Start >= runs[0].End {
		t.Fatalf("the concurrent invocations ran one after the other (%+v); want them in two environments at once", runs)
	}
	two := diskUsage(t, images)
	t.Logf("images directory: %d bytes with one environment, %d with two", one, two)
	if two-one >= 1<<20 {
		t.Errorf("the images directory grew by %d bytes when a second environment started; want under 1 MB (nothing copied)", two-one)
	}
}
