package image

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/emberfn/ember/internal/image/imagetest"
)

func openStore(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "images"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// layerCount counts the layers stored.
func layerCount(t *testing.T, s *Store) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.Dir(), "layers", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// tmpCount counts the work directories left.
func tmpCount(t *testing.T, s *Store) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.Dir(), "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func diffIDs(t *testing.T, img v1.Image) []string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		h, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.String())
	}
	return out
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

var helloConfig = v1.Config{
	Entrypoint: []string{"/lambda-entrypoint.sh"},
	Cmd:        []string{"app.handler"},
	WorkingDir: "/var/task",
	Env:        []string{"PATH=/usr/bin:/bin", "LAMBDA_TASK_ROOT=/var/task"},
	User:       "sbx",
}

func helloImage(t *testing.T, arch string) v1.Image {
	return imagetest.Image(t, helloConfig, arch,
		imagetest.Layer(t, imagetest.Dir("etc/", 0o755), imagetest.File{Name: "etc/os-release", Body: "ID=test\n"}),
		imagetest.Layer(t, imagetest.File{Name: "var/task/app.py", Body: "def handler(e, c): return e\n"}),
	)
}

func TestLoadTarball(t *testing.T) {
	s := openStore(t, Options{})
	src := helloImage(t, "x86_64")
	imgs, err := s.Load(context.Background(), imagetest.WriteTarball(t, src, "hello:latest"), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 {
		t.Fatalf("loaded %d images, want 1", len(imgs))
	}
	img := imgs[0]
	if want := digestOf(t, src); img.Digest != want {
		t.Errorf("digest %s, want %s", img.Digest, want)
	}
	if !slices.Equal(img.References, []string{"docker.io/library/hello:latest"}) {
		t.Errorf("references %q", img.References)
	}
	if img.Architecture != "x86_64" {
		t.Errorf("architecture %q", img.Architecture)
	}
	want := Config{Entrypoint: helloConfig.Entrypoint, Cmd: helloConfig.Cmd, WorkingDir: "/var/task", Env: helloConfig.Env, User: "sbx"}
	if !slices.Equal(img.Config.Entrypoint, want.Entrypoint) || !slices.Equal(img.Config.Cmd, want.Cmd) ||
		!slices.Equal(img.Config.Env, want.Env) || img.Config.WorkingDir != want.WorkingDir || img.Config.User != want.User {
		t.Errorf("config %+v, want %+v", img.Config, want)
	}
	if !slices.Equal(img.Layers, diffIDs(t, src)) {
		t.Errorf("layers %q, want %q", img.Layers, diffIDs(t, src))
	}
	if wantSize := int64(len("ID=test\n") + len("def handler(e, c): return e\n")); img.Size != wantSize {
		t.Errorf("size %d, want %d", img.Size, wantSize)
	}
	if img.Loaded.IsZero() {
		t.Error("no load time")
	}

	dirs, err := s.LayerDirs(img)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 2 {
		t.Fatalf("layer dirs %q", dirs)
	}
	// Topmost first: the app layer, then the base.
	if b, err := os.ReadFile(filepath.Join(dirs[0], "var/task/app.py")); err != nil || string(b) != "def handler(e, c): return e\n" {
		t.Errorf("top layer app.py: %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dirs[1], "etc/os-release")); err != nil || string(b) != "ID=test\n" {
		t.Errorf("base layer os-release: %q, %v", b, err)
	}

	for _, ref := range []string{"hello", "hello:latest", "docker.io/library/hello:latest", "index.docker.io/library/hello", img.Digest} {
		got, err := s.Resolve(ref, "")
		if err != nil {
			t.Errorf("resolve %s: %v", ref, err)
			continue
		}
		if got.Digest != img.Digest {
			t.Errorf("resolve %s: %s, want %s", ref, got.Digest, img.Digest)
		}
	}
	if _, err := s.Resolve("hello", "arm64"); !errors.Is(err, ErrNotFound) {
		t.Errorf("resolve hello for arm64: %v, want ErrNotFound", err)
	}
	if _, err := s.Resolve("hello:v2", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("resolve hello:v2: %v, want ErrNotFound", err)
	}
	if got, err := s.Get(img.Digest); err != nil || got.Digest != img.Digest {
		t.Errorf("get: %+v, %v", got, err)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].Digest != img.Digest {
		t.Errorf("list: %+v, %v", list, err)
	}
	if n := tmpCount(t, s); n != 0 {
		t.Errorf("%d work directories left", n)
	}

	// A second store on the same directory sees the image.
	s2, err := Open(s.Dir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Resolve("hello", "x86_64"); err != nil || got.Digest != img.Digest {
		t.Errorf("second store: %+v, %v", got, err)
	}
}

func TestLoadWrongPlatform(t *testing.T) {
	s := openStore(t, Options{})
	path := imagetest.WriteTarball(t, helloImage(t, "arm64"), "hello:arm")
	_, err := s.Load(context.Background(), path, "x86_64")
	if err == nil {
		t.Fatal("an arm64 image loaded for x86_64")
	}
	t.Log(err)
	s390 := imagetest.Image(t, v1.Config{}, "s390x", imagetest.Layer(t, imagetest.File{Name: "a", Body: "a"}))
	_, err = s.Load(context.Background(), imagetest.WriteTarball(t, s390, "hello:s390x"), "")
	if err == nil {
		t.Fatal("an s390x image loaded")
	}
	t.Log(err)
	if n := layerCount(t, s); n != 0 {
		t.Errorf("%d layers stored", n)
	}
}

func TestLoadLayout(t *testing.T) {
	s := openStore(t, Options{})
	a := helloImage(t, "x86_64")
	b := imagetest.Image(t, helloConfig, "arm64", imagetest.Layer(t, imagetest.File{Name: "b", Body: "b"}))
	dir := imagetest.WriteLayout(t, map[string]v1.Image{
		"localhost:5000/fn:v1": a,
		"v2":                   b, // a bare tag: no reference
	})
	imgs, err := s.Load(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 {
		t.Fatalf("loaded %d images, want 2", len(imgs))
	}
	got, err := s.Resolve("localhost:5000/fn:v1", "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != digestOf(t, a) || !slices.Equal(got.References, []string{"localhost:5000/fn:v1"}) {
		t.Errorf("resolved %s %q", got.Digest, got.References)
	}
	bImg, err := s.Get(digestOf(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if len(bImg.References) != 0 || bImg.Architecture != "arm64" {
		t.Errorf("bare-tag image: references %q, architecture %s", bImg.References, bImg.Architecture)
	}
	if err := s.Tag(bImg.Digest, "localhost:5000/fn:v2"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Resolve("localhost:5000/fn:v2", ""); err != nil || got.Digest != bImg.Digest {
		t.Errorf("tagged: %+v, %v", got, err)
	}
}

func TestLoadLayoutIndex(t *testing.T) {
	amd := helloImage(t, "x86_64")
	arm := imagetest.Image(t, helloConfig, "arm64",
		imagetest.Layer(t, imagetest.File{Name: "arch", Body: "arm64"}))
	idx := imagetest.Index(t, amd, arm)
	dir := imagetest.WriteLayoutIndex(t, "localhost:5000/fn:v1", idx)

	s := openStore(t, Options{})
	imgs, err := s.Load(context.Background(), dir, "arm64")
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Digest != digestOf(t, arm) || imgs[0].Architecture != "arm64" {
		t.Fatalf("loaded %+v, want the arm64 image only", imgs)
	}
	if n := layerCount(t, s); n != 1 {
		t.Errorf("%d layers stored, want the arm64 image's 1", n)
	}
	// By the index digest too.
	if got, err := s.Resolve(digestOf(t, idx), ""); err != nil || got.Digest != digestOf(t, arm) {
		t.Errorf("resolve by index digest: %+v, %v", got, err)
	}

	imgs, err = s.Load(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 {
		t.Fatalf("loaded %d images, want both", len(imgs))
	}
	got, err := s.Resolve("localhost:5000/fn:v1", "")
	if err != nil || got.Architecture != "x86_64" {
		t.Errorf("resolve for any architecture: %+v, %v; want x86_64", got, err)
	}
	got, err = s.Resolve("localhost:5000/fn:v1", "arm64")
	if err != nil || got.Digest != digestOf(t, arm) {
		t.Errorf("resolve for arm64: %+v, %v", got, err)
	}
	got, err = s.Resolve("localhost:5000/fn@"+digestOf(t, amd), "")
	if err != nil || got.Digest != digestOf(t, amd) {
		t.Errorf("resolve by repo@digest: %+v, %v", got, err)
	}
}

func TestSharedBaseLayer(t *testing.T) {
	s := openStore(t, Options{})
	base := imagetest.Layer(t, imagetest.File{Name: "usr/lib/libbase.so", Body: "base"})
	one := imagetest.Image(t, helloConfig, "x86_64", base, imagetest.Layer(t, imagetest.File{Name: "one", Body: "1"}))
	two := imagetest.Image(t, helloConfig, "x86_64", base, imagetest.Layer(t, imagetest.File{Name: "two", Body: "22"}))
	if _, err := s.Load(context.Background(), imagetest.WriteTarball(t, one, "fn:one"), ""); err != nil {
		t.Fatal(err)
	}
	if n := layerCount(t, s); n != 2 {
		t.Fatalf("%d layers after the first image, want 2", n)
	}
	if _, err := s.Load(context.Background(), imagetest.WriteTarball(t, two, "fn:two"), ""); err != nil {
		t.Fatal(err)
	}
	if n := layerCount(t, s); n != 3 {
		t.Fatalf("%d layers after the second image, want 3: the base once", n)
	}
	i1, _ := s.Resolve("fn:one", "")
	i2, _ := s.Resolve("fn:two", "")
	d1, err := s.LayerDirs(i1)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := s.LayerDirs(i2)
	if err != nil {
		t.Fatal(err)
	}
	if d1[1] != d2[1] || d1[0] == d2[0] {
		t.Errorf("layer dirs %q and %q: want the same base, different tops", d1, d2)
	}
}

func TestRemove(t *testing.T) {
	s := openStore(t, Options{})
	base := imagetest.Layer(t, imagetest.File{Name: "base", Body: "base"})
	one := imagetest.Image(t, helloConfig, "x86_64", base, imagetest.Layer(t, imagetest.File{Name: "one", Body: "1"}))
	two := imagetest.Image(t, helloConfig, "x86_64", base, imagetest.Layer(t, imagetest.File{Name: "two", Body: "2"}))
	ctx := context.Background()
	if _, err := s.Load(ctx, imagetest.WriteTarball(t, one, "fn:one"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, imagetest.WriteTarball(t, two, "fn:two"), ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(digestOf(t, one), "fn:alias"); err != nil {
		t.Fatal(err)
	}
	oneDigest := digestOf(t, one)
	used := func(d string) bool { return d == oneDigest }

	// Removing one of two references leaves the image.
	if err := s.Remove("fn:alias", used); err != nil {
		t.Fatalf("untag: %v", err)
	}
	if _, err := s.Resolve("fn:alias", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("fn:alias still resolves: %v", err)
	}
	// Removing the last reference of an image in use is refused.
	err := s.Remove("fn:one", used)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("remove in use: %v, want ErrInUse", err)
	}
	t.Log(err)
	if _, err := s.Resolve("fn:one", ""); err != nil {
		t.Errorf("refused removal removed: %v", err)
	}
	if err := s.Remove(oneDigest, used); !errors.Is(err, ErrInUse) {
		t.Errorf("remove in use by digest: %v, want ErrInUse", err)
	}
	// Unused, it goes with its own layer; the shared base stays.
	if err := s.Remove("fn:one", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(oneDigest); !errors.Is(err, ErrNotFound) {
		t.Errorf("removed image: %v", err)
	}
	if n := layerCount(t, s); n != 2 {
		t.Errorf("%d layers, want 2 (base and two's)", n)
	}
	i2, err := s.Resolve("fn:two", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.LayerDirs(i2); err != nil {
		t.Errorf("the other image lost a layer: %v", err)
	}
	// By digest: the image and its layers go.
	if err := s.Remove(i2.Digest, nil); err != nil {
		t.Fatal(err)
	}
	if n := layerCount(t, s); n != 0 {
		t.Errorf("%d layers, want none", n)
	}
	if n := tmpCount(t, s); n != 0 {
		t.Errorf("%d work directories left", n)
	}
	if err := s.Remove("fn:two", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("remove of a gone image: %v, want ErrNotFound", err)
	}
}

func TestPrune(t *testing.T) {
	s := openStore(t, Options{})
	ctx := context.Background()
	old := imagetest.Image(t, helloConfig, "x86_64", imagetest.Layer(t, imagetest.File{Name: "old", Body: "old contents"}))
	older := imagetest.Image(t, helloConfig, "x86_64", imagetest.Layer(t, imagetest.File{Name: "older", Body: "older"}))
	cur := imagetest.Image(t, helloConfig, "x86_64", imagetest.Layer(t, imagetest.File{Name: "new", Body: "new"}))
	for _, img := range []v1.Image{older, old, cur} {
		// The tag moves on each load; the images before become dangling.
		if _, err := s.Load(ctx, imagetest.WriteTarball(t, img, "fn:latest"), ""); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.Get(digestOf(t, old)); len(got.References) != 0 {
		t.Fatalf("old image still has %q", got.References)
	}
	// A leftover of a crashed load.
	if err := os.MkdirAll(filepath.Join(s.Dir(), "tmp", "w-crashed"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir(), "tmp", "w-crashed", "f"), []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	olderDigest := digestOf(t, older)
	rep, err := s.Prune(func(d string) bool { return d == olderDigest })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Images, []string{digestOf(t, old)}) {
		t.Errorf("pruned %q, want the unused dangling image only", rep.Images)
	}
	if want := int64(len("old contents") + 5); rep.Layers != 1 || rep.Bytes != want {
		t.Errorf("pruned %d layers, %d bytes; want 1, %d", rep.Layers, rep.Bytes, want)
	}
	if n := layerCount(t, s); n != 2 {
		t.Errorf("%d layers left, want 2", n)
	}
	if n := tmpCount(t, s); n != 0 {
		t.Errorf("%d work directories left", n)
	}
	if _, err := s.Get(olderDigest); err != nil {
		t.Errorf("in-use dangling image pruned: %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	s := openStore(t, Options{MaxSize: 100})
	ctx := context.Background()
	small := imagetest.Image(t, helloConfig, "x86_64", imagetest.Layer(t, imagetest.File{Name: "a", Body: string(make([]byte, 60))}))
	if _, err := s.Load(ctx, imagetest.WriteTarball(t, small, "fn:small"), ""); err != nil {
		t.Fatal(err)
	}
	big := imagetest.Image(t, helloConfig, "x86_64",
		imagetest.Layer(t, imagetest.File{Name: "a", Body: string(make([]byte, 60))}),
		imagetest.Layer(t, imagetest.File{Name: "b", Body: string(make([]byte, 30))}, imagetest.File{Name: "c", Body: string(make([]byte, 30))}))
	_, err := s.Load(ctx, imagetest.WriteTarball(t, big, "fn:big"), "")
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("load of 120 bytes with a limit of 100: %v, want ErrTooLarge", err)
	}
	t.Log(err)
	if n := layerCount(t, s); n != 1 {
		t.Errorf("%d layers, want the small image's only", n)
	}
	if n := tmpCount(t, s); n != 0 {
		t.Errorf("%d work directories left", n)
	}
	if _, err := s.Resolve("fn:big", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("the large image is held: %v", err)
	}
}

// TestConcurrentStores loads images sharing a base through two stores on
// one directory at once, as a server and a CLI would.
func TestConcurrentStores(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images")
	s1, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := imagetest.Layer(t, imagetest.File{Name: "base", Body: "base"})
	var paths []string
	for i := range 6 {
		img := imagetest.Image(t, helloConfig, "x86_64", base, imagetest.Layer(t, imagetest.File{Name: "n", Body: string(rune('a' + i))}))
		paths = append(paths, imagetest.WriteTarball(t, img, "fn:"+string(rune('a'+i))))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(paths))
	for i, p := range paths {
		for _, s := range []*Store{s1, s2} {
			wg.Go(func() {
				if _, err := s.Load(context.Background(), p, ""); err != nil {
					errs <- err
				}
				if i%2 == 0 {
					if err := s.Remove("fn:"+string(rune('a'+i)), nil); err != nil && !errors.Is(err, ErrNotFound) {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	imgs, err := s1.List()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, img := range imgs {
		if _, err := s1.LayerDirs(img); err != nil {
			t.Errorf("image %s lost a layer: %v", img.Digest, err)
		}
		for _, l := range img.Layers {
			used[l] = true
		}
	}
	if n := layerCount(t, s1); n < len(used) {
		t.Errorf("%d layers for %d used", n, len(used))
	}
}

// TestLoadOCIArchive loads a tarred OCI layout (podman save --format
// oci-archive), which has no docker manifest.json.
func TestLoadOCIArchive(t *testing.T) {
	src := helloImage(t, "arm64")
	dir := imagetest.WriteLayout(t, map[string]v1.Image{"localhost:5000/fn:oci": src})
	archive := filepath.Join(t.TempDir(), "oci.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, Options{})
	imgs, err := s.Load(context.Background(), archive, "arm64")
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Digest != digestOf(t, src) || !slices.Equal(imgs[0].References, []string{"localhost:5000/fn:oci"}) {
		t.Errorf("loaded %+v", imgs)
	}
	if n := tmpCount(t, s); n != 0 {
		t.Errorf("%d work directories left", n)
	}
}
