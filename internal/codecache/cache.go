// Package codecache owns the extracted code packages on disk: each zip is
// checked, extracted once into a directory named by its SHA-256 digest,
// and shared by every environment that runs it.
package codecache

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/emberfn/ember/internal/codezip"
)

// tmpPrefix starts the names of the directories that extractions and
// removals work in; a digest never starts with it.
const tmpPrefix = ".tmp-"

// Cache is a directory of extracted code packages, each named by the hex
// SHA-256 digest of its zip. It is safe for concurrent use; the directory
// belongs to one Cache at a time.
type Cache struct {
	dir string

	mu sync.Mutex
	// inflight holds the extractions under way, by digest.
	inflight map[string]*extraction
}

// extraction is one digest's extraction; err is set before done closes.
type extraction struct {
	done chan struct{}
	err  error
}

// errAbandoned is what the callers waiting for an extraction get when the
// one doing it stopped without a result.
var errAbandoned = errors.New("extraction abandoned")

// New returns the Cache kept in dir, creating dir. It removes what
// extractions that a crash interrupted left there.
func New(dir string) (*Cache, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("code cache %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("code cache: %w", err)
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("code cache: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			if err := os.RemoveAll(filepath.Join(abs, e.Name())); err != nil {
				return nil, fmt.Errorf("code cache: remove leftover: %w", err)
			}
		}
	}
	return &Cache{dir: abs, inflight: make(map[string]*extraction)}, nil
}

// Dir returns the directory holding the zip whose SHA-256 is digest (64
// lowercase hex digits) extracted. On first use it calls fetch to write
// the zip to zipPath, a file in the cache that does not exist yet, checks
// that the zip has that digest and is safe (see Check), and extracts it.
// maxUnpacked, when positive, bounds the unzipped size; past it the error
// wraps ErrTooLarge. A tree is extracted under the bound of the call that
// extracts it, and later calls get it as it is.
//
// Concurrent calls for one digest extract it once; the others wait for
// it, or for their ctx. The tree is extracted into a temporary directory
// and renamed into place, so the digest's name never holds a partial tree.
// Nothing is cached on failure: the next call tries again.
func (c *Cache) Dir(ctx context.Context, digest string, maxUnpacked int64, fetch func(ctx context.Context, zipPath string) error) (string, error) {
	if err := checkDigest(digest); err != nil {
		return "", err
	}
	final := filepath.Join(c.dir, digest)
	for {
		if ok, err := isTree(final); err != nil || ok {
			return treeResult(final, err)
		}
		c.mu.Lock()
		x := c.inflight[digest]
		if x == nil {
			// Look again under the lock: an extraction may have ended
			// since.
			if ok, err := isTree(final); err != nil || ok {
				c.mu.Unlock()
				return treeResult(final, err)
			}
			x = &extraction{done: make(chan struct{}), err: errAbandoned}
			c.inflight[digest] = x
			c.mu.Unlock()
			return c.lead(ctx, x, digest, final, maxUnpacked, fetch)
		}
		c.mu.Unlock()
		select {
		case <-x.done:
		case <-ctx.Done():
			return "", fmt.Errorf("code %s: %w", digest, context.Cause(ctx))
		}
		if x.err == nil {
			return final, nil
		}
		// The extraction stopped for its caller's context, not for the
		// zip; with ours still live, try again.
		if ctx.Err() == nil && (errors.Is(x.err, context.Canceled) || errors.Is(x.err, context.DeadlineExceeded) || errors.Is(x.err, errAbandoned)) {
			continue
		}
		return "", x.err
	}
}

func treeResult(final string, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return final, nil
}

// lead performs the extraction x for the callers of Dir.
func (c *Cache) lead(ctx context.Context, x *extraction, digest, final string, maxUnpacked int64, fetch func(context.Context, string) error) (string, error) {
	defer func() {
		c.mu.Lock()
		delete(c.inflight, digest)
		c.mu.Unlock()
		close(x.done)
	}()
	x.err = c.extract(ctx, digest, final, maxUnpacked, fetch)
	if x.err != nil {
		return "", x.err
	}
	return final, nil
}

