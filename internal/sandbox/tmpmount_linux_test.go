package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/emberfn/ember/internal/testenv"
)

// tmpTestMB is the size of the /tmp images of these tests: small, so that
// mkfs is quick.
const tmpTestMB = 64

// needImages skips the test where /tmp images cannot be made.
func needImages(t *testing.T) {
	t.Helper()
	if _, err := findMkfs(); err != nil {
		testenv.Missing(t, "no /tmp images here: %v", err)
	}
}

// newImagePool is NewImagePool with one spare, closed when the test ends.
func newImagePool(t *testing.T, dir string) *ImagePool {
	t.Helper()
	p := NewImagePool(dir, 1)
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("ImagePool.Close: %v", err)
		}
	})
	return p
}

// takeSpare has p make a spare of tmpTestMB with its file system mounted
// and Take move it to path. It returns the spare as p holds it then.
func takeSpare(t *testing.T, p *ImagePool, path string) spareImage {
	t.Helper()
	// The first Take of a size asks for spares of it.
	if err := p.Take(filepath.Join(filepath.Dir(path), "asks-for-spares.img"), tmpTestMB); err != nil {
		t.Fatalf("Take: %v", err)
	}
	var spare spareImage
	waitFor(t, "a spare image", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		list := p.ready[tmpTestMB]
		if len(list) == 0 {
			return false
		}
		spare = list[len(list)-1]
		return true
	})
	if spare.mnt == nil {
		t.Skip("the pool's spare has no mount: no mount API here")
	}
	if err := p.Take(path, tmpTestMB); err != nil {
		t.Fatalf("Take: %v", err)
	}
	if _, err := os.Stat(spare.name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("spare %s still there after Take: %v", spare.name, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != tmpTestMB<<20 {
		t.Fatalf("image %s after Take: %v, %v; want %d MB", path, fi, err, tmpTestMB)
	}
	p.mu.Lock()
	taken, ok := p.taken[path]
	p.mu.Unlock()
	if !ok || taken.mnt != spare.mnt || taken.dev != spare.dev {
		t.Fatalf("after Take the pool holds %+v for %s, want the spare's mount %+v", taken, path, spare)
	}
	if got := backingFile(taken.dev); got != realPath(path) {
		t.Errorf("%s holds %q, want the image moved into place, %s", taken.dev, got, realPath(path))
	}
	return taken
}

// poolHolds reports whether p holds a mount for the image at path.
func poolHolds(p *ImagePool, path string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.taken[path]
	return ok
}

// backingFile is the file that the loop device dev holds, or "" when it
// holds none.
func backingFile(dev string) string {
	b, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(dev), "loop", "backing_file"))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// tmpMount is the file system type and source of /tmp in the mount
// namespace of process pid, as "TYPE SOURCE".
func tmpMount(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		before, after, ok := strings.Cut(line, " - ")
		mount, fsys := strings.Fields(before), strings.Fields(after)
		if ok && len(mount) >= 5 && mount[4] == "/tmp" && len(fsys) >= 2 {
			return fsys[0] + " " + fsys[1]
		}
	}
	t.Fatalf("no /tmp in the mounts of process %d:\n%s", pid, b)
	return ""
}

// TestTmpFromImagePool checks that a sandbox whose image was taken from an
// ImagePool gets /tmp as the pool mounted it, once: the pool no longer
// holds it after the Start, and /tmp is empty, writable and sticky.
func TestTmpFromImagePool(t *testing.T) {
	code := needSandbox(t)
	needImages(t)
	dir := t.TempDir()
	images := newImagePool(t, dir)
	image := filepath.Join(dir, "tmp.img")
	taken := takeSpare(t, images, image)

	spec := testSpec(code, image, "ls:/tmp", "mode:/tmp", "write:/tmp/x", "ls:/tmp/")
	spec.Tmp = TmpSpec{SizeMB: tmpTestMB, Image: image, Images: images}
	s := start(t, spec)
	if poolHolds(images, image) {
		t.Error("the pool still holds the mount of the image after a sandbox took it")
	}
	if s.loopDev != taken.dev {
		t.Errorf("/tmp on %s, want the pool's %s", s.loopDev, taken.dev)
	}
	if got, want := tmpMount(t, s.Pid()), "ext4 "+taken.dev; got != want {
		t.Errorf("/tmp in the sandbox: %s, want %s", got, want)
	}
	if err := s.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	expect(t, s.results(t), map[string]string{
		"ls:/tmp":      "",
		"mode:/tmp":    "dtrwxrwxrwx",
		"write:/tmp/x": "ok",
		"ls:/tmp/":     "x",
	})
	root, loop := s.root, s.loopDev
	if err := s.Destroy(); err != nil {
		t.Fatal(err)
	}
	checkCleanedUp(t, root, image, loop)
}

// TestTmpPersists checks that /tmp lasts in its image across the sandboxes
// given it one after the other, with and without an ImagePool, and that
// nothing stays mounted or attached after each.
func TestTmpPersists(t *testing.T) {
	code := needSandbox(t)
	needImages(t)
	t.Run("image", func(t *testing.T) { checkTmpPersists(t, code, false, false) })
	t.Run("image pool", func(t *testing.T) { checkTmpPersists(t, code, true, false) })
}

