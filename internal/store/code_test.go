package store

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCode(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, Options{})

	data := make([]byte, 3<<20+12345) // a few MB, not a multiple of the chunk size
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	want := Code{Digest: hex.EncodeToString(sum[:]), Sha256: base64.StdEncoding.EncodeToString(sum[:]), Size: int64(len(data))}

	c, err := s.PutCode(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if c != want {
		t.Fatalf("PutCode: %+v, want %+v", c, want)
	}
	again, err := s.PutCode(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if again != want {
		t.Fatalf("second PutCode: %+v, want %+v", again, want)
	}
	small, err := s.PutCode(ctx, bytes.NewReader([]byte("PK small")))
	if err != nil {
		t.Fatal(err)
	}
	objects, size, err := s.CodeUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if objects != 2 || size != want.Size+small.Size {
		t.Fatalf("CodeUsage: %d objects, %d bytes; want 2, %d", objects, size, want.Size+small.Size)
	}

	path := filepath.Join(t.TempDir(), "code.zip")
	if err := s.CodeFile(ctx, c.Digest, path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if gotSum := sha256.Sum256(got); gotSum != sum || len(got) != len(data) {
		t.Fatalf("CodeFile wrote %d bytes with SHA-256 %x, want %d with %x", len(got), gotSum, len(data), sum)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("CodeFile left %d files in the directory", len(entries))
	}

	if err := s.DeleteCode(ctx, c.Digest); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCode(ctx, c.Digest); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second DeleteCode: %v, want ErrNotFound", err)
	}
	if err := s.CodeFile(ctx, c.Digest, path+".2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CodeFile after delete: %v, want ErrNotFound", err)
	}
	if err := s.CodeFile(ctx, "not-a-digest", path+".3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CodeFile of a bad digest: %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(path + ".2"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CodeFile of a missing object left a file: %v", err)
	}
	objects, size, err = s.CodeUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if objects != 1 || size != small.Size {
		t.Fatalf("CodeUsage after delete: %d objects, %d bytes; want 1, %d", objects, size, small.Size)
	}
	// Deleted code can be stored again.
	if _, err := s.PutCode(ctx, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := s.CodeFile(ctx, c.Digest, path); err != nil {
		t.Fatalf("CodeFile after storing again: %v", err)
	}
}

func TestCodeLimit(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, Options{MaxCodeBytes: 1 << 20})
	big := make([]byte, 2<<20)
	if _, err := s.PutCode(ctx, bytes.NewReader(big)); !errors.Is(err, ErrFull) {
		t.Fatalf("PutCode past MaxCodeBytes: %v, want ErrFull", err)
	}
	if objects, _, err := s.CodeUsage(ctx); err != nil || objects != 0 {
		t.Fatalf("CodeUsage after a refused put: %d, %v", objects, err)
	}
	if _, err := s.PutCode(ctx, bytes.NewReader(big[:1000])); err != nil {
		t.Fatalf("PutCode under the limit after a refused one: %v", err)
	}
}
