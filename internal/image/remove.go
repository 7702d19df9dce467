package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Remove forgets a reference: an image that ref names loses it, and goes
// when no reference is left. Removing by digest (a bare "sha256:<hex>",
// or "repo@sha256:..." that no image holds as a reference) removes the
// images with that digest and all their references. When inUse(digest)
// reports true for an image that would go, Remove removes nothing and the
// error wraps ErrInUse. Layers that no image uses any more are deleted at
// once. inUse is called with the store locked, and must not call it.
// ErrNotFound when ref names no image.
func (s *Store) Remove(ref string, inUse func(digest string) bool) error {
	unlock, err := s.lock(true)
	if err != nil {
		return err
	}
	recs, err := s.recordsLocked()
	if err != nil {
		unlock()
		return err
	}
	targets, n, err := match(recs, ref)
	if err != nil {
		unlock()
		return err
	}
	if len(targets) == 0 {
		unlock()
		return fmt.Errorf("remove %s: %w", ref, ErrNotFound)
	}
	for _, t := range targets {
		goes := n == "" || (len(t.References) == 1 && t.References[0] == n)
		if goes && inUse != nil && inUse(t.Digest) {
			unlock()
			return fmt.Errorf("remove %s: image %s is used by a function: %w", ref, t.Digest, ErrInUse)
		}
	}
	for _, t := range targets {
		t.References = slices.DeleteFunc(t.References, func(r string) bool { return r == n })
		if n == "" || len(t.References) == 0 {
			err = s.removeRecordLocked(t.Digest)
			s.log.Info("image removed", "digest", t.Digest, "by", ref)
		} else {
			err = s.writeRecordLocked(t)
		}
		if err != nil {
			unlock()
			return fmt.Errorf("remove %s: %w", ref, err)
		}
	}
	trash, _, _, err := s.dropUnusedLayersLocked()
	unlock()
	if trash != nil {
		if rerr := trash.release(); err == nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", ref, err)
	}
	return nil
}

// PruneReport says what Prune removed.
type PruneReport struct {
	// Images are the digests of the images removed.
	Images []string
	// Layers is how many layers were deleted.
	Layers int
	// Bytes is what the deleted layers and leftovers held: the unpacked
	// size of the layers and the regular files of the leftovers.
	Bytes int64
}

// Prune removes every image that has no reference (a dangling image: one
// whose tags moved to newer images, or loaded by digest only) and that
// inUse reports no function uses; then every layer that no image uses,
// and the work directories that an interrupted load, pull or removal left
// (those of operations still running, in any process, are kept). The disk
// is freed at once. inUse is called with the store locked, and must not
// call it; nil means nothing is in use.
func (s *Store) Prune(inUse func(digest string) bool) (PruneReport, error) {
	var rep PruneReport
	unlock, err := s.lock(true)
	if err != nil {
		return rep, err
	}
	recs, err := s.recordsLocked()
	if err != nil {
		unlock()
		return rep, fmt.Errorf("prune: %w", err)
	}
	for _, r := range recs {
		if len(r.References) > 0 || (inUse != nil && inUse(r.Digest)) {
			continue
		}
		if err := s.removeRecordLocked(r.Digest); err != nil {
			unlock()
			return rep, fmt.Errorf("prune: %w", err)
		}
		rep.Images = append(rep.Images, r.Digest)
	}
	trash, n, bytes, err := s.dropUnusedLayersLocked()
	unlock()
	rep.Layers, rep.Bytes = n, bytes
	if trash != nil {
		if rerr := trash.release(); err == nil {
			err = rerr
		}
	}
	if err != nil {
		return rep, fmt.Errorf("prune: %w", err)
	}
	_, left, err := s.removeLeftovers()
	rep.Bytes += left
	if err != nil {
		return rep, fmt.Errorf("prune: %w", err)
	}
	s.log.Info("images pruned", "images", len(rep.Images), "layers", rep.Layers, "bytes", rep.Bytes)
	return rep, nil
}

// dropUnusedLayersLocked moves every layer that no image record uses into
// a work directory, which the caller releases (deleting them) once it has
// unlocked the store. It returns the work directory (nil when no layer
// went), how many layers went and their unpacked size.
func (s *Store) dropUnusedLayersLocked() (*workDir, int, int64, error) {
	recs, err := s.recordsLocked()
	if err != nil {
		return nil, 0, 0, err
	}
	used := map[string]bool{}
	for _, r := range recs {
		for _, l := range r.Layers {
			used[l] = true
		}
	}
	dir := filepath.Join(s.dir, "layers", "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("list layers: %w", err)
	}
	var trash *workDir
	var n int
	var bytes int64
	for _, e := range entries {
		diffID := "sha256:" + e.Name()
		if used[diffID] {
			continue
		}
		if trash == nil {
			if trash, err = s.newWorkDir(); err != nil {
				return nil, 0, 0, err
			}
		}
		li, err := s.readLayerInfo(diffID)
		size := li.Size
		if err != nil {
			size = treeSize(filepath.Join(dir, e.Name()))
		}
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(trash.path, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return trash, n, bytes, fmt.Errorf("remove layer %s: %w", diffID, err)
		}
		s.log.Debug("layer removed", "diffID", diffID, "size", size)
		n++
		bytes += size
	}
	return trash, n, bytes, nil
}
