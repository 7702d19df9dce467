package control

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/emberfn/ember/internal/image"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
)

// PackageImage and PackageZip are a function's PackageType.
const (
	PackageImage = "Image"
	PackageZip   = "Zip"
)

// ImageConfig is the API's ImageConfig, decoded: a nil list or pointer
// keeps the image's own setting.
type ImageConfig struct {
	EntryPoint       []string
	Command          []string
	WorkingDirectory *string
}

// Limits of ImageConfig, from the API model.
const (
	maxImageConfigItems = 1500
	maxWorkingDirectory = 1000
)

// imageConfig checks an ImageConfig against the API model's limits and
// turns it into the store's form; nil when it overrides nothing.
func imageConfig(c *ImageConfig) (*store.ImageConfig, error) {
	if c == nil {
		return nil, nil
	}
	switch {
	case len(c.EntryPoint) > maxImageConfigItems:
		return nil, invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value at 'imageConfig.entryPoint' failed to satisfy constraint: Member must have length less than or equal to %d", maxImageConfigItems)
	case len(c.Command) > maxImageConfigItems:
		return nil, invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value at 'imageConfig.command' failed to satisfy constraint: Member must have length less than or equal to %d", maxImageConfigItems)
	case c.WorkingDirectory != nil && len(*c.WorkingDirectory) > maxWorkingDirectory:
		return nil, invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%s' at 'imageConfig.workingDirectory' failed to satisfy constraint: Member must have length less than or equal to %d", *c.WorkingDirectory, maxWorkingDirectory)
	}
	out := &store.ImageConfig{EntryPoint: c.EntryPoint, Command: c.Command}
	if c.WorkingDirectory != nil {
		out.WorkingDirectory = *c.WorkingDirectory
	}
	if out.EntryPoint == nil && out.Command == nil && out.WorkingDirectory == "" {
		return nil, nil
	}
	return out, nil
}

// sameImageConfig reports whether two versions override their image alike.
func sameImageConfig(a, b *store.ImageConfig) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.EntryPoint, b.EntryPoint) && slices.Equal(a.Command, b.Command) && a.WorkingDirectory == b.WorkingDirectory
}

// setImage makes v run the image that uri names: one this server holds,
// or else pulled from its registry for v's architecture.
func (p *Plane) setImage(ctx context.Context, v *store.Version, uri string) error {
	if p.opts.Images == nil {
		return invocation.Errorf(invocation.ErrInvalid, "Container image functions are not supported by this ember server; deploy a .zip file archive.")
	}
	arch := v.Architectures[0]
	img, err := p.opts.Images.Resolve(uri, arch)
	if errors.Is(err, image.ErrNotFound) {
		img, err = p.opts.Images.Pull(ctx, uri, image.PullOptions{Arch: arch})
	}
	switch {
	case errors.Is(err, image.ErrTooLarge):
		return imageError(err)
	case err != nil:
		p.log.Warn("a function's image is neither held nor pulled", "image", uri, "err", err)
		return invocation.Errorf(invocation.ErrInvalid, "Source image %s does not exist. Provide a valid source image.", uri)
	}
	v.ImageURI, v.ImageDigest = uri, img.Digest
	v.CodeSha256 = strings.TrimPrefix(img.Digest, "sha256:")
	v.CodeDigest, v.CodeSize, v.UnzippedSize = "", 0, 0
	return nil
}

// ResolvedImageURI is the image a version runs, named by its repository
// and manifest digest, as GetFunction's Code.ResolvedImageUri.
func ResolvedImageURI(v store.Version) string {
	ref, err := name.ParseReference(v.ImageURI)
	if err != nil || v.ImageDigest == "" {
		return v.ImageURI
	}
	return ref.Context().Name() + "@" + v.ImageDigest
}

// ImagesInUse returns the manifest digests of the images that some
// function version runs.
func (p *Plane) ImagesInUse(ctx context.Context) (map[string]bool, error) {
	all, err := p.AllVersions(ctx)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, v := range all {
		if v.ImageDigest != "" {
			used[v.ImageDigest] = true
		}
	}
	return used, nil
}

// imageError turns the image store's error classes into invocation's;
// what is left is a bad image or reference, which the caller gave.
func imageError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, image.ErrNotFound):
		return invocation.Errorf(invocation.ErrNotFound, "%v", err)
	case errors.Is(err, image.ErrInUse):
		return invocation.Errorf(invocation.ErrConflict, "%v", err)
	case errors.Is(err, image.ErrTooLarge):
		return invocation.Errorf(invocation.ErrInvalid,
			"The image's uncompressed size is over Lambda's limit of %d bytes (10 GiB, all layers): %v", image.DefaultMaxSize, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return invocation.Errorf(invocation.ErrInvalid, "%v", err)
}

// images returns the image store, or the error of a server without one.
func (p *Plane) images() (*image.Store, error) {
	if p.opts.Images == nil {
		return nil, invocation.Errorf(invocation.ErrInvalid, "Container images are not supported by this ember server.")
	}
	return p.opts.Images, nil
}

// LoadImages loads the images of a docker-save tarball or an OCI image
// layout at a path on this machine, for arch ("" for every Lambda
// architecture found).
func (p *Plane) LoadImages(ctx context.Context, path, arch string) ([]image.Image, error) {
	if !p.opts.AllowLocalCode {
		return nil, invocation.Errorf(invocation.ErrInvalid,
			"Images from a local path are accepted only by an ember server that listens on loopback.")
	}
	if !filepath.IsAbs(path) {
		return nil, invocation.Errorf(invocation.ErrInvalid, "The local image path %q is not absolute.", path)
	}
	s, err := p.images()
	if err != nil {
		return nil, err
	}
	imgs, err := s.Load(ctx, path, arch)
	return imgs, imageError(err)
}

// PullImage pulls an image from its registry.
func (p *Plane) PullImage(ctx context.Context, ref string, opts image.PullOptions) (image.Image, error) {
	s, err := p.images()
	if err != nil {
		return image.Image{}, err
	}
	img, err := s.Pull(ctx, ref, opts)
	return img, imageError(err)
}

// Images lists the images held.
func (p *Plane) Images() ([]image.Image, error) {
	s, err := p.images()
	if err != nil {
		return nil, err
	}
	imgs, err := s.List()
	return imgs, imageError(err)
}

// RemoveImage forgets an image reference, refusing while a function
// version runs the image.
func (p *Plane) RemoveImage(ctx context.Context, ref string) error {
	s, err := p.images()
	if err != nil {
		return err
	}
	used, err := p.ImagesInUse(ctx)
	if err != nil {
		return err
	}
	return imageError(s.Remove(ref, func(digest string) bool { return used[digest] }))
}

// PruneImages removes what no function uses: images without a reference
// and layers of no image.
func (p *Plane) PruneImages(ctx context.Context) (image.PruneReport, error) {
	s, err := p.images()
	if err != nil {
		return image.PruneReport{}, err
	}
	used, err := p.ImagesInUse(ctx)
	if err != nil {
		return image.PruneReport{}, err
	}
	r, err := s.Prune(func(digest string) bool { return used[digest] })
	return r, imageError(err)
}
