package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// modTime is the modification time of every entry of the layers and the
// creation time of the images, so that the same settings make the same
// digests.
var modTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// entry is a file or directory of a layer: a directory when body is nil
// and size is 0; a file of size random bytes when body is nil; else a
// file with body.
type entry struct {
	name string
	mode int64
	dir  bool
	body []byte
	size int64
}

// writeLayer writes the tar of entries to path as a gzip stream of stored
// (uncompressed) blocks: the layer is random data, which no compression
// shrinks, and gzip's stored blocks cost a copy and a CRC to write and to
// read, where compressing 1 GB would take most of a minute. Random bytes
// come from rng.
func writeLayer(path string, entries []entry, rng *rand.ChaCha8) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(f, gzip.NoCompression)
	if err != nil {
		f.Close()
		return err
	}
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: e.mode, ModTime: modTime, Format: tar.FormatPAX}
		switch {
		case e.dir:
			hdr.Typeflag = tar.TypeDir
		case e.body != nil:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(e.body))
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, e.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			f.Close()
			return fmt.Errorf("layer %s, %s: %w", path, e.name, err)
		}
		var body io.Reader
		switch {
		case e.body != nil:
			body = bytes.NewReader(e.body)
		case !e.dir:
			body = io.LimitReader(rng, e.size)
		}
		if body != nil {
			if _, err := io.Copy(tw, body); err != nil {
				f.Close()
				return fmt.Errorf("layer %s, %s: %w", path, e.name, err)
			}
		}
	}
	for _, c := range []io.Closer{tw, zw, f} {
		if err := c.Close(); err != nil {
			return fmt.Errorf("layer %s: %w", path, err)
		}
	}
	return nil
}

// dataEntries are the entries of a layer of size random bytes under
// dir/, in files of at most fileSize.
func dataEntries(dir string, size, fileSize int64) []entry {
	es := []entry{{name: dir + "/", mode: 0o755, dir: true}}
	for i := 0; size > 0; i++ {
		n := min(size, fileSize)
		es = append(es, entry{name: fmt.Sprintf("%s/part-%03d.bin", dir, i), mode: 0o644, size: n})
		size -= n
	}
	return es
}

// runtimeEntries lay out bootstrap as the runtime of Lambda's provided
// base images: /var/runtime/bootstrap, with /var/task the code directory.
func runtimeEntries(bootstrap []byte) []entry {
	return []entry{
		{name: "var/", mode: 0o755, dir: true},
		{name: "var/runtime/", mode: 0o755, dir: true},
		{name: "var/task/", mode: 0o755, dir: true},
		{name: "var/runtime/bootstrap", mode: 0o755, body: bootstrap},
	}
}

// imageSpec is an image the benchmark builds: its layers, bottom first,
// each a list of entries.
type imageSpec struct {
	// ref is its reference in the docker-save tarball, and the ImageUri of
	// its function.
	ref    string
	layers [][]entry
	// function says the image has a runtime at /var/runtime/bootstrap, its
	// ENTRYPOINT, with /var/task its WORKDIR.
	function bool
}

// built is an image written as a docker-save tarball.
type built struct {
	img     v1.Image
	tarball string
	// size is the tarball's size in bytes.
	size int64
}

// buildImage writes the layers of spec under dir, makes the image of
// them (linux, this machine's architecture) and writes it as a
// docker-save tarball, tagged spec.ref, to dir/<file>.tar. The image
// reads its layers from their files under dir, which stay.
func buildImage(dir, file string, spec imageSpec, seed uint64) (built, error) {
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'e', 'm', 'b', 'e', 'r'})
	var layers []v1.Layer
	for i, es := range spec.layers {
		p := filepath.Join(dir, fmt.Sprintf("%s-layer-%d.tar.gz", file, i))
		if err := writeLayer(p, es, rng); err != nil {
			return built{}, err
		}
		l, err := tarball.LayerFromFile(p)
		if err != nil {
			return built{}, fmt.Errorf("layer %s: %w", p, err)
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return built{}, fmt.Errorf("image %s: %w", spec.ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return built{}, fmt.Errorf("image %s: %w", spec.ref, err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: modTime}
	if spec.function {
		cf.Config.Entrypoint = []string{"/var/runtime/bootstrap"}
		cf.Config.WorkingDir = "/var/task"
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return built{}, fmt.Errorf("image %s: %w", spec.ref, err)
	}
	tag, err := name.NewTag(spec.ref)
	if err != nil {
		return built{}, err
	}
	p := filepath.Join(dir, file+".tar")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		return built{}, fmt.Errorf("write %s: %w", p, err)
	}
	st, err := os.Stat(p)
	if err != nil {
		return built{}, err
	}
	return built{img: img, tarball: p, size: st.Size()}, nil
}

// goBuild builds the Go package pkg of ember's module into out, static
// and cgo-free, as ember ships functions' bootstraps.
func goBuild(ctx context.Context, root, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}
