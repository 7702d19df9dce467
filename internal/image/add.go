package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// platformOf returns the OCI platform of a Lambda architecture.
func platformOf(arch string) (v1.Platform, error) {
	switch arch {
	case "x86_64":
		return v1.Platform{OS: "linux", Architecture: "amd64"}, nil
	case "arm64":
		return v1.Platform{OS: "linux", Architecture: "arm64"}, nil
	}
	return v1.Platform{}, fmt.Errorf("architecture %q: want x86_64 or arm64", arch)
}

// lambdaArch returns the Lambda architecture of a platform, and false for
// a platform Lambda does not run.
func lambdaArch(os, arch string) (string, bool) {
	switch {
	case os == "linux" && arch == "amd64":
		return "x86_64", true
	case os == "linux" && arch == "arm64":
		return "arm64", true
	}
	return "", false
}

// found is an image found in a tarball, a layout or a registry, with the
// references it goes by there and the digests of the indexes it was
// found through.
type found struct {
	img     v1.Image
	refs    []string
	indexes []string
}

// maxAttempts bounds how often add unpacks again the layers that another
// process removed while add was unpacking the others.
const maxAttempts = 3

// add stores an image: its layers that the store lacks, unpacked, and its
// record, with its references moved to it from the images of the same
// architecture that had them. wantArch, when set, is the architecture the
// image must have.
func (s *Store) add(ctx context.Context, f found, wantArch string) (Image, error) {
	d, err := f.img.Digest()
	if err != nil {
		return Image{}, fmt.Errorf("image digest: %w", err)
	}
	digest := d.String()
	cf, err := f.img.ConfigFile()
	if err != nil {
		return Image{}, fmt.Errorf("image %s: config: %w", digest, err)
	}
	arch, ok := lambdaArch(cf.OS, cf.Architecture)
	if !ok {
		return Image{}, fmt.Errorf("image %s is %s/%s: Lambda runs linux/amd64 (x86_64) and linux/arm64 (arm64)", digest, cf.OS, cf.Architecture)
	}
	if wantArch != "" && arch != wantArch {
		want, _ := platformOf(wantArch)
		return Image{}, fmt.Errorf("image %s is %s/%s, not %s/%s as architecture %s needs", digest, cf.OS, cf.Architecture, want.OS, want.Architecture, wantArch)
	}
	layers, err := f.img.Layers()
	if err != nil {
		return Image{}, fmt.Errorf("image %s: layers: %w", digest, err)
	}
	diffIDs := make([]string, len(layers))
	byDiffID := make(map[string]v1.Layer, len(layers))
	for i, l := range layers {
		h, err := l.DiffID()
		if err != nil {
			return Image{}, fmt.Errorf("image %s: layer %d: %w", digest, i, err)
		}
		if _, err := hexOf(h.String()); err != nil {
			return Image{}, fmt.Errorf("image %s: layer %d: %w", digest, i, err)
		}
		diffIDs[i] = h.String()
		byDiffID[h.String()] = l
	}
	img := Image{
		Digest:       digest,
		References:   f.refs,
		Architecture: arch,
		Config: Config{
			Entrypoint: cf.Config.Entrypoint,
			Cmd:        cf.Config.Cmd,
			WorkingDir: cf.Config.WorkingDir,
			Env:        cf.Config.Env,
			User:       cf.Config.User,
		},
		Layers: diffIDs,
	}
	for attempt := 1; ; attempt++ {
		rec, lost, err := s.addOnce(ctx, img, f.indexes, byDiffID)
		if err != nil {
			return Image{}, fmt.Errorf("image %s: %w", digest, err)
		}
		if len(lost) == 0 {
			s.log.Info("image stored", "digest", digest, "references", rec.References, "architecture", arch, "size", rec.Size)
			return rec.Image, nil
		}
		if attempt == maxAttempts {
			return Image{}, fmt.Errorf("image %s: layers %v removed while it was being stored, %d times", digest, lost, attempt)
		}
	}
}

