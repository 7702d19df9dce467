package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/emberfn/ember/internal/image/imagetest"
	"github.com/emberfn/ember/internal/testenv"
)

// entry is a raw tar entry: a header and a body.
type entry struct {
	hdr  tar.Header
	body string
}

// rawTar writes the entries as they are, for headers imagetest does not
// make.
func rawTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if e.body != "" {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func reg(name, body string) entry {
	return entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg}, body: body}
}

func symlink(name, target string) entry {
	return entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target}}
}

func hardlink(name, target string) entry {
	return entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target}}
}

// nested makes base/a/b/tree and returns base and the tree: three ".."
// from the tree lead to base, where a write that escapes can be seen.
func nested(t testing.TB) (base, tree string) {
	base = t.TempDir()
	tree = filepath.Join(base, "a", "b", "tree")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	return base, tree
}

// outside returns what exists under base other than the tree and its
// parents.
func outside(t testing.TB, base string) []string {
	var out []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		switch {
		case rel == "." || rel == "a" || rel == filepath.Join("a", "b"):
		case rel == filepath.Join("a", "b", "tree"):
			return filepath.SkipDir
		default:
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func unpack(t testing.TB, tree string, b []byte) error {
	_, err := unpackLayer(context.Background(), bytes.NewReader(b), tree, 1<<30, slog.New(slog.DiscardHandler))
	return err
}

func TestUnpackRefusesEscapes(t *testing.T) {
	unique := fmt.Sprintf("ember-escape-%d", time.Now().UnixNano())
	cases := map[string][]entry{
		"dotdot":                {reg("../"+unique, "x")},
		"dotdot inside":         {reg("x/../../"+unique, "x")},
		"absolute":              {reg("/"+unique, "x")},
		"symlink to root":       {symlink("evil", "/"), reg("evil/"+unique, "x")},
		"symlink up":            {symlink("evil", "../../.."), reg("evil/"+unique, "x")},
		"symlink up, dir":       {symlink("evil", "../../.."), {hdr: tar.Header{Name: "evil/" + unique + "/", Typeflag: tar.TypeDir, Mode: 0o755}}},
		"symlink chain":         {symlink("s1", "s2"), symlink("s2", "../../.."), reg("s1/"+unique, "x")},
		"hard link up":          {hardlink("l", "../../../"+unique)},
		"hard link absolute":    {hardlink("l", "/etc/passwd")},
		"hard link via symlink": {symlink("evil", "/etc"), hardlink("l", "evil/passwd")},
		"whiteout via symlink":  {symlink("evil", "../../.."), reg("evil/.wh."+unique, "")},
		"opaque via symlink":    {symlink("evil", "../../.."), reg("evil/.wh..wh..opq", "")},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			base, tree := nested(t)
			err := unpack(t, tree, rawTar(t, entries...))
			if err == nil {
				t.Fatal("unpacked")
			}
			if !strings.Contains(err.Error(), "layer entry") {
				t.Errorf("error %q does not name the entry", err)
			}
			t.Log(err)
			if out := outside(t, base); len(out) > 0 {
				t.Errorf("written outside the tree: %q", out)
			}
			if _, err := os.Lstat("/" + unique); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("/%s: %v", unique, err)
			}
			if _, err := os.Lstat(filepath.Join("/etc", "l")); err == nil {
				t.Error("/etc/l exists")
			}
		})
	}
}

func TestLoadRefusesEscape(t *testing.T) {
	s := openStore(t, Options{})
	img := imagetest.Image(t, v1.Config{}, "x86_64",
		imagetest.Layer(t, imagetest.File{Name: "ok", Body: "ok"}),
		imagetest.Layer(t, imagetest.Symlink("evil", "../../../../.."), imagetest.File{Name: "evil/escaped", Body: "x"}))
	_, err := s.Load(context.Background(), imagetest.WriteTarball(t, img, "evil:latest"), "")
	if err == nil {
		t.Fatal("loaded")
	}
	t.Log(err)
	if _, err := s.Resolve("evil", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("the image is held: %v", err)
	}
	if n := tmpCount(t, s); n != 0 {
		t.Errorf("%d work directories left", n)
	}
	if n := layerCount(t, s); n != 0 {
		t.Errorf("%d layers stored", n)
	}
}

