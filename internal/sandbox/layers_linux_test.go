package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/testenv"
	"golang.org/x/sys/unix"
)

// The contents of a layer entry that makeLayer makes as something other
// than a regular file.
const (
	dirEntry      = "\x00dir"
	whiteout      = "\x00whiteout" // a 0:0 character device
	opaqueDir     = "\x00opaque"   // a directory with trusted.overlay.opaque=y
	linkPrefix    = "\x00link:"    // a symbolic link to what follows
	layerPerm     = 0o755
	layerFileMode = 0o644
)

// makeLayer makes the layer directory dir, as an image's unpacked layer
// is, with entries by path relative to it: regular files by content, or
// the special entries above. Parent directories are made as needed.
func makeLayer(t *testing.T, dir string, entries map[string]string) string {
	t.Helper()
	if err := os.MkdirAll(dir, layerPerm); err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		content := entries[name]
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), layerPerm); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case content == dirEntry:
			err = os.Mkdir(p, layerPerm)
		case content == whiteout:
			err = unix.Mknod(p, unix.S_IFCHR|0o000, 0)
		case content == opaqueDir:
			if err = os.Mkdir(p, layerPerm); err == nil {
				err = unix.Setxattr(p, "trusted.overlay.opaque", []byte("y"), 0)
			}
		case strings.HasPrefix(content, linkPrefix):
			err = os.Symlink(strings.TrimPrefix(content, linkPrefix), p)
		default:
			err = os.WriteFile(p, []byte(content), layerFileMode)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// snapshot describes every entry under dirs: its type, mode, owner, size,
// device number, modification and change times, opacity and contents.
// Reading leaves them as they are but for access times, which it omits.
func snapshot(t *testing.T, dirs ...string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				return err
			}
			desc := fmt.Sprintf("mode %o uid %d gid %d size %d rdev %d mtime %d.%d ctime %d.%d opaque %v",
				st.Mode, st.Uid, st.Gid, st.Size, st.Rdev, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec, opaque(p))
			if d.Type().IsRegular() {
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				desc += " content " + string(b)
			}
			got[p] = desc
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// checkUnchanged compares two snapshots.
func checkUnchanged(t *testing.T, before, after map[string]string) {
	t.Helper()
	for p, was := range before {
		if now, ok := after[p]; !ok {
			t.Errorf("%s: gone from the layer", p)
		} else if now != was {
			t.Errorf("%s: changed from %s to %s", p, was, now)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s: new in the layer", p)
		}
	}
}

// checkNoMounts checks that nothing on the host is mounted from or on the
// paths.
func checkNoMounts(t *testing.T, paths ...string) {
	t.Helper()
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(mountinfo)) {
		for _, p := range paths {
			if strings.Contains(line, p) {
				t.Errorf("mounted on the host: %s", line)
			}
		}
	}
}

// imageSpec is testSpec with an image's layers for its root, and /tmp a
// small tmpfs.
func imageSpec(code string, layers []string, checks ...string) Spec {
	spec := testSpec(code, "", checks...)
	spec.HostRoot = false
	spec.Image = layers
	spec.Tmp = TmpSpec{SizeMB: 16}
	return spec
}

// TestImage checks a root of one layer, started from a pool: its files,
// /etc's files of the spec over its own, binds over its directories, and
// a read-only root.
func TestImage(t *testing.T) {
	code := needSandbox(t)
	image := makeLayer(t, filepath.Join(t.TempDir(), "layer"), map[string]string{
		"proc":           dirEntry,
		"dev":            dirEntry,
		"tmp":            dirEntry,
		"var/task":       dirEntry,
		"var/runtime":    dirEntry,
		"etc/os-release": "ID=image\n",
		"etc/hosts":      "image's hosts\n",
		"opt/layer-file": "image's /opt\n",
	})

	spec := imageSpec(code, []string{image}, "read:/etc/os-release", "read:/etc/hosts", "write:/etc/new",
		"write:/new", "ls:/opt", "exists:/usr", "write:/tmp/new", "ls:/")
	spec.Etc = map[string]string{"hosts": "sandbox's hosts\n"}
	// From a pool, which starts it from nothing.
	pool := NewPool(1, nil)
	defer pool.Close()
	s := startFrom(t, pool, spec)
	if s.userNS {
		t.Error("a sandbox of an image has a user namespace")
	}
	if err := s.Exec(); err != nil {
		t.Fatal(err)
	}
	expect(t, s.results(t), map[string]string{
		"read:/etc/os-release": "ID=image",
		"read:/etc/hosts":      "sandbox's hosts",
		"write:/etc/new":       "EROFS",
		"write:/new":           "EROFS",
		"ls:/opt":              "",
		"exists:/usr":          "no",
		"write:/tmp/new":       "ok",
		"ls:/":                 "dev,etc,opt,proc,tmp,var",
	})
	if b, err := os.ReadFile(filepath.Join(image, "etc/hosts")); err != nil || string(b) != "image's hosts\n" {
		t.Errorf("image's /etc/hosts changed: %q, %v", b, err)
	}
}

