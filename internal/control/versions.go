package control

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
)

// Publish is a PublishVersion request, decoded; each member may be empty.
type Publish struct {
	Description string
	// CodeSha256 and RevisionID, when set, must be $LATEST's.
	CodeSha256 string
	RevisionID string
}

// PublishVersion makes a version of the function's $LATEST.
func (p *Plane) PublishVersion(ctx context.Context, name string, req Publish) (store.Version, error) {
	fn, err := p.opts.Store.GetFunction(ctx, name)
	if err != nil {
		return store.Version{}, storeError(err, p.functionNotFound(name), "")
	}
	return p.publish(ctx, fn, req)
}

// publish makes a version of $LATEST. If $LATEST is what the newest
// version already holds, Lambda returns that version instead.
func (p *Plane) publish(ctx context.Context, fn store.Function, req Publish) (store.Version, error) {
	name := fn.Latest.FunctionName
	if req.CodeSha256 != "" && req.CodeSha256 != fn.Latest.CodeSha256 {
		return store.Version{}, invocation.Errorf(invocation.ErrInvalid,
			"CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", req.CodeSha256, fn.Latest.CodeSha256)
	}
	if req.RevisionID != "" && req.RevisionID != fn.Latest.RevisionID {
		return store.Version{}, revisionMismatch()
	}
	if fn.LastPublished > 0 {
		last, err := p.opts.Store.GetVersion(ctx, name, strconv.Itoa(fn.LastPublished))
		if err == nil && sameContent(last, fn.Latest) {
			return last, nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Version{}, err
		}
	}
	for {
		n := fn.LastPublished + 1
		fn.LastPublished = n
		updated, err := p.opts.Store.UpdateFunction(ctx, fn)
		if errors.Is(err, store.ErrChanged) {
			// Another publish or update came between: start again from
			// what is stored now.
			if fn, err = p.opts.Store.GetFunction(ctx, name); err != nil {
				return store.Version{}, storeError(err, p.functionNotFound(name), "")
			}
			continue
		}
		if err != nil {
			return store.Version{}, storeError(err, p.functionNotFound(name), "")
		}
		v := updated.Latest
		v.Version = strconv.Itoa(n)
		v.Description = req.Description
		if req.Description == "" {
			v.Description = updated.Latest.Description
		}
		v.RevisionID = newRevisionID()
		v.LastModified = p.opts.Now()
		if err := p.opts.Store.CreateVersion(ctx, v); err != nil {
			return store.Version{}, fmt.Errorf("publish version %d of %s: %w", n, name, err)
		}
		return v, nil
	}
}

// sameContent reports whether a published version holds what $LATEST
// holds now: the same code and configuration.
func sameContent(v, latest store.Version) bool {
	return v.CodeSha256 == latest.CodeSha256 && v.Runtime == latest.Runtime && v.Handler == latest.Handler &&
		v.Role == latest.Role && v.MemorySize == latest.MemorySize && v.Timeout == latest.Timeout &&
		v.EphemeralStorage == latest.EphemeralStorage && maps.Equal(v.Environment, latest.Environment) &&
		slices.Equal(v.Layers, latest.Layers) && slices.Equal(v.Architectures, latest.Architectures) &&
		sameImageConfig(v.ImageConfig, latest.ImageConfig)
}

// Versions lists a function's versions, $LATEST first.
func (p *Plane) Versions(ctx context.Context, name string) ([]store.Version, error) {
	vs, err := p.opts.Store.ListVersions(ctx, name)
	if err != nil {
		return nil, storeError(err, p.functionNotFound(name), "")
	}
	return vs, nil
}
