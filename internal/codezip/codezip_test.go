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