// TestImageLayers checks the merged view of two layers, the upper one
// with a whiteout and an opaque directory, and neither with the sandbox's
// mount points; that only /tmp can be written; and that the layers stay
// as they were, with nothing mounted on the host, once the sandbox has
// ended. It does so with the mount API and with the classic option
// string.
func TestImageLayers(t *testing.T) {
	code := needSandbox(t)
	for _, tc := range []struct {
		name    string
		classic bool
	}{{"mount API", false}, {"option string", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// The image's /etc/resolv.conf links to a host file, which
			// writing the spec's resolv.conf must not follow.
			hostFile := filepath.Join(dir, "host-resolv.conf")
			if err := os.WriteFile(hostFile, []byte("host's\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			lower := makeLayer(t, filepath.Join(dir, "lower"), map[string]string{
				"etc/os-release": "ID=lower\n",
				"data/a":         "lower a\n",
				"data/gone":      "gone\n",
				"data/kept":      "kept\n",
				"opaque/old":     "old\n",
				"opaque/sub/x":   "x\n",
			})
			upper := makeLayer(t, filepath.Join(dir, "upper"), map[string]string{
				"data/a":           "upper a\n",
				"data/b":           "b\n",
				"data/gone":        whiteout,
				"opaque":           opaqueDir,
				"opaque/new":       "new\n",
				"etc/resolv.conf":  linkPrefix + hostFile,
				"etc/image-config": "upper's\n",
			})
			layers := []string{upper, lower}
			before := snapshot(t, layers...)

			checks := map[string]string{
				"read:/data/a":           "upper a",
				"read:/data/gone":        "ENOENT",
				"ls:/data":               "a,b,kept",
				"ls:/opaque":             "new",
				"read:/etc/os-release":   "ID=lower",
				"read:/etc/image-config": "upper's",
				"read:/etc/resolv.conf":  "nameserver 127.0.0.1",
				"read:/etc/hosts":        "127.0.0.1\tlocalhost",
				"ls:/var/task":           "probe",
				"ls:/opt":                "",
				"ls:/var/runtime":        "",
				"ls:/":                   "data,dev,etc,opaque,opt,proc,tmp,var",
				"mode:/tmp":              "dtrwxrwxrwx",
				"write:/new":             "EROFS",
				"write:/data/a":          "EROFS",
				"write:/data/new":        "EROFS",
				"write:/opaque/new":      "EROFS",
				"write:/etc/new":         "EROFS",
				"write:/etc/passwd":      "EROFS",
				"write:/etc/os-release":  "EROFS",
				"write:/var/new":         "EROFS",
				"write:/tmp/new":         "ok",
				"write:/dev/shm/new":     "ok",
				"status:CapEff":          "0000000000000000",
				"mount":                  "EPERM",
			}
			spec := imageSpec(code, layers, slices.Sorted(maps.Keys(checks))...)
			spec.noMountAPI = tc.classic
			s := start(t, spec)
			root := s.root
			if err := s.Exec(); err != nil {
				t.Fatal(err)
			}
			expect(t, s.results(t), checks)
			if err := s.Destroy(); err != nil {
				t.Fatal(err)
			}

			checkUnchanged(t, before, snapshot(t, layers...))
			if b, err := os.ReadFile(hostFile); err != nil || string(b) != "host's\n" {
				t.Errorf("host file behind the image's link: %q, %v; want it unchanged", b, err)
			}
			checkNoMounts(t, append(layers, root)...)
			if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("root directory %s: %v, want it removed", root, err)
			}
		})
	}
}

