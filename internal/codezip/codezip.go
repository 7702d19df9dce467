// Package codezip owns the unpacking of function code packages: a zip is
// extracted into a directory with file modes kept (an executable bootstrap
// stays executable) and with path-traversal and symlink escapes refused.
package codezip

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrUnsafe is returned for an archive entry that would land outside the
// destination directory.
var ErrUnsafe = errors.New("unsafe path in zip")

// Extract unpacks the zip file at src into dir, which must exist. It
// returns the total unpacked size in bytes. maxUnpacked, when positive,
// bounds that size.
func Extract(src, dir string, maxUnpacked int64) (int64, error) {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return 0, fmt.Errorf("open zip %s: %w", src, err)
	}
	defer zr.Close()
	return extract(&zr.Reader, dir, maxUnpacked)
}

// ExtractReader is Extract for a zip held in memory or any io.ReaderAt.
func ExtractReader(r io.ReaderAt, size int64, dir string, maxUnpacked int64) (int64, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return 0, fmt.Errorf("read zip: %w", err)
	}
	return extract(zr, dir, maxUnpacked)
}

func extract(zr *zip.Reader, dir string, maxUnpacked int64) (int64, error) {
	var total int64
	for _, f := range zr.File {
		name, err := safeName(f.Name)
		if err != nil {
			return total, err
		}
		if name == "" {
			continue
		}
		dst := filepath.Join(dir, name)
		if err := noLinkOnPath(dir, name); err != nil {
			return total, fmt.Errorf("extract %s: %w", f.Name, err)
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return total, fmt.Errorf("extract %s: %w", f.Name, err)
			}
		case mode&fs.ModeSymlink != 0:
			if err := extractSymlink(f, dir, dst); err != nil {
				return total, err
			}
		default:
			if mode&fs.ModeType != 0 {
				return total, fmt.Errorf("extract %s: %w: not a regular file", f.Name, ErrUnsafe)
			}
			n, err := extractFile(f, dst, mode.Perm(), maxUnpacked-total, maxUnpacked > 0)
			total += n
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// noLinkOnPath refuses a name under dir that passes through, or is, a
// symbolic link the archive made earlier: a chain of links that are each
// harmless on their own (s -> ".", l -> "s/..") can otherwise lead a later
// entry (l/x) out of dir.
func noLinkOnPath(dir, name string) error {
	path := dir
	for _, part := range strings.Split(name, string(filepath.Separator)) {
		path = filepath.Join(path, part)
		st, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%w: %s passes through a symbolic link", ErrUnsafe, name)
		}
	}
	return nil
}

// ErrTooLarge is returned when the unpacked size passes the limit.
var ErrTooLarge = errors.New("unzipped size exceeds the limit")

func extractFile(f *zip.File, dst string, perm fs.FileMode, room int64, bounded bool) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, fmt.Errorf("extract %s: %w", f.Name, err)
	}
	if perm == 0 {
		perm = 0o644
	}
	// Lambda keeps the owner's bits and makes everything readable.
	perm |= 0o444
	if perm&0o100 != 0 {
		perm |= 0o111
	}
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("extract %s: %w", f.Name, err)
	}
	defer rc.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_EXCL, perm)
	if err != nil {
		return 0, fmt.Errorf("extract %s: %w", f.Name, err)
	}
	var src io.Reader = rc
	if bounded {
		src = io.LimitReader(rc, room+1)
	}
	n, err := io.Copy(out, src)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("extract %s: %w", f.Name, err)
	}
	if bounded && n > room {
		return n, ErrTooLarge
	}
	return n, nil
}

// extractSymlink creates a symlink whose target stays inside dir.
func extractSymlink(f *zip.File, dir, dst string) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("extract %s: %w", f.Name, err)
	}
	target, err := io.ReadAll(io.LimitReader(rc, 4096))
	rc.Close()
	if err != nil {
		return fmt.Errorf("extract %s: %w", f.Name, err)
	}
	t := string(target)
	resolved := t
	if !filepath.IsAbs(t) {
		resolved = filepath.Join(filepath.Dir(dst), t)
	}
	rel, err := filepath.Rel(dir, resolved)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(t) {
		return fmt.Errorf("extract %s: %w: symlink to %s leaves the package", f.Name, ErrUnsafe, t)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("extract %s: %w", f.Name, err)
	}
	if err := os.Symlink(t, dst); err != nil {
		return fmt.Errorf("extract %s: %w", f.Name, err)
	}
	return nil
}

// safeName cleans an entry name and refuses one that climbs out.
func safeName(name string) (string, error) {
	n := strings.ReplaceAll(name, "\\", "/")
	if strings.HasPrefix(n, "/") {
		return "", fmt.Errorf("%w: %q is absolute", ErrUnsafe, name)
	}
	clean := filepath.Clean(n)
	if clean == "." {
		return "", nil
	}
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%w: %q leaves the package", ErrUnsafe, name)
	}
	return clean, nil
}
