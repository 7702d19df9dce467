package codecache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Merged returns a directory holding the trees of dirs laid over each other
// in order, a later tree's files replacing an earlier one's, as Lambda
// merges a function's layers into /opt. The merge is made once per list of
// digests (the trees' names) and kept; its files are hard links to the
// trees' where the file system allows, copies otherwise.
func (c *Cache) Merged(digests []string) (string, error) {
	for _, d := range digests {
		if err := checkDigest(d); err != nil {
			return "", err
		}
	}
	sum := sha256.Sum256([]byte(strings.Join(digests, ",")))
	final := filepath.Join(c.dir, "merged-"+hex.EncodeToString(sum[:]))
	if ok, err := isTree(final); err != nil || ok {
		return final, err
	}
	tmp, err := os.MkdirTemp(c.dir, tmpPrefix+"merge-")
	if err != nil {
		return "", fmt.Errorf("merge layers: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, d := range digests {
		if err := overlay(filepath.Join(c.dir, d), tmp); err != nil {
			return "", fmt.Errorf("merge layers: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("merge layers: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another merge of the same list got there first.
		if ok, terr := isTree(final); terr == nil && ok {
			return final, nil
		}
		return "", fmt.Errorf("merge layers: %w", err)
	}
	return final, nil
}

// overlay lays the tree under src over dst.
func overlay(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if st, err := os.Lstat(target); err == nil && !st.IsDir() {
				if err := os.Remove(target); err != nil {
					return err
				}
			}
			if err := os.Mkdir(target, info.Mode().Perm()|0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			return nil
		}
		if err := os.RemoveAll(target); err != nil {
			return err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		if err := os.Link(path, target); err == nil {
			return nil
		}
		return copyFile(path, target, info.Mode().Perm())
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
