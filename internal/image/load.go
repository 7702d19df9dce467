package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Annotations of an OCI layout's index.json that name an image.
const (
	annotationRefName   = "org.opencontainers.image.ref.name"
	annotationImageName = "io.containerd.image.name"
)

// maxIndexDepth bounds how deep indexes within indexes are followed.
const maxIndexDepth = 4

// Load reads a docker-save or podman-save tarball (a file; an OCI archive,
// a tarred OCI layout without docker's manifest.json, too) or an OCI image
// layout (a directory), stores every image in it for the architecture arch
// and returns them. arch "" means every linux/amd64 and linux/arm64 image;
// an index (manifest list) resolves to the manifests of its platforms that
// match, and images of other platforms are left out. When none is left,
// the error names the platforms found.
//
// References come from the tarball's RepoTags, and from the layout's
// index.json annotations: io.containerd.image.name (a full reference), else
// org.opencontainers.image.ref.name when it is a full reference (it has a
// "/", ":" or "@": "localhost:5000/fn:v1", "hello:latest"). A bare tag
// ("v1") names no repository, so it is not made a reference: the image is
// held by digest, and Tag names it.
func (s *Store) Load(ctx context.Context, path string, arch string) ([]Image, error) {
	if arch != "" {
		if _, err := platformOf(arch); err != nil {
			return nil, fmt.Errorf("load %s: %w", path, err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	var fnd finds
	if fi.IsDir() {
		err = fnd.fromLayout(path, arch)
	} else {
		var work *workDir
		work, err = s.newWorkDir()
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", path, err)
		}
		defer work.release()
		err = fnd.fromTarball(path, arch, work.path)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if len(fnd.found) == 0 {
		want := "linux/amd64 or linux/arm64"
		if arch != "" {
			p, _ := platformOf(arch)
			want = p.OS + "/" + p.Architecture
		}
		return nil, fmt.Errorf("load %s: no %s image in it (found: %s)", path, want, strings.Join(fnd.skipped, ", "))
	}
	var imgs []Image
	for _, f := range fnd.found {
		img, err := s.add(ctx, f, arch)
		if err != nil {
			return imgs, fmt.Errorf("load %s: %w", path, err)
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// finds collects the images a tarball or layout holds for an
// architecture, one per manifest digest, and what it leaves out.
type finds struct {
	found   []found
	skipped []string
}

// add adds an image if its platform is wanted.
func (fs *finds) add(img v1.Image, refs, indexes []string, arch string) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("image config: %w", err)
	}
	a, ok := lambdaArch(cf.OS, cf.Architecture)
	if !ok || (arch != "" && a != arch) {
		fs.skipped = append(fs.skipped, cf.OS+"/"+cf.Architecture)
		return nil
	}
	d, err := img.Digest()
	if err != nil {
		return fmt.Errorf("image digest: %w", err)
	}
	for i, f := range fs.found {
		if fd, err := f.img.Digest(); err == nil && fd == d {
			fs.found[i].refs = union(f.refs, refs)
			fs.found[i].indexes = union(f.indexes, indexes)
			return nil
		}
	}
	fs.found = append(fs.found, found{img: img, refs: refs, indexes: indexes})
	return nil
}

// fromTarball finds the images of a docker-save tarball, or, when it has no
// manifest.json, of the OCI layout it holds, extracted into work.
func (fs *finds) fromTarball(path, arch, work string) error {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		dir := filepath.Join(work, "layout")
		if xerr := extractLayout(path, dir); xerr != nil {
			return fmt.Errorf("neither a docker-save tarball (%v) nor an OCI archive (%w)", err, xerr)
		}
		return fs.fromLayout(dir, arch)
	}
	for i, d := range m {
		var tag *name.Tag
		if len(d.RepoTags) > 0 {
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return fmt.Errorf("image %d: %w", i, err)
			}
			tag = &t
		} else if len(m) > 1 {
			return fmt.Errorf("image %d of %d has no RepoTags, so it cannot be told from the others", i+1, len(m))
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return fmt.Errorf("image %d: %w", i, err)
		}
		refs, bad := refsOf(d.RepoTags)
		if len(bad) > 0 {
			return fmt.Errorf("image %d: bad RepoTags %q", i, bad)
		}
		if err := fs.add(img, refs, nil, arch); err != nil {
			return fmt.Errorf("image %d: %w", i, err)
		}
	}
	return nil
}

// fromLayout finds the images of an OCI image layout.
func (fs *finds) fromLayout(dir, arch string) error {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	for _, desc := range im.Manifests {
		if err := fs.walk(idx, desc, layoutRefs(desc.Annotations), nil, arch, 0); err != nil {
			return fmt.Errorf("OCI layout: %s: %w", desc.Digest, err)
		}
	}
	return nil
}

// walk adds the image that desc, an entry of the index parent, describes,
// or the images of the index it describes that match arch.
func (fs *finds) walk(parent v1.ImageIndex, desc v1.Descriptor, refs, indexes []string, arch string, depth int) error {
	switch {
	case desc.MediaType.IsIndex():
		if depth == maxIndexDepth {
			return fmt.Errorf("indexes nested deeper than %d", maxIndexDepth)
		}
		child, err := parent.ImageIndex(desc.Digest)
		if err != nil {
			return err
		}
		cm, err := child.IndexManifest()
		if err != nil {
			return err
		}
		indexes = append(slices.Clone(indexes), desc.Digest.String())
		for _, d := range cm.Manifests {
			if p := d.Platform; p != nil {
				if a, ok := lambdaArch(p.OS, p.Architecture); !ok || (arch != "" && a != arch) {
					fs.skipped = append(fs.skipped, p.OS+"/"+p.Architecture)
					continue
				}
			}
			if err := fs.walk(child, d, refs, indexes, arch, depth+1); err != nil {
				return fmt.Errorf("%s: %w", d.Digest, err)
			}
		}
		return nil
	case desc.MediaType.IsImage():
		img, err := parent.Image(desc.Digest)
		if err != nil {
			return err
		}
		return fs.add(img, refs, indexes, arch)
	}
	fs.skipped = append(fs.skipped, string(desc.MediaType))
	return nil
}

// layoutRefs returns the references that an index.json entry's
// annotations give (see Load).
func layoutRefs(ann map[string]string) []string {
	n := ann[annotationImageName]
	if n == "" {
		n = ann[annotationRefName]
		if !strings.ContainsAny(n, "/:@") {
			return nil
		}
	}
	refs, _ := refsOf([]string{n})
	return refs
}

// extractLayout extracts an OCI archive (a tarred OCI layout) into dir:
// its directories and regular files only, within dir.
func extractLayout(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = root.MkdirAll(name, 0o700)
		case tar.TypeReg:
			if err = root.MkdirAll(filepath.Dir(name), 0o700); err == nil {
				err = copyInto(root, name, tr)
			}
		}
		if err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
	if _, err := root.Stat("oci-layout"); err != nil {
		return errors.New("no oci-layout file in it")
	}
	return nil
}

// copyInto writes r to the new file name in root.
func copyInto(root *os.Root, name string, r io.Reader) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
