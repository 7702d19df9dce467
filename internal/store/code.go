package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// codeReadTimeout bounds CodeFile when the caller's context has no deadline
// (the object store would otherwise allow its default API timeout, 5 s, for
// the whole object).
const codeReadTimeout = 10 * time.Minute

// Code identifies a stored zip.
type Code struct {
	Digest string // hex SHA-256
	Sha256 string // base64 SHA-256
	Size   int64
}

// PutCode stores a zip, content-addressed: the same bytes stored twice are
// one object, named by the hex SHA-256 of the bytes. The zip is streamed to
// a temporary file while it is digested, then from there to the store; it is
// never held in memory.
func (s *Store) PutCode(ctx context.Context, r io.Reader) (Code, error) {
	tmp, err := os.CreateTemp(s.tmpDir, "code-*.zip")
	if err != nil {
		return Code{}, fmt.Errorf("put code: %w", err)
	}
	defer s.discard(tmp)

	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err != nil {
		return Code{}, fmt.Errorf("put code: read: %w", err)
	}
	sum := h.Sum(nil)
	c := Code{Digest: hex.EncodeToString(sum), Sha256: base64.StdEncoding.EncodeToString(sum), Size: n}
	objectDigest := "SHA-256=" + base64.URLEncoding.EncodeToString(sum)

	info, err := s.code.GetInfo(ctx, c.Digest)
	switch {
	case err == nil && info.Digest == objectDigest && info.Size == uint64(n):
		return c, nil // already there
	case err != nil && !errors.Is(err, jetstream.ErrObjectNotFound):
		return Code{}, fmt.Errorf("put code %s: %w", c.Digest, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return Code{}, fmt.Errorf("put code %s: %w", c.Digest, err)
	}
	if _, err := s.code.Put(ctx, jetstream.ObjectMeta{Name: c.Digest}, tmp); err != nil {
		// The object store publishes its chunks without waiting and its
		// meta record after them, and learns of a refused chunk only at
		// the end: the meta record may be there, naming chunks that are
		// not. Remove it.
		if derr := s.code.Delete(context.WithoutCancel(ctx), c.Digest); derr != nil && !errors.Is(derr, jetstream.ErrObjectNotFound) {
			s.log.Warn("remove a partly stored code object", "digest", c.Digest, "err", derr)
		}
		if isFull(err) {
			err = fmt.Errorf("%w: %w", ErrFull, err)
		}
		return Code{}, fmt.Errorf("put code %s: %w", c.Digest, err)
	}
	return c, nil
}

// CodeFile writes the object with that hex digest to path, streamed, and
// checks its SHA-256 on the way. The file appears at path complete or not at
// all. It fails with ErrNotFound.
func (s *Store) CodeFile(ctx context.Context, digest, path string) error {
	if !validDigest(digest) {
		return fmt.Errorf("code %q: %w", digest, ErrNotFound)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, codeReadTimeout)
		defer cancel()
	}
	obj, err := s.code.Get(ctx, digest)
	if err != nil {
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			err = ErrNotFound
		}
		return fmt.Errorf("code %s: %w", digest, err)
	}
	defer func() {
		if err := obj.Close(); err != nil {
			s.log.Warn("close code object", "digest", digest, "err", err)
		}
	}()

	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("code %s: %w", digest, err)
	}
	done := false
	defer func() {
		if !done {
			s.discard(tmp)
		}
	}()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), obj); err != nil {
		return fmt.Errorf("code %s: read: %w", digest, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("code %s: read bytes with SHA-256 %s", digest, got)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("code %s: %w", digest, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("code %s: %w", digest, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("code %s: %w", digest, err)
	}
	done = true
	return nil
}

// DeleteCode removes the object with that hex digest, or fails with
// ErrNotFound.
func (s *Store) DeleteCode(ctx context.Context, digest string) error {
	if !validDigest(digest) {
		return fmt.Errorf("delete code %q: %w", digest, ErrNotFound)
	}
	// Delete itself also "deletes" an object that is already deleted.
	if _, err := s.code.GetInfo(ctx, digest); err != nil {
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			err = ErrNotFound
		}
		return fmt.Errorf("delete code %s: %w", digest, err)
	}
	if err := s.code.Delete(ctx, digest); err != nil {
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			err = ErrNotFound
		}
		return fmt.Errorf("delete code %s: %w", digest, err)
	}
	return nil
}

// CodeUsage returns how many objects the code store holds and the sum of
// their sizes.
func (s *Store) CodeUsage(ctx context.Context) (objects int, bytes int64, err error) {
	infos, err := s.code.List(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoObjectsFound) {
			return 0, 0, nil
		}
		return 0, 0, fmt.Errorf("code usage: %w", err)
	}
	for _, info := range infos {
		objects++
		bytes += int64(info.Size)
	}
	return objects, bytes, nil
}

// discard closes and removes a temporary file.
func (s *Store) discard(f *os.File) {
	if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		s.log.Warn("close temporary file", "err", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		s.log.Warn("remove temporary file", "err", err)
	}
}

// validDigest reports whether d is a hex SHA-256 as PutCode writes it.
func validDigest(d string) bool {
	if len(d) != 2*sha256.Size {
		return false
	}
	for i := range len(d) {
		c := d[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
