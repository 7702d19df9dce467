package control

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
)

// LayerARN is the unversioned ARN of the named layer.
func (p *Plane) LayerARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:layer:%s", p.opts.Region, p.opts.AccountID, name)
}

// LayerName reads a LayerName as a request gives it: a name or the layer's
// ARN.
func (p *Plane) LayerName(raw string) (string, error) {
	if m := layerARNPattern().FindStringSubmatch(raw); m != nil && m[5] == "" {
		if m[2] != p.opts.Region || m[3] != p.opts.AccountID {
			return "", invocation.Errorf(invocation.ErrNotFound, "Layer not found: %s", raw)
		}
		return m[4], nil
	}
	if !layerNamePattern().MatchString(raw) {
		return "", invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%s' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+", raw)
	}
	return raw, nil
}

// NewLayerVersion is a PublishLayerVersion request, decoded.
type NewLayerVersion struct {
	Name                    string
	Description             string
	Content                 Code
	CompatibleRuntimes      []string
	CompatibleArchitectures []string
	LicenseInfo             string
}

// PublishLayerVersion checks and stores a layer's content as its next
// version.
func (p *Plane) PublishLayerVersion(ctx context.Context, req NewLayerVersion) (store.LayerVersion, error) {
	switch {
	case len(req.CompatibleRuntimes) > 15:
		return store.LayerVersion{}, invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value at 'compatibleRuntimes' failed to satisfy constraint: Member must have length less than or equal to 15")
	case len(req.CompatibleArchitectures) > 2:
		return store.LayerVersion{}, invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value at 'compatibleArchitectures' failed to satisfy constraint: Member must have length less than or equal to 2")
	case len(req.Description) > 256:
		return store.LayerVersion{}, invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256")
	}
	for _, rt := range req.CompatibleRuntimes {
		if !slices.Contains(modelRuntimes, rt) {
			return store.LayerVersion{}, invocation.Errorf(invocation.ErrValidation,
				"1 validation error detected: Value '[%s]' at 'compatibleRuntimes' failed to satisfy constraint: Member must satisfy enum value set", rt)
		}
	}
	code, err := p.storeCode(ctx, req.Content)
	if err != nil {
		return store.LayerVersion{}, err
	}
	return p.opts.Store.PublishLayerVersion(ctx, store.LayerVersion{
		LayerName:               req.Name,
		Description:             req.Description,
		CompatibleRuntimes:      req.CompatibleRuntimes,
		CompatibleArchitectures: req.CompatibleArchitectures,
		LicenseInfo:             req.LicenseInfo,
		CodeDigest:              code.Digest,
		CodeSha256:              code.Sha256,
		CodeSize:                code.Size,
		UnzippedSize:            code.Unzipped,
		Created:                 p.opts.Now(),
	})
}

// LayerVersion reads one version of a layer.
func (p *Plane) LayerVersion(ctx context.Context, name string, n int) (store.LayerVersion, error) {
	lv, err := p.opts.Store.GetLayerVersion(ctx, name, n)
	if err != nil {
		return store.LayerVersion{}, layerNotFound(err)
	}
	return lv, nil
}

// LayerVersionByARN reads the layer version that a versioned layer ARN
// names: GetLayerVersionByArn.
func (p *Plane) LayerVersionByARN(ctx context.Context, arn string) (store.LayerVersion, error) {
	m := layerARNPattern().FindStringSubmatch(arn)
	if m == nil || m[5] == "" {
		return store.LayerVersion{}, invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%s' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+", arn)
	}
	n, _ := strconv.Atoi(m[5])
	if m[2] != p.opts.Region || m[3] != p.opts.AccountID {
		return store.LayerVersion{}, invocation.Errorf(invocation.ErrNotFound, "The resource you requested does not exist.")
	}
	return p.LayerVersion(ctx, m[4], n)
}

// DeleteLayerVersion deletes one version of a layer; one already gone is
// no error, as Lambda answers alike.
func (p *Plane) DeleteLayerVersion(ctx context.Context, name string, n int) error {
	if err := p.opts.Store.DeleteLayerVersion(ctx, name, n); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// LayerVersions lists a layer's versions, newest first.
func (p *Plane) LayerVersions(ctx context.Context, name string) ([]store.LayerVersion, error) {
	return p.opts.Store.ListLayerVersions(ctx, name)
}

// Layers lists every layer's versions, by layer, newest first within one.
func (p *Plane) Layers(ctx context.Context) ([]store.LayerVersion, error) {
	return p.opts.Store.ListLayers(ctx)
}

func layerNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return invocation.Errorf(invocation.ErrNotFound, "The resource you requested does not exist.")
	}
	return err
}

// resolveLayers checks a version's layers, at most 5, each a version of a
// layer here, and that code and layers together stay within Lambda's
// 250 MB unzipped; it records each layer's size.
func (p *Plane) resolveLayers(ctx context.Context, v *store.Version) error {
	if len(v.Layers) > 5 {
		return invocation.Errorf(invocation.ErrInvalid, "Cannot reference more than 5 layers.")
	}
	total := v.UnzippedSize
	v.LayerSizes, v.LayerDigests = nil, nil
	for _, arn := range v.Layers {
		lv, err := p.layerByARN(ctx, arn)
		if err != nil {
			return err
		}
		v.LayerSizes = append(v.LayerSizes, lv.CodeSize)
		v.LayerDigests = append(v.LayerDigests, lv.CodeDigest)
		total += lv.UnzippedSize
	}
	if total > function.MaxUnzipped {
		return invocation.Errorf(invocation.ErrInvalid,
			"Function code combined with layers exceeds the maximum allowed size of %d bytes. The actual size is %d bytes.", function.MaxUnzipped, total)
	}
	return nil
}

// layerByARN reads the layer version that a function's Layers names.
func (p *Plane) layerByARN(ctx context.Context, arn string) (store.LayerVersion, error) {
	m := layerARNPattern().FindStringSubmatch(arn)
	if m == nil || m[5] == "" {
		return store.LayerVersion{}, invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '[%s]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 140, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+), Member must not be null]", arn)
	}
	n, _ := strconv.Atoi(m[5])
	if m[2] == p.opts.Region && m[3] == p.opts.AccountID {
		lv, err := p.opts.Store.GetLayerVersion(ctx, m[4], n)
		if err == nil {
			return lv, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.LayerVersion{}, err
		}
	}
	return store.LayerVersion{}, invocation.Errorf(invocation.ErrInvalid, "Layer version %s does not exist.", arn)
}
