// Package image owns the container images ember holds: loading them from
// docker-save tarballs and OCI layouts, pulling them from registries,
// their layers stored and unpacked once each, what an image is (its
// config, architecture and layers), listing and removal.
//
// Everything lives under one directory:
//
//	lock                             flock(2) taken around every change, shared for reads
//	layers/sha256/<hex>/tree/        a layer unpacked, named by its diff ID
//	layers/sha256/<hex>/layer.json   the layer's diff ID and unpacked size
//	images/sha256/<hex>.json         an image, named by its manifest digest, with its references
//	tmp/<random>/                    work in progress: unpacking, removal
//
// A layer is unpacked into tmp and renamed into place whole, and records
// are written to a temporary file and renamed, so that a crash never
// leaves a half layer or record that looks whole. Layer trees are in
// overlayfs format, ready to be lowerdirs of a read-only root: a whiteout
// is a character device 0:0, an opaque directory has the xattr
// trusted.overlay.opaque="y" when unpacked as root; unpacked by another
// user it has user.overlay.opaque="y" instead, and the overlay mount then
// needs the userxattr option.
package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultMaxSize is Lambda's limit on a container image's unpacked size:
// 10 GiB.
const DefaultMaxSize int64 = 10 << 30

// ErrNotFound is what the store answers for an image or reference it does
// not hold.
var ErrNotFound = errors.New("image not found")

// ErrInUse is what Remove answers when a function still uses the image it
// would remove.
var ErrInUse = errors.New("image in use")

// ErrTooLarge is what Load and Pull answer when an image's unpacked size
// passes the store's MaxSize.
var ErrTooLarge = errors.New("image too large")

// Options configure a Store.
type Options struct {
	// MaxSize is the limit on an image's unpacked size; 0 means Lambda's
	// 10 GiB (DefaultMaxSize).
	MaxSize int64
	// Log receives what the store does; nil discards it.
	Log *slog.Logger
}

// Config is what ember takes from an image's config.
type Config struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	// Env holds "K=V" entries in the image's order.
	Env []string `json:"env,omitempty"`
	// User is kept for display; Lambda ignores it.
	User string `json:"user,omitempty"`
}

// Image is an image the store holds.
type Image struct {
	// Digest is the manifest digest, "sha256:<hex>".
	Digest string `json:"digest"`
	// References are full normalized references ("docker.io/library/hello:latest",
	// "localhost:5000/fn@sha256:..."); empty when the image is known by
	// digest only.
	References []string `json:"references,omitempty"`
	// Architecture is Lambda's name of it: "x86_64" or "arm64".
	Architecture string `json:"architecture"`
	Config       Config `json:"config"`
	// Layers are the layers' diff IDs (digests of the uncompressed tars),
	// bottom first.
	Layers []string `json:"layers"`
	// Size is the unpacked size of all its layers, in bytes.
	Size int64 `json:"size"`
	// Loaded is when the store first held the image.
	Loaded time.Time `json:"loaded"`
}

// record is an image's file: the image, and the digests of the indexes
// (manifest lists) it was found through, so that a reference by an
// index digest finds it.
type record struct {
	Image
	Indexes []string `json:"indexes,omitempty"`
}

// layerInfo is a stored layer's file beside its tree.
type layerInfo struct {
	DiffID string `json:"diffID"`
	Size   int64  `json:"size"`
}

// Store is a directory of images. It is safe for concurrent use, and
// several processes may share the directory: changes are made under an
// exclusive flock of dir/lock, reads under a shared one.
type Store struct {
	dir     string
	maxSize int64
	log     *slog.Logger

	// mu orders this process's users of the store before they take the
	// flock (mu first, then the flock): writers exclusively, readers
	// shared.
	mu sync.RWMutex
}

