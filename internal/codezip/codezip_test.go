package codezip

import (
	"archive/zip"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

type entry struct {
	name, body string
	mode       fs.FileMode
}

func makeZip(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		h.SetMode(e.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e.body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func extractBytes(t *testing.T, b []byte, limit int64) (string, int64, error) {
	t.Helper()
	dir := t.TempDir()
	n, err := ExtractReader(bytes.NewReader(b), int64(len(b)), dir, limit)
	return dir, n, err
}

func TestModesKept(t *testing.T) {
	z := makeZip(t,
		entry{"bootstrap", "#!/bin/sh\n", 0o755},
		entry{"lib/", "", fs.ModeDir | 0o755},
		entry{"lib/data.txt", "data", 0o600},
		entry{"link", "lib/data.txt", fs.ModeSymlink | 0o777},
	)
	dir, n, err := extractBytes(t, z, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len("#!/bin/sh\n")+len("data")) {
		t.Errorf("size %d", n)
	}
	st, err := os.Stat(filepath.Join(dir, "bootstrap"))
	if err != nil || st.Mode().Perm()&0o111 != 0o111 {
		t.Errorf("bootstrap mode %v %v", st.Mode(), err)
	}
	st, err = os.Stat(filepath.Join(dir, "lib/data.txt"))
	if err != nil || st.Mode().Perm()&0o444 != 0o444 {
		t.Errorf("data mode %v %v", st.Mode(), err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "link")); err != nil || string(b) != "data" {
		t.Errorf("symlink: %q %v", b, err)
	}
}

func TestEscapesRefused(t *testing.T) {
	for name, z := range map[string][]byte{
		"dot-dot":          makeZip(t, entry{"../evil", "x", 0o644}),
		"nested dot-dot":   makeZip(t, entry{"a/../../evil", "x", 0o644}),
		"absolute":         makeZip(t, entry{"/etc/evil", "x", 0o644}),
		"symlink out":      makeZip(t, entry{"link", "../../etc/passwd", fs.ModeSymlink | 0o777}),
		"absolute symlink": makeZip(t, entry{"link", "/etc/passwd", fs.ModeSymlink | 0o777}),
		"through symlink":  makeZip(t, entry{"d", ".", fs.ModeSymlink | 0o777}, entry{"d", "x", 0o644}),
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := extractBytes(t, z, 0); err == nil {
				t.Error("extracted")
			} else if name != "through symlink" && !errors.Is(err, ErrUnsafe) {
				t.Errorf("err %v, want ErrUnsafe", err)
			}
		})
	}
}

func TestUnpackedLimit(t *testing.T) {
	z := makeZip(t, entry{"a", string(make([]byte, 1000)), 0o644}, entry{"b", string(make([]byte, 1000)), 0o644})
	if _, _, err := extractBytes(t, z, 1500); !errors.Is(err, ErrTooLarge) {
		t.Errorf("err %v, want ErrTooLarge", err)
	}
	if _, _, err := extractBytes(t, z, 2000); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}

func TestCreateRoundTrip(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "bootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(src, "lib", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "lib", "sub", "data.txt"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/data.txt", filepath.Join(src, "lib", "link")); err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(t.TempDir(), "code.zip")
	f, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := Create(src, f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if _, err := Extract(zipPath, dst, 0); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dst, "bootstrap"))
	if err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("bootstrap: %v, %v; want mode 0755", st, err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "lib", "link")); err != nil || string(b) != "data" {
		t.Errorf("lib/link reads %q, %v; want the linked file's data", b, err)
	}
}

func TestExtractRefusesSymlinkChains(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range []entry{
		{"s", ".", fs.ModeSymlink | 0o777},
		{"l", "s/..", fs.ModeSymlink | 0o777},
		{"l/x", "escaped", 0o644},
	} {
		hdr := &zip.FileHeader{Name: e.name}
		hdr.SetMode(e.mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e.body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	dir := filepath.Join(parent, "code")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := ExtractReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), dir, 0)
	if !errors.Is(err, ErrUnsafe) {
		t.Errorf("extract of a symlink chain: %v; want ErrUnsafe", err)
	}
	if _, err := os.Stat(filepath.Join(parent, "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file escaped the extraction directory: %v", err)
	}
}
