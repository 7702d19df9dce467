package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/emberfn/ember/internal/client"
	"github.com/emberfn/ember/internal/image"
	"github.com/emberfn/ember/internal/image/imagetest"
	"github.com/emberfn/ember/internal/testenv"
	"github.com/emberfn/ember/internal/testfunc"
)

// functionImage is the test function fn as a container image laid out as
// Lambda's provided base images are, /var/runtime/bootstrap its
// ENTRYPOINT, with extra files besides.
func functionImage(t *testing.T, fn string, extra ...imagetest.File) v1.Image {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join(testfunc.Build(t, fn), "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	files := append([]imagetest.File{
		imagetest.Dir("var/", 0o755), imagetest.Dir("var/runtime/", 0o755), imagetest.Dir("var/task/", 0o755),
		imagetest.File{Name: "var/runtime/bootstrap", Body: string(bin), Mode: 0o755},
	}, extra...)
	return imagetest.Image(t, v1.Config{
		Entrypoint: []string{"/var/runtime/bootstrap"}, Cmd: []string{fn + ".handler"}, WorkingDir: "/var/task",
	}, "x86_64", imagetest.Layer(t, files...))
}

// emberCLIEnv runs an ember client command against the server at url
// with the variables env besides.
func emberCLIEnv(t *testing.T, url string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(emberBinary(t), args...)
	cmd.Env = append([]string{"EMBER_ENDPOINT=" + url, "PATH=/usr/bin:/bin"}, env...)
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

// TestServeImageCLI: images loaded with `ember image load` from a
// docker-save tarball and an OCI layout are listed, run as a function
// deployed with --image, kept while it uses them, then removed and
// pruned, freeing the disk.
func TestServeImageCLI(t *testing.T) {
	testenv.Root(t, "container-image functions run in ember's sandbox")
	dataDir := t.TempDir()
	p := startServe(t, dataDir)
	images := filepath.Join(dataDir, "images")

	echo := functionImage(t, "echo")
	dump := functionImage(t, "envdump")
	tarball := imagetest.WriteTarball(t, echo, "echo:v1")
	layout := imagetest.WriteLayout(t, map[string]v1.Image{"dump:v1": dump})

	out, errOut, code := emberCLI(t, p.url, "image", "load", tarball)
	if code != 0 || !strings.Contains(out, "loaded ") || !strings.Contains(out, "echo:v1") || !strings.Contains(out, "(x86_64)") {
		t.Fatalf("image load of a tarball: exit %d, %q, %s", code, out, errOut)
	}
	out, errOut, code = emberCLI(t, p.url, "image", "load", layout)
	if code != 0 || !strings.Contains(out, "dump:v1") {
		t.Fatalf("image load of an OCI layout: exit %d, %q, %s", code, out, errOut)
	}

	out, _, code = emberCLI(t, p.url, "image", "ls")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "REFERENCE") {
		t.Fatalf("image ls printed %q (exit %d); want a header and two images", out, code)
	}
	for _, want := range []string{"echo:v1", "dump:v1"} {
		if !regexp.MustCompile(regexp.QuoteMeta(want) + `\s+[0-9a-f]{12}\s+x86_64\s+[0-9.]+ MB\s+1\s`).MatchString(out) {
			t.Errorf("image ls has no row for %s with its digest, arch, size and one layer: %q", want, out)
		}
	}
	out, _, code = emberCLI(t, p.url, "image", "ls", "--json")
	var listed []client.Image
	if err := json.Unmarshal([]byte(out), &listed); code != 0 || err != nil || len(listed) != 2 {
		t.Fatalf("image ls --json printed %q (exit %d): %v", out, code, err)
	}
	for _, img := range listed {
		if img.Architecture != "x86_64" || img.Size < 1<<20 || img.Layers != 1 || len(img.References) != 1 || !strings.HasPrefix(img.Digest, "sha256:") {
			t.Errorf("image ls --json: %+v; want x86_64, the size of a function's binary, one layer, one reference", img)
		}
	}

	out, errOut, code = emberCLI(t, p.url, "deploy", "fn", "--image", "echo:v1")
	if code != 0 || !strings.Contains(out, "created fn (image echo:v1") {
		t.Fatalf("deploy --image: exit %d, %q, %s", code, out, errOut)
	}
	out, errOut, code = emberCLI(t, p.url, "invoke", "fn", "--payload", `{"from":"image"}`)
	if code != 0 || strings.TrimSpace(out) != `{"from":"image"}` {
		t.Errorf("invoke of the image function: exit %d, %q, %s", code, out, errOut)
	}

	// The image a function uses stays.
	out, errOut, code = emberCLI(t, p.url, "image", "rm", "echo:v1")
	if code == 0 || !strings.Contains(errOut, "ResourceConflictException") || !strings.Contains(errOut, "used by a function") {
		t.Errorf("image rm of the image in use: exit %d, %q, stderr %q; want a failure naming the conflict", code, out, errOut)
	}
	if _, errOut, code = emberCLI(t, p.url, "rm", "fn"); code != 0 {
		t.Fatalf("rm fn: exit %d, %s", code, errOut)
	}
	before := diskUsage(t, images)
	out, errOut, code = emberCLI(t, p.url, "image", "rm", "echo:v1")
	if code != 0 || strings.TrimSpace(out) != "removed echo:v1" {
		t.Fatalf("image rm once no function uses it: exit %d, %q, %s", code, out, errOut)
	}
	if after := diskUsage(t, images); before-after < 1<<20 {
		t.Errorf("image rm freed %d bytes of the images directory (%d → %d); want the echo function's layer", before-after, before, after)
	}
	if out, _, _ = emberCLI(t, p.url, "image", "ls"); strings.Contains(out, "echo:v1") {
		t.Errorf("image ls after image rm still lists it: %q", out)
	}

	// Loading another image as dump:v1 leaves the first without a
	// reference, which prune removes with its layer.
	other := imagetest.WriteTarball(t, functionImage(t, "echo", imagetest.File{Name: "var/task/note.txt", Body: "other"}), "dump:v1")
	if out, errOut, code = emberCLI(t, p.url, "image", "load", other); code != 0 {
		t.Fatalf("image load: exit %d, %q, %s", code, out, errOut)
	}
	before = diskUsage(t, images)
	out, errOut, code = emberCLI(t, p.url, "image", "prune")
	m := regexp.MustCompile(`^removed 1 images and 1 layers, ([0-9.]+) MB freed\n$`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("image prune: exit %d, %q, %s; want one image and its layer removed", code, out, errOut)
	}
	if mb, _ := strconv.ParseFloat(m[1], 64); mb < 1 {
		t.Errorf("image prune reported %s MB freed; want the envdump function's layer", m[1])
	}
	if after := diskUsage(t, images); before-after < 1<<20 {
		t.Errorf("image prune freed %d bytes of the images directory (%d → %d); want the envdump function's layer", before-after, before, after)
	}
	out, _, _ = emberCLI(t, p.url, "image", "ls", "--json")
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 1 || len(listed[0].References) != 1 || !strings.HasSuffix(listed[0].References[0], "dump:v1") {
		t.Errorf("image ls --json after prune: %q, %v; want only the new dump:v1", out, err)
	}
}