// TestImageManyLayers stacks 40 layers whose paths together are longer
// than a page, more than the classic option string can hold: the mount
// API takes them, and without it Start says why it cannot.
func TestImageManyLayers(t *testing.T) {
	code := needSandbox(t)
	if !kernelAtLeast(6, 8) {
		t.Skip("overlay's lowerdir+ needs Linux 6.8")
	}
	dir := t.TempDir()
	var layers []string
	total := 0
	for i := range 40 {
		// Topmost first: layer 0 is on top.
		p := filepath.Join(dir, fmt.Sprintf("%s-%02d", strings.Repeat("layer", 25), i))
		makeLayer(t, p, map[string]string{
			fmt.Sprintf("layer-%02d", i): "here\n",
			"shared":                     fmt.Sprintf("%d\n", i),
		})
		layers = append(layers, p)
		total += len(p) + 1
	}
	if total <= 4096 {
		t.Fatalf("the layers' paths take %d bytes, want more than 4096", total)
	}
	// The mount API takes characters that the option string separates
	// with.
	odd := makeLayer(t, filepath.Join(dir, `odd:name,with\chars`), map[string]string{"odd": "odd\n"})
	layers = append(layers, odd)
	before := snapshot(t, dir)

	spec := imageSpec(code, layers, "read:/shared", "read:/layer-00", "read:/layer-39", "read:/odd", "write:/new", "write:/tmp/new")
	expect(t, run(t, spec), map[string]string{
		"read:/shared":   "0",
		"read:/layer-00": "here",
		"read:/layer-39": "here",
		"read:/odd":      "odd",
		"write:/new":     "EROFS",
		"write:/tmp/new": "ok",
	})
	checkUnchanged(t, before, snapshot(t, dir))
	checkNoMounts(t, dir)

	classic := imageSpec(code, layers[:40], "hello")
	classic.noMountAPI = true
	if s, err := Start(classic); err == nil {
		s.Destroy()
		t.Error("Start with 40 long layers as an option string worked, want it refused")
	} else if !strings.Contains(err.Error(), "bytes of overlay options") {
		t.Errorf("Start with 40 long layers as an option string: %v, want it to say they are too long", err)
	}
	classic.Image = []string{odd}
	if s, err := Start(classic); err == nil {
		s.Destroy()
		t.Error("Start with a layer path with ':' as an option string worked, want it refused")
	} else if !strings.Contains(err.Error(), "cannot take") {
		t.Errorf("Start with a layer path with ':' as an option string: %v, want it refused", err)
	}
}