// TestUnpackInTreeSymlinks follows symbolic links that stay in the tree,
// as docker does.
func TestUnpackInTreeSymlinks(t *testing.T) {
	base, tree := nested(t)
	err := unpack(t, tree, rawTar(t,
		entry{hdr: tar.Header{Name: "usr/lib/", Typeflag: tar.TypeDir, Mode: 0o755}},
		symlink("lib", "usr/lib"),
		reg("lib/libc.so", "libc"),
	))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(tree, "usr/lib/libc.so")); err != nil || string(b) != "libc" {
		t.Errorf("usr/lib/libc.so: %q, %v", b, err)
	}
	if out := outside(t, base); len(out) > 0 {
		t.Errorf("written outside the tree: %q", out)
	}
}

func TestUnpackMetadata(t *testing.T) {
	testenv.Root(t, "ownership and setuid bits are kept only by root")
	dirTime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	fileTime := time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC)
	linkTime := time.Date(2019, 11, 12, 13, 14, 15, 0, time.UTC)
	_, tree := nested(t)
	err := unpack(t, tree, rawTar(t,
		entry{hdr: tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 2000, ModTime: dirTime}},
		entry{hdr: tar.Header{Name: "bin/tool", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 1000, Gid: 2000, ModTime: fileTime}, body: "#!/bin/sh\n"},
		entry{hdr: tar.Header{Name: "bin/shared", Typeflag: tar.TypeDir, Mode: 0o3777, ModTime: dirTime}},
		hardlink("bin/tool2", "bin/tool"),
		entry{hdr: tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "tool", Uid: 3, Gid: 4, ModTime: linkTime}},
		entry{hdr: tar.Header{Name: "ro", Typeflag: tar.TypeReg, Mode: 0o444, ModTime: fileTime}, body: "r"},
		entry{hdr: tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}},
		entry{hdr: tar.Header{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o640, ModTime: fileTime}},
		entry{hdr: tar.Header{Name: "cap", Typeflag: tar.TypeReg, Mode: 0o755, ModTime: fileTime, PAXRecords: map[string]string{"SCHILY.xattr.user.note": "kept"}}, body: "c"},
	))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, mode fs.FileMode, uid, gid uint32, mtime time.Time) *syscall.Stat_t {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(tree, name))
		if err != nil {
			t.Error(err)
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), mode)
		}
		if st.Uid != uid || st.Gid != gid {
			t.Errorf("%s: owner %d:%d, want %d:%d", name, st.Uid, st.Gid, uid, gid)
		}
		if !fi.ModTime().Equal(mtime) {
			t.Errorf("%s: mtime %v, want %v", name, fi.ModTime(), mtime)
		}
		return st
	}
	check("bin", fs.ModeDir|0o750, 1000, 2000, dirTime)
	check("bin/shared", fs.ModeDir|fs.ModeSetgid|fs.ModeSticky|0o777, 0, 0, dirTime)
	tool := check("bin/tool", fs.ModeSetuid|0o755, 1000, 2000, fileTime)
	tool2 := check("bin/tool2", fs.ModeSetuid|0o755, 1000, 2000, fileTime)
	if tool != nil && tool2 != nil && tool.Ino != tool2.Ino {
		t.Error("bin/tool2 is not a hard link of bin/tool")
	}
	check("bin/sh", fs.ModeSymlink|0o777, 3, 4, linkTime)
	if target, err := os.Readlink(filepath.Join(tree, "bin/sh")); err != nil || target != "tool" {
		t.Errorf("bin/sh -> %q, %v", target, err)
	}
	check("ro", 0o444, 0, 0, fileTime)
	check("fifo", fs.ModeNamedPipe|0o640, 0, 0, fileTime)
	if _, err := os.Lstat(filepath.Join(tree, "dev/null")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a device node was made: %v", err)
	}
	buf := make([]byte, 16)
	if n, err := unix.Getxattr(filepath.Join(tree, "cap"), "user.note", buf); err != nil || string(buf[:n]) != "kept" {
		t.Errorf("xattr user.note: %q, %v", buf[:n], err)
	}
}