// TestServeImagePullWithDockerCredentials: `ember image pull` takes the
// registry's credentials from the Docker configuration that DOCKER_CONFIG
// names, and without them the registry refuses the pull.
func TestServeImagePullWithDockerCredentials(t *testing.T) {
	testenv.Root(t, "container-image functions run in ember's sandbox")
	p := startServe(t, t.TempDir())
	host := imagetest.Registry(t, "puller", "s3cret")
	ref := host + "/fns/echo:v1"
	imagetest.Push(t, ref, functionImage(t, "echo"), &authn.Basic{Username: "puller", Password: "s3cret"})

	// No credentials: an empty home and no DOCKER_CONFIG.
	home := t.TempDir()
	out, errOut, code := emberCLIEnv(t, p.url, []string{"HOME=" + home}, "image", "pull", ref)
	if code == 0 || !regexp.MustCompile(`(?i)unauthorized|authentication required|401`).MatchString(errOut) {
		t.Errorf("image pull without credentials: exit %d, %q, stderr %q; want an authentication error", code, out, errOut)
	}

	config := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("puller:s3cret"))
	if err := os.WriteFile(filepath.Join(config, "config.json"), []byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = emberCLIEnv(t, p.url, []string{"HOME=" + home, "DOCKER_CONFIG=" + config}, "image", "pull", ref)
	if code != 0 || !strings.HasPrefix(out, "loaded "+ref+" sha256:") || !strings.Contains(out, "(x86_64)") {
		t.Fatalf("image pull with DOCKER_CONFIG: exit %d, %q, %s", code, out, errOut)
	}
	if out, errOut, code = emberCLI(t, p.url, "deploy", "pulled", "--image", ref); code != 0 {
		t.Fatalf("deploy --image of the pulled image: exit %d, %q, %s", code, out, errOut)
	}
	out, errOut, code = emberCLI(t, p.url, "invoke", "pulled", "--payload", `{"pulled":true}`)
	if code != 0 || strings.TrimSpace(out) != `{"pulled":true}` {
		t.Errorf("invoke of the pulled image: exit %d, %q, %s", code, out, errOut)
	}
}

// TestRunImageTarball: `ember run --image` runs a docker-save tarball
// once, the event from standard input, and keeps the image in the data
// directory.
func TestRunImageTarball(t *testing.T) {
	testenv.Root(t, "container-image functions run in ember's sandbox")
	tarball := imagetest.WriteTarball(t, functionImage(t, "echo"), "echo:run")
	dataDir := t.TempDir()
	out, errOut, code := emberRun(t, `{"from":"stdin"}`, "run", "--image", tarball, "--event", "-", "--data-dir", dataDir)
	if code != 0 || strings.TrimSpace(out) != `{"from":"stdin"}` {
		t.Fatalf("run --image: exit %d, %q, stderr %s", code, out, errOut)
	}
	if !reportRE.MatchString(errOut) {
		t.Errorf("run --image printed no REPORT line: %s", errOut)
	}
	if got := diskUsage(t, filepath.Join(dataDir, "images")); got < 1<<20 {
		t.Errorf("the data directory's images hold %d bytes; want the image's layer", got)
	}
	// The image is now held: run it by its reference.
	out, errOut, code = emberRun(t, `{"again":1}`, "run", "--image", "echo:run", "--event", "-", "--data-dir", dataDir)
	if code != 0 || strings.TrimSpace(out) != `{"again":1}` {
		t.Errorf("run --image by reference: exit %d, %q, stderr %s", code, out, errOut)
	}
}