// addOnce unpacks the layers the store lacks and commits them with the
// image's record. It returns the layers that another process removed in
// the meantime, in which case nothing is committed.
func (s *Store) addOnce(ctx context.Context, img Image, indexes []string, byDiffID map[string]v1.Layer) (record, []string, error) {
	known := map[string]int64{}
	var missing []string
	var total int64
	for _, diffID := range img.Layers {
		if _, seen := known[diffID]; seen || slices.Contains(missing, diffID) {
			continue
		}
		li, err := s.readLayerInfo(diffID)
		if errors.Is(err, ErrNotFound) {
			missing = append(missing, diffID)
			continue
		}
		if err != nil {
			return record{}, nil, err
		}
		known[diffID] = li.Size
		total += li.Size
	}
	if total > s.maxSize {
		return record{}, nil, fmt.Errorf("unpacked size %d passes the limit of %d bytes: %w", total, s.maxSize, ErrTooLarge)
	}

	work, err := s.newWorkDir()
	if err != nil {
		return record{}, nil, err
	}
	defer func() {
		if err := work.release(); err != nil {
			s.log.Warn("image work directory left behind", "dir", work.path, "err", err)
		}
	}()
	for _, diffID := range missing {
		n, err := s.unpackInto(ctx, byDiffID[diffID], diffID, work.path, s.maxSize-total)
		if errors.Is(err, ErrTooLarge) {
			return record{}, nil, fmt.Errorf("unpacked size passes the limit of %d bytes: %w", s.maxSize, err)
		}
		if err != nil {
			return record{}, nil, err
		}
		total += n
	}

	unlock, err := s.lock(true)
	if err != nil {
		return record{}, nil, err
	}
	defer unlock()
	// A layer that another process stored meanwhile is kept, and this
	// one's copy dropped with the work directory.
	for _, diffID := range missing {
		hex, _ := hexOf(diffID)
		dst, _ := s.layerPath(diffID)
		if err := os.Rename(filepath.Join(work.path, hex), dst); err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.ENOTEMPTY) {
			return record{}, nil, fmt.Errorf("store layer %s: %w", diffID, err)
		}
	}
	var lost []string
	var size int64
	sized := map[string]bool{}
	for _, diffID := range img.Layers {
		li, err := s.readLayerInfo(diffID)
		if errors.Is(err, ErrNotFound) {
			lost = append(lost, diffID)
			continue
		}
		if err != nil {
			return record{}, nil, err
		}
		if !sized[diffID] {
			sized[diffID] = true
			size += li.Size
		}
	}
	if len(lost) > 0 {
		return record{}, lost, nil
	}
	img.Size = size
	rec, err := s.putLocked(record{Image: img, Indexes: indexes})
	return rec, nil, err
}

// unpackInto unpacks a layer into work/<hex>/tree, checking that its
// content has its diff ID, and writes work/<hex>/layer.json. It returns
// the layer's unpacked size.
func (s *Store) unpackInto(ctx context.Context, l v1.Layer, diffID, work string, limit int64) (int64, error) {
	hexID, _ := hexOf(diffID)
	dst := filepath.Join(work, hexID)
	tree := filepath.Join(dst, "tree")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	defer rc.Close()
	h := sha256.New()
	r := io.TeeReader(rc, h)
	start := time.Now()
	n, err := unpackLayer(ctx, r, tree, limit, s.log)
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	// The rest of the stream (the tar's end, padding) counts in the digest,
	// and a verifying reader reports a bad blob only at its end.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	if err := rc.Close(); err != nil {
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID {
		return 0, fmt.Errorf("layer %s: content has digest %s", diffID, got)
	}
	b, err := json.Marshal(layerInfo{DiffID: diffID, Size: n})
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	if err := os.WriteFile(filepath.Join(dst, "layer.json"), b, 0o600); err != nil {
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	s.log.Debug("layer unpacked", "diffID", diffID, "size", n, "took", time.Since(start))
	return n, nil
}

// putLocked writes an image's record, merged with the record the store
// has of it (references and indexes added, first load time kept), and
// takes its references away from the other images of its architecture.
// It returns the record written.
func (s *Store) putLocked(rec record) (record, error) {
	recs, err := s.recordsLocked()
	if err != nil {
		return record{}, err
	}
	for _, other := range recs {
		if other.Digest == rec.Digest {
			rec.References = union(other.References, rec.References)
			rec.Indexes = union(other.Indexes, rec.Indexes)
			rec.Loaded = other.Loaded
			continue
		}
		if other.Architecture != rec.Architecture {
			continue
		}
		kept := slices.DeleteFunc(slices.Clone(other.References), func(r string) bool { return slices.Contains(rec.References, r) })
		if len(kept) != len(other.References) {
			other.References = kept
			if err := s.writeRecordLocked(other); err != nil {
				return record{}, err
			}
		}
	}
	if rec.Loaded.IsZero() {
		rec.Loaded = time.Now().UTC()
	}
	if err := s.writeRecordLocked(rec); err != nil {
		return record{}, err
	}
	return rec, nil
}

// union returns a's elements followed by those of b that a lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