// Open returns the store kept in dir, creating it if missing, and removes
// what work that a crash interrupted left in it.
func Open(dir string, opts Options) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("image store %s: %w", dir, err)
	}
	for _, d := range []string{abs, filepath.Join(abs, "layers", "sha256"), filepath.Join(abs, "images", "sha256"), filepath.Join(abs, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	s := &Store{dir: abs, maxSize: opts.MaxSize, log: opts.Log}
	if s.maxSize <= 0 {
		s.maxSize = DefaultMaxSize
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if _, _, err := s.removeLeftovers(); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// layerPath returns the directory of the layer with the diff ID
// "sha256:<hex>".
func (s *Store) layerPath(diffID string) (string, error) {
	hex, err := hexOf(diffID)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir, "layers", "sha256", hex), nil
}

// recordPath returns the file of the image with the manifest digest
// "sha256:<hex>".
func (s *Store) recordPath(digest string) (string, error) {
	hex, err := hexOf(digest)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir, "images", "sha256", hex+".json"), nil
}

// hexOf returns the hex part of a "sha256:<hex>" digest, checked, so that
// it can name a file.
func hexOf(digest string) (string, error) {
	hex, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return "", fmt.Errorf("digest %q is not sha256:<64 hex digits>", digest)
	}
	return hex, nil
}

// Get returns the image with the manifest digest.
func (s *Store) Get(digest string) (Image, error) {
	unlock, err := s.lock(false)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	rec, err := s.readRecordLocked(digest)
	if err != nil {
		return Image{}, err
	}
	return rec.Image, nil
}

// List returns every image the store holds, by digest.
func (s *Store) List() ([]Image, error) {
	unlock, err := s.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	recs, err := s.recordsLocked()
	if err != nil {
		return nil, err
	}
	imgs := make([]Image, len(recs))
	for i, r := range recs {
		imgs[i] = r.Image
	}
	return imgs, nil
}

// LayerDirs returns the host directories of the image's unpacked layers,
// topmost first: the order of overlayfs lowerdir.
func (s *Store) LayerDirs(img Image) ([]string, error) {
	unlock, err := s.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	dirs := make([]string, 0, len(img.Layers))
	for _, diffID := range slices.Backward(img.Layers) {
		p, err := s.layerPath(diffID)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", img.Digest, err)
		}
		tree := filepath.Join(p, "tree")
		if _, err := os.Stat(tree); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("image %s: layer %s: %w", img.Digest, diffID, ErrNotFound)
			}
			return nil, fmt.Errorf("image %s: layer %s: %w", img.Digest, diffID, err)
		}
		dirs = append(dirs, tree)
	}
	return dirs, nil
}

// readRecordLocked reads the record of the image with the digest.
func (s *Store) readRecordLocked(digest string) (record, error) {
	p, err := s.recordPath(digest)
	if err != nil {
		return record{}, fmt.Errorf("image %s: %w", digest, ErrNotFound)
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return record{}, fmt.Errorf("image %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return record{}, fmt.Errorf("read image %s: %w", digest, err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return record{}, fmt.Errorf("read image %s: %w", digest, err)
	}
	return rec, nil
}

// recordsLocked reads every image record, sorted by digest.
func (s *Store) recordsLocked() ([]record, error) {
	dir := filepath.Join(s.dir, "images", "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var recs []record
	for _, e := range entries {
		hex, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		rec, err := s.readRecordLocked("sha256:" + hex)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// writeRecordLocked writes an image's record atomically.
func (s *Store) writeRecordLocked(rec record) error {
	p, err := s.recordPath(rec.Digest)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("write image %s: %w", rec.Digest, err)
	}
	if err := writeFileAtomic(p, b); err != nil {
		return fmt.Errorf("write image %s: %w", rec.Digest, err)
	}
	return nil
}

// removeRecordLocked removes an image's record.
func (s *Store) removeRecordLocked(digest string) error {
	p, err := s.recordPath(digest)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove image %s: %w", digest, err)
	}
	return nil
}

// readLayerInfo reads a stored layer's file; ErrNotFound when the layer
// is not stored.
func (s *Store) readLayerInfo(diffID string) (layerInfo, error) {
	p, err := s.layerPath(diffID)
	if err != nil {
		return layerInfo{}, err
	}
	b, err := os.ReadFile(filepath.Join(p, "layer.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return layerInfo{}, fmt.Errorf("layer %s: %w", diffID, ErrNotFound)
	}
	if err != nil {
		return layerInfo{}, fmt.Errorf("read layer %s: %w", diffID, err)
	}
	var li layerInfo
	if err := json.Unmarshal(b, &li); err != nil {
		return layerInfo{}, fmt.Errorf("read layer %s: %w", diffID, err)
	}
	return li, nil
}

// writeFileAtomic writes b to a temporary file beside path, syncs it and
// renames it to path.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
		return werr
	}
	return nil
}