func (c *Cache) extract(ctx context.Context, digest, final string, maxUnpacked int64, fetch func(context.Context, string) error) error {
	tmp, err := os.MkdirTemp(c.dir, tmpPrefix+digest[:12]+"-")
	if err != nil {
		return fmt.Errorf("code %s: %w", digest, err)
	}
	// The tree has left tmp by then, or must not be kept; what this
	// fails to remove, the next New removes.
	defer os.RemoveAll(tmp)
	zipPath := filepath.Join(tmp, "code.zip")
	if err := fetch(ctx, zipPath); err != nil {
		return fmt.Errorf("fetch code %s: %w", digest, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("code %s: %w", digest, err)
	}
	tree := filepath.Join(tmp, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		return fmt.Errorf("code %s: %w", digest, err)
	}
	if err := unpack(zipPath, digest, tree, maxUnpacked); err != nil {
		return fmt.Errorf("code %s: %w", digest, err)
	}
	if err := os.Rename(tree, final); err != nil {
		// Another process sharing the directory may have put it there.
		if ok, _ := isTree(final); ok {
			return nil
		}
		return fmt.Errorf("code %s: %w", digest, err)
	}
	return nil
}

// unpack checks the zip at zipPath against digest and extracts it into
// tree.
func unpack(zipPath, digest, tree string, maxUnpacked int64) error {
	f, err := os.Open(zipPath)
	if err != nil {
		return fmt.Errorf("open fetched zip: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("read fetched zip: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("fetched zip has digest %s", got)
	}
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidZip, err)
	}
	if _, err := check(zr, maxUnpacked); err != nil {
		return err
	}
	if _, err := codezip.ExtractReader(f, size, tree, maxUnpacked); err != nil {
		switch {
		case errors.Is(err, codezip.ErrTooLarge):
			return fmt.Errorf("%w: more than %d bytes: %w", ErrTooLarge, maxUnpacked, err)
		case errors.Is(err, codezip.ErrUnsafe), errors.Is(err, zip.ErrFormat),
			errors.Is(err, zip.ErrChecksum), errors.Is(err, zip.ErrAlgorithm):
			return fmt.Errorf("%w: %w", ErrInvalidZip, err)
		}
		return err
	}
	return nil
}

// Remove deletes the tree of digest, which nothing may use any more. It
// does nothing when the tree is absent. The tree leaves its name at once,
// so that a crash while deleting it leaves no partial tree under the name.
func (c *Cache) Remove(digest string) error {
	if err := checkDigest(digest); err != nil {
		return err
	}
	trash, err := os.MkdirTemp(c.dir, tmpPrefix+"remove-")
	if err != nil {
		return fmt.Errorf("remove code %s: %w", digest, err)
	}
	err = os.Rename(filepath.Join(c.dir, digest), filepath.Join(trash, digest))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return errors.Join(fmt.Errorf("remove code %s: %w", digest, err), os.RemoveAll(trash))
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove code %s: %w", digest, err)
	}
	return nil
}

// isTree reports whether the extracted tree at p exists.
func isTree(p string) (bool, error) {
	st, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("code cache: %w", err)
	case !st.IsDir():
		return false, fmt.Errorf("code cache: %s is not a directory", p)
	}
	return true, nil
}

// checkDigest refuses a digest that is not 64 lowercase hex digits before
// it names anything on disk.
func checkDigest(d string) error {
	if len(d) != sha256.Size*2 {
		return fmt.Errorf("code digest %q: want %d lowercase hex digits", d, sha256.Size*2)
	}
	for i := range len(d) {
		if c := d[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("code digest %q: want %d lowercase hex digits", d, sha256.Size*2)
		}
	}
	return nil
}
