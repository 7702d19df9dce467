package codecache

import (
	"archive/zip"
	"bytes"
	"errors"
	"io/fs"
	"testing"

	"github.com/emberfn/ember/internal/codezip"
)

type entry struct {
	name, body string
	mode       fs.FileMode
}

func makeZip(t testing.TB, entries ...entry) []byte {
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
		if _, err := w.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func link(name, target string) entry { return entry{name, target, fs.ModeSymlink | 0o777} }
func file(name, body string) entry   { return entry{name, body, 0o644} }
func dir(name string) entry          { return entry{name, "", fs.ModeDir | 0o755} }

// escapes are zips each of which would put something outside its tree.
func escapes(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"dot-dot":            makeZip(t, file("../x", "x")),
		"nested dot-dot":     makeZip(t, file("a/../../x", "x")),
		"backslash dot-dot":  makeZip(t, file(`..\x`, "x")),
		"absolute":           makeZip(t, file("/etc/x", "x")),
		"symlink absolute":   makeZip(t, link("passwd", "/etc/passwd")),
		"symlink dot-dot":    makeZip(t, link("passwd", "../../etc/passwd")),
		"nested symlink out": makeZip(t, dir("a/"), link("a/up", "../..")),
		// Each link stays inside on its own; together they climb out: s is
		// the root, so s/.. is its parent.
		"symlink chain":  makeZip(t, link("s", "."), link("l", "s/.."), file("l/x", "x")),
		"chain, no file": makeZip(t, link("s", "."), link("l", "s/../x")),
		"chain in a dir": makeZip(t, dir("a/"), link("a/s", ".."), link("l", "a/s/.."), file("l/x", "x")),
		"symlink loop":   makeZip(t, link("a", "b"), link("b", "a")),
	}
}

func TestCheckRefusesEscapes(t *testing.T) {
	for name, z := range escapes(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := Check(z, 0); !errors.Is(err, ErrInvalidZip) {
				t.Errorf("err %v, want ErrInvalidZip", err)
			} else if name != "symlink loop" && !errors.Is(err, codezip.ErrUnsafe) {
				t.Errorf("err %v, want codezip.ErrUnsafe too", err)
			}
		})
	}
}

func TestCheckAccepts(t *testing.T) {
	z := makeZip(t,
		entry{"bootstrap", "#!/bin/sh\n", 0o755},
		dir("node_modules/"),
		file("node_modules/pkg/bin/cli.js", "cli"),
		link("node_modules/.bin/cli", "../pkg/bin/cli.js"),
		link("lib", "node_modules/pkg"),
		link("cli", "lib/bin/cli.js"),
		file("lib/extra.txt", "through an inside link"),
		link("dangling", "nothing/here"),
		link("self-dir", "."),
	)
	n, err := Check(z, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Symlinks are stored with their targets as contents.
	want := int64(len("#!/bin/sh\n") + len("cli") + len("../pkg/bin/cli.js") + len("node_modules/pkg") +
		len("lib/bin/cli.js") + len("through an inside link") + len("nothing/here") + len("."))
	if n != want {
		t.Errorf("size %d, want %d", n, want)
	}
}

func TestCheckSizes(t *testing.T) {
	zeros := string(make([]byte, 3<<20))
	z := makeZip(t, file("a", zeros), file("b", "0123456789"))
	if len(z) > 1<<20 {
		t.Fatalf("zip of %d bytes; want it well compressed", len(z))
	}
	want := int64(3<<20 + 10)
	for _, limit := range []int64{0, want, 250 << 20} {
		if n, err := Check(z, limit); err != nil || n != want {
			t.Errorf("limit %d: %d, %v; want %d", limit, n, err, want)
		}
	}
	for _, limit := range []int64{want - 1, 1 << 20} {
		if _, err := Check(z, limit); !errors.Is(err, ErrTooLarge) {
			t.Errorf("limit %d: err %v, want ErrTooLarge", limit, err)
		}
	}
}

func TestCheckRefusesNonZips(t *testing.T) {
	z := makeZip(t, file("a", "a"))
	for name, b := range map[string][]byte{
		"empty":     nil,
		"text":      []byte("not a zip at all"),
		"truncated": z[:len(z)-10],
	} {
		if _, err := Check(b, 0); !errors.Is(err, ErrInvalidZip) {
			t.Errorf("%s: err %v, want ErrInvalidZip", name, err)
		}
	}
	fifo := makeZip(t, entry{"fifo", "", fs.ModeNamedPipe | 0o644})
	if _, err := Check(fifo, 0); !errors.Is(err, ErrInvalidZip) {
		t.Errorf("fifo: err %v, want ErrInvalidZip", err)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add(makeZip(f, entry{"bootstrap", "#!/bin/sh\n", 0o755}, link("l", "bootstrap")))
	for _, z := range escapes(f) {
		f.Add(z)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := Check(b, 1<<20)
		if err == nil && (n < 0 || n > 1<<20) {
			t.Errorf("size %d accepted", n)
		}
		if err != nil && !errors.Is(err, ErrInvalidZip) && !errors.Is(err, ErrTooLarge) {
			t.Errorf("err %v wraps neither error", err)
		}
	})
}