// TestLayerFile checks that a file is read from the topmost layer that
// shows it, as the overlay would.
func TestLayerFile(t *testing.T) {
	testenv.Root(t, "whiteouts are character devices, and opaque directories trusted xattrs, which need root")
	dir := t.TempDir()
	base := makeLayer(t, filepath.Join(dir, "base"), map[string]string{"etc/hosts": "base\n"})
	for _, tc := range []struct {
		name string
		top  map[string]string
		want string
	}{
		{"no etc above", map[string]string{"bin/sh": "sh"}, "base\n"},
		{"etc without hosts above", map[string]string{"etc/passwd": "x"}, "base\n"},
		{"hosts above", map[string]string{"etc/hosts": "top\n"}, "top\n"},
		{"hosts whited out", map[string]string{"etc/hosts": whiteout}, ""},
		{"etc whited out", map[string]string{"etc": whiteout}, ""},
		{"etc opaque", map[string]string{"etc": opaqueDir, "etc/passwd": "x"}, ""},
		{"hosts a link", map[string]string{"etc/hosts": linkPrefix + "/etc/hosts"}, ""},
		{"etc a link", map[string]string{"etc": linkPrefix + "/etc"}, ""},
	} {
		top := makeLayer(t, filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")), tc.top)
		got, err := layerFile([]string{top, base}, "etc/hosts")
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if got, err := layerFile([]string{dir}, "etc/hosts"); err != nil || got != nil {
		t.Errorf("no layer with etc/hosts: %q, %v; want nothing", got, err)
	}

	// An outbound sandbox's hosts file starts from the image's.
	top := makeLayer(t, filepath.Join(dir, "top"), map[string]string{"etc/os-release": "ID=top\n"})
	etc, err := etcWithHost(Spec{Image: []string{top, base}}, netip.MustParseAddr("169.254.128.1"))
	if err != nil || !strings.HasPrefix(etc["hosts"], "base\n") || !strings.Contains(etc["hosts"], HostAlias) {
		t.Errorf("hosts of an outbound sandbox of the image: %q, %v; want base's lines, then %s", etc["hosts"], err, HostAlias)
	}
}

// BenchmarkStart measures Start, to a sandbox ready to exec, of a root of
// the host's programs and of an image's layers, and Pool.Start of the
// host's programs from a blank sandbox, which an image cannot have.
func BenchmarkStart(b *testing.B) {
	code := needSandbox(b)
	dir := b.TempDir()
	layers := func(n int) []string {
		var ls []string
		for i := range n {
			p := filepath.Join(dir, fmt.Sprintf("%d-of-%d", i, n))
			for _, d := range []string{"usr/bin", "etc"} {
				if err := os.MkdirAll(filepath.Join(p, d), 0o755); err != nil {
					b.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(p, "etc/os-release"), []byte("ID=bench\n"), 0o644); err != nil {
				b.Fatal(err)
			}
			ls = append(ls, p)
		}
		return ls
	}
	hostRoot := testSpec(code, "", "hello")
	hostRoot.Tmp = TmpSpec{SizeMB: 16}
	noUserNS := hostRoot
	noUserNS.noMountAPI = true
	for _, bc := range []struct {
		name string
		spec Spec
	}{
		{"host root", hostRoot},
		{"host root without user namespace", noUserNS},
		{"image of 1 layer", imageSpec(code, layers(1), "hello")},
		{"image of 10 layers", imageSpec(code, layers(10), "hello")},
		{"image of 40 layers", imageSpec(code, layers(40), "hello")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				s, err := Start(bc.spec)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.Destroy(); err != nil {
					b.Fatal(err)
				}
				if ws, _ := s.Wait(); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					b.Fatalf("sandbox ended with %s, want killed", describe(ws))
				}
				b.StartTimer()
			}
		})
	}
	for _, bc := range []struct {
		name string
		spec Spec
	}{
		{"host root from a pool", hostRoot},
		{"image of 1 layer from a pool", imageSpec(code, layers(1), "hello")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pool := NewPool(1, nil)
			defer pool.Close()
			// The first Start asks the pool for blank sandboxes of its kind.
			s, err := pool.Start(bc.spec)
			if err != nil {
				b.Fatal(err)
			}
			s.Destroy()
			for b.Loop() {
				b.StopTimer()
				waitForBlank(b, pool, kindOf(bc.spec))
				b.StartTimer()
				s, err := pool.Start(bc.spec)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.Destroy(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// waitForBlank waits until pool holds a blank sandbox of kind k.
func waitForBlank(tb testing.TB, pool *Pool, k blankKind) {
	tb.Helper()
	ready := func() bool {
		pool.mu.Lock()
		defer pool.mu.Unlock()
		return len(pool.ready[k]) > 0
	}
	for deadline := time.Now().Add(5 * time.Second); !ready(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("the pool started no blank sandbox of kind %+v within 5 s", k)
		}
	}
}

// An image's sandbox is built from a blank sandbox that the pool started
// without a user namespace, and works as one started from nothing.
func TestImageFromPool(t *testing.T) {
	code := needSandbox(t)
	layer := t.TempDir()
	if err := os.MkdirAll(filepath.Join(layer, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := imageSpec(code, []string{layer}, "hello")
	pool := NewPool(1, nil)
	t.Cleanup(func() { pool.Close() })
	first, err := pool.Start(spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	first.Destroy()
	k := kindOf(spec)
	if k.userNS {
		t.Fatalf("an image's spec asks for blank sandboxes with a user namespace")
	}
	waitForBlank(t, pool, k)
	pool.mu.Lock()
	blank := pool.ready[k][0]
	pool.mu.Unlock()
	if blank.userNS {
		t.Fatal("the pool's blank sandbox for an image has a user namespace")
	}
	s, err := pool.Start(spec)
	if err != nil {
		t.Fatalf("Start from the pool: %v", err)
	}
	defer s.Destroy()
	if s != blank {
		t.Error("the image's sandbox was not built from the pool's blank sandbox")
	}
	if err := s.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if ws, err := s.Wait(); err != nil || !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("the command in the image's sandbox ended with %s, %v", describe(ws), err)
	}
}