// TestTmpWithoutMountAPI checks /tmp as on a kernel without the mount
// API: the init stage is sent the loop device and mounts it itself, and
// /tmp is as on other kernels.
func TestTmpWithoutMountAPI(t *testing.T) {
	code := needSandbox(t)
	needImages(t)
	image := filepath.Join(t.TempDir(), "tmp.img")
	if err := ensureImage(image, tmpTestMB); err != nil {
		t.Fatal(err)
	}
	f, role, dev, err := openTmp(image, false)
	if err != nil {
		t.Fatalf("openTmp: %v", err)
	}
	if role != roleTmpDevice || f.Name() != dev {
		t.Errorf("openTmp gave %s as %s, want the loop device %s as %s", f.Name(), role, dev, roleTmpDevice)
	}
	if got := backingFile(dev); got != realPath(image) {
		t.Errorf("%s holds %q, want %s", dev, got, realPath(image))
	}
	f.Close()
	if err := waitDetached(dev, realPath(image), stepTimeout); err != nil {
		t.Errorf("loop device of an image no sandbox took: %v", err)
	}

	t.Run("image", func(t *testing.T) { checkTmpPersists(t, code, false, true) })
	// The first sandbox takes the pool's mount, the second mounts the
	// device.
	t.Run("image pool", func(t *testing.T) { checkTmpPersists(t, code, true, true) })
}

// checkTmpPersists runs two sandboxes on a new image, one after the other:
// the first finds /tmp empty, writable and sticky and writes a file, the
// second finds it. With pool the image is taken from an ImagePool; with
// noMountAPI the sandboxes mount it as on a kernel without the mount API.
func checkTmpPersists(t *testing.T, code string, pool, noMountAPI bool) {
	dir := t.TempDir()
	image := filepath.Join(dir, "tmp.img")
	var images *ImagePool
	var spare spareImage
	if pool {
		images = newImagePool(t, dir)
		spare = takeSpare(t, images, image)
	}
	tmpSpec := TmpSpec{SizeMB: tmpTestMB, Image: image, Images: images}

	first := testSpec(code, image, "ls:/tmp", "mode:/tmp", "write:/tmp/file")
	first.Tmp = tmpSpec
	first.noMountAPI = noMountAPI
	s := start(t, first)
	if pool && s.loopDev != spare.dev {
		t.Errorf("first sandbox: /tmp on %s, want the pool's %s", s.loopDev, spare.dev)
	}
	if err := s.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	expect(t, s.results(t), map[string]string{
		"ls:/tmp":         "",
		"mode:/tmp":       "dtrwxrwxrwx",
		"write:/tmp/file": "ok",
	})
	root, loop := s.root, s.loopDev
	if err := s.Destroy(); err != nil {
		t.Fatal(err)
	}
	checkCleanedUp(t, root, image, loop)

	second := testSpec(code, image, "exists:/tmp/file", "read:/tmp/file", "ls:/tmp", "mode:/tmp")
	second.Tmp = tmpSpec
	second.noMountAPI = noMountAPI
	s = start(t, second)
	if got := tmpMount(t, s.Pid()); got != "ext4 "+s.loopDev {
		t.Errorf("second sandbox: /tmp is %s, want ext4 on %s", got, s.loopDev)
	}
	if err := s.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	expect(t, s.results(t), map[string]string{
		"exists:/tmp/file": "yes",
		"read:/tmp/file":   "x",
		"ls:/tmp":          "file",
		"mode:/tmp":        "dtrwxrwxrwx",
	})
	root, loop = s.root, s.loopDev
	if err := s.Destroy(); err != nil {
		t.Fatal(err)
	}
	checkCleanedUp(t, root, image, loop)
}

// TestImagePoolCloseReleasesMounts checks that Close lets go of the
// mounts the pool holds, of spares and of images taken that no sandbox
// took: their loop devices detach, and the taken image stays.
func TestImagePoolCloseReleasesMounts(t *testing.T) {
	needSandbox(t)
	needImages(t)
	dir := t.TempDir()
	p := NewImagePool(dir, 1)
	closed := false
	t.Cleanup(func() {
		if !closed {
			p.Close()
		}
	})
	image := filepath.Join(dir, "tmp.img")
	taken := takeSpare(t, p, image)
	// Another spare follows the Take.
	var spare spareImage
	waitFor(t, "the next spare image", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		if list := p.ready[tmpTestMB]; len(list) > 0 {
			spare = list[0]
			return true
		}
		return false
	})
	held := map[string]string{taken.dev: realPath(image)}
	if spare.mnt != nil {
		held[spare.dev] = realPath(spare.name)
	}
	for dev, file := range held {
		if got := backingFile(dev); got != file {
			t.Fatalf("before Close %s holds %q, want %s", dev, got, file)
		}
	}

	closed = true
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for dev, file := range held {
		// A removed spare is still held while its name shows " (deleted)".
		waitFor(t, dev+" to let go of "+file, func() bool {
			return strings.TrimSuffix(backingFile(dev), " (deleted)") != file
		})
	}
	// Kept reachable, the files cannot have been closed by their
	// finalizers instead of Close.
	runtime.KeepAlive(taken.mnt)
	runtime.KeepAlive(spare.mnt)
	if fi, err := os.Stat(image); err != nil || fi.Size() != tmpTestMB<<20 {
		t.Errorf("taken image after Close: %v, %v; want it kept", fi, err)
	}
	if _, err := os.Stat(spare.name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("spare %s after Close: %v, want it removed", spare.name, err)
	}
	if poolHolds(p, image) {
		t.Error("the pool still holds the taken image's mount after Close")
	}
}