func TestWhiteouts(t *testing.T) {
	testenv.Root(t, "the opaque xattr trusted.overlay.opaque needs root")
	s := openStore(t, Options{})
	img := imagetest.Image(t, v1.Config{}, "x86_64",
		imagetest.Layer(t,
			imagetest.File{Name: "a/f", Body: "f"}, imagetest.File{Name: "a/g", Body: "g"},
			imagetest.File{Name: "d/x", Body: "x"}, imagetest.File{Name: "d/sub/y", Body: "y"},
			imagetest.File{Name: "o", Body: "o"}),
		imagetest.Layer(t,
			imagetest.Whiteout("a/f"), imagetest.Opaque("d"), imagetest.File{Name: "d/z", Body: "z"},
			imagetest.File{Name: "o", Typeflag: tar.TypeChar}), // a whiteout in overlay format already
	)
	imgs, err := s.Load(context.Background(), imagetest.WriteTarball(t, img, "wh:latest"), "")
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := s.LayerDirs(imgs[0])
	if err != nil {
		t.Fatal(err)
	}
	top := dirs[0]
	for _, name := range []string{"a/f", "o"} {
		fi, err := os.Lstat(filepath.Join(top, name))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&fs.ModeCharDevice == 0 || st.Rdev != 0 {
			t.Errorf("%s: mode %v rdev %d, want a character device 0:0", name, fi.Mode(), st.Rdev)
		}
	}
	for _, name := range []string{"a/.wh.f", "a/g", "d/.wh..wh..opq", "d/x"} {
		if _, err := os.Lstat(filepath.Join(top, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s in the top layer: %v", name, err)
		}
	}
	buf := make([]byte, 4)
	n, err := unix.Lgetxattr(filepath.Join(top, "d"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("d: trusted.overlay.opaque %q, %v; want y", buf[:n], err)
	}
	if n, err := unix.Lgetxattr(filepath.Join(top, "a"), "trusted.overlay.opaque", buf); err == nil {
		t.Errorf("a: trusted.overlay.opaque %q, want none", buf[:n])
	}

	// Mounted as overlayfs, the layers show what the image holds.
	mnt := t.TempDir()
	if err := unix.Mount("overlay", mnt, "overlay", unix.MS_RDONLY, "lowerdir="+strings.Join(dirs, ":")); err != nil {
		t.Skipf("overlayfs not mountable here: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Error(err)
		}
	})
	var seen []string
	filepath.WalkDir(mnt, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(mnt, p)
			seen = append(seen, rel)
		}
		return nil
	})
	if want := []string{"a/g", "d/z"}; !slices.Equal(seen, want) {
		t.Errorf("overlay shows %q, want %q", seen, want)
	}
}

// FuzzUnpackLayer feeds arbitrary bytes to the layer unpacker: it may fail,
// but never panic nor write outside the tree.
func FuzzUnpackLayer(f *testing.F) {
	f.Add(rawTar(f, reg("a", "a"), symlink("b", "a"), hardlink("c", "a")))
	f.Add(rawTar(f, symlink("evil", "../../.."), reg("evil/x", "x")))
	f.Add(rawTar(f, symlink("evil", "/"), reg("evil/x", "x")))
	f.Add(rawTar(f, reg("../x", "x")))
	f.Add(rawTar(f, reg("/x", "x")))
	f.Add(rawTar(f, reg("d/.wh.x", ""), reg("d/.wh..wh..opq", ""), reg(".wh..", "")))
	f.Add(rawTar(f, entry{hdr: tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o500}}, reg("d/x", "x")))
	f.Add(rawTar(f, reg("x", "x"), entry{hdr: tar.Header{Name: "x/", Typeflag: tar.TypeDir}}, symlink("x", ".."), reg("x/y", "")))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		base, tree := nested(t)
		_, _ = unpackLayer(context.Background(), bytes.NewReader(data), tree, 1<<20, slog.New(slog.DiscardHandler))
		if out := outside(t, base); len(out) > 0 {
			t.Fatalf("written outside the tree: %q", out)
		}
		if err := removeTree(base); err != nil {
			t.Fatal(err)
		}
	})
}
