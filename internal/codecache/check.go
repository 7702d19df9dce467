package codecache

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"slices"
	"strings"

	"github.com/emberfn/ember/internal/codezip"
)

// ErrInvalidZip is wrapped by the errors for a code package that is not a
// zip, is damaged, or has an entry that would land outside its tree.
var ErrInvalidZip = errors.New("invalid zip file")

// ErrTooLarge is wrapped by the errors for a code package whose unzipped
// size passes the limit.
var ErrTooLarge = errors.New("unzipped size too large")

// maxLinkTarget is the longest symlink target read from a zip.
const maxLinkTarget = 4096

// maxLinkDepth bounds the symlinks followed to resolve one path, as the
// kernel's does.
const maxLinkDepth = 40

// Check inspects a zip held in memory before it is stored: that it is a
// valid zip; that its entries' uncompressed sizes, as they declare them,
// add up to at most maxUnpacked (when positive); and that no entry lands
// outside the tree it is extracted to, whether by its name (absolute, or
// climbing out with "..") or through a symlink, including a chain of
// symlinks of the zip. It returns the declared unzipped size. Its errors
// wrap ErrInvalidZip or ErrTooLarge.
func Check(b []byte, maxUnpacked int64) (int64, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidZip, err)
	}
	return check(zr, maxUnpacked)
}

func check(zr *zip.Reader, maxUnpacked int64) (int64, error) {
	var total uint64
	limit := uint64(math.MaxInt64)
	if maxUnpacked > 0 {
		limit = uint64(maxUnpacked)
	}
	names := make([]string, len(zr.File))
	links := make(map[string]string)
	for i, f := range zr.File {
		name, err := cleanName(f.Name)
		if err != nil {
			return 0, err
		}
		names[i] = name
		switch mode := f.Mode(); {
		case mode.IsDir(), mode.IsRegular():
		case mode&fs.ModeSymlink != 0:
			target, err := readLink(f)
			if err != nil {
				return 0, err
			}
			if name == "" {
				return 0, fmt.Errorf("%w: symlink %q has no name", ErrInvalidZip, f.Name)
			}
			links[name] = target
		default:
			return 0, fmt.Errorf("%w: %q is not a regular file, directory or symlink", ErrInvalidZip, f.Name)
		}
		total += f.UncompressedSize64
		if total > limit || total < f.UncompressedSize64 {
			return 0, fmt.Errorf("%w: the entries declare more than %d bytes", ErrTooLarge, limit)
		}
	}
	if len(links) > 0 {
		r := resolver{links: links}
		for i, f := range zr.File {
			if err := r.inside(names[i], f.Mode()&fs.ModeSymlink != 0); err != nil {
				return 0, fmt.Errorf("%w: %w: %q: %w", ErrInvalidZip, codezip.ErrUnsafe, f.Name, err)
			}
		}
	}
	return int64(total), nil
}

// cleanName cleans an entry's name as codezip does, and refuses one that
// is absolute or climbs out. The root itself is "".
func cleanName(name string) (string, error) {
	n := strings.ReplaceAll(name, "\\", "/")
	if strings.HasPrefix(n, "/") {
		return "", fmt.Errorf("%w: %w: %q is absolute", ErrInvalidZip, codezip.ErrUnsafe, name)
	}
	clean := path.Clean(n)
	if clean == "." {
		return "", nil
	}
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%w: %w: %q leaves the package", ErrInvalidZip, codezip.ErrUnsafe, name)
	}
	return clean, nil
}

func readLink(f *zip.File) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", fmt.Errorf("%w: symlink %q: %w", ErrInvalidZip, f.Name, err)
	}
	target, err := io.ReadAll(io.LimitReader(rc, maxLinkTarget+1))
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("%w: symlink %q: %w", ErrInvalidZip, f.Name, err)
	}
	if len(target) == 0 || len(target) > maxLinkTarget {
		return "", fmt.Errorf("%w: symlink %q: target of %d bytes", ErrInvalidZip, f.Name, len(target))
	}
	return string(target), nil
}

// resolver follows a zip's symlinks, as the kernel would once the zip is
// extracted, to tell where a path leads.
type resolver struct {
	// links maps each symlink's cleaned name to its target.
	links map[string]string
}

var (
	errEscapes  = errors.New("leads outside the package")
	errTooDeep  = errors.New("too many levels of symlinks")
	errAbsolute = errors.New("symlink to an absolute path")
)

// inside reports an error when the entry named name (cleaned) would land
// outside the tree, or, for a symlink, when its target would.
func (r *resolver) inside(name string, isLink bool) error {
	if name == "" {
		return nil
	}
	if !isLink {
		_, err := r.walk(nil, name, 0)
		return err
	}
	dir, err := r.walk(nil, path.Dir(name), 0)
	if err != nil {
		return err
	}
	_, err = r.walk(dir, r.links[name], 0)
	return err
}

// walk resolves the slash-separated path p from the directory dir (its
// components from the root), following every symlink it meets, and returns
// the components of where p leads.
func (r *resolver) walk(dir []string, p string, depth int) ([]string, error) {
	if strings.HasPrefix(p, "/") {
		return nil, errAbsolute
	}
	cur := slices.Clone(dir)
	for c := range strings.SplitSeq(p, "/") {
		switch c {
		case "", ".":
		case "..":
			if len(cur) == 0 {
				return nil, errEscapes
			}
			cur = cur[:len(cur)-1]
		default:
			cur = append(cur, c)
			target, ok := r.links[strings.Join(cur, "/")]
			if !ok {
				continue
			}
			if depth >= maxLinkDepth {
				return nil, errTooDeep
			}
			var err error
			if cur, err = r.walk(cur[:len(cur)-1], target, depth+1); err != nil {
				return nil, err
			}
		}
	}
	return cur, nil
}
