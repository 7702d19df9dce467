package control

import (
	"context"
	"errors"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
)

// NewAlias is a CreateAlias request, decoded.
type NewAlias struct {
	Name            string
	FunctionVersion string
	Description     string
	// Weights route a share of invocations to a second version.
	Weights map[string]float64
}

// CreateAlias creates an alias of a function, whose versions must exist.
func (p *Plane) CreateAlias(ctx context.Context, name string, req NewAlias) (store.Alias, error) {
	if err := p.FunctionExists(ctx, name); err != nil {
		return store.Alias{}, err
	}
	a := store.Alias{FunctionName: name, Name: req.Name, FunctionVersion: req.FunctionVersion,
		Description: req.Description, Weights: req.Weights, RevisionID: newRevisionID()}
	if err := p.checkAlias(ctx, a); err != nil {
		return store.Alias{}, err
	}
	a, err := p.opts.Store.CreateAlias(ctx, a)
	if err != nil {
		return store.Alias{}, storeError(err, p.functionNotFound(name),
			"Alias already exists: "+p.qualifiedARN(name, req.Name))
	}
	return a, nil
}

// AliasChange is an UpdateAlias request, decoded. A nil pointer leaves its
// member as it is.
type AliasChange struct {
	FunctionVersion *string
	Description     *string
	// Weights replaces the routing; a nil map removes it.
	Weights *map[string]float64
	// RevisionID, when set, must be the alias's.
	RevisionID string
}

// UpdateAlias changes an alias.
func (p *Plane) UpdateAlias(ctx context.Context, name, alias string, c AliasChange) (store.Alias, error) {
	a, err := p.Alias(ctx, name, alias)
	if err != nil {
		return a, err
	}
	if c.RevisionID != "" && c.RevisionID != a.RevisionID {
		return store.Alias{}, revisionMismatch()
	}
	setIf(&a.FunctionVersion, c.FunctionVersion)
	setIf(&a.Description, c.Description)
	setIf(&a.Weights, c.Weights)
	if err := p.checkAlias(ctx, a); err != nil {
		return store.Alias{}, err
	}
	a.RevisionID = newRevisionID()
	if a, err = p.opts.Store.UpdateAlias(ctx, a); err != nil {
		return store.Alias{}, storeError(err, "Alias not found: "+p.qualifiedARN(name, alias), "")
	}
	return a, nil
}

// Alias reads an alias.
func (p *Plane) Alias(ctx context.Context, name, alias string) (store.Alias, error) {
	a, err := p.opts.Store.GetAlias(ctx, name, alias)
	if err != nil {
		return store.Alias{}, storeError(err, "Alias not found: "+p.qualifiedARN(name, alias), "")
	}
	return a, nil
}

// DeleteAlias deletes an alias and its function URL; one already gone is
// no error, as Lambda answers alike.
func (p *Plane) DeleteAlias(ctx context.Context, name, alias string) error {
	if err := p.opts.Store.DeleteAlias(ctx, name, alias); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return p.deleteAliasURL(ctx, name, alias)
}

// Aliases lists a function's aliases, sorted by name.
func (p *Plane) Aliases(ctx context.Context, name string) ([]store.Alias, error) {
	if err := p.FunctionExists(ctx, name); err != nil {
		return nil, err
	}
	all, err := p.opts.Store.ListAliases(ctx, name)
	if err != nil {
		return nil, storeError(err, p.functionNotFound(name), "")
	}
	return all, nil
}

// checkAlias checks an alias's versions and weights as Lambda does.
func (p *Plane) checkAlias(ctx context.Context, a store.Alias) error {
	if !versionPattern().MatchString(a.FunctionVersion) {
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%s' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)", a.FunctionVersion)
	}
	exists := func(version string) error {
		if version == function.LatestVersion {
			return nil
		}
		if _, err := p.opts.Store.GetVersion(ctx, a.FunctionName, version); err != nil {
			return storeError(err, "Function not found: "+p.qualifiedARN(a.FunctionName, version), "")
		}
		return nil
	}
	if err := exists(a.FunctionVersion); err != nil {
		return err
	}
	if len(a.Weights) > 1 {
		return invocation.Errorf(invocation.ErrInvalid, "Number of items in AdditionalVersionWeights cannot be greater than 1")
	}
	for version, weight := range a.Weights {
		if weight < 0 || weight > 1 {
			return invocation.Errorf(invocation.ErrValidation,
				"1 validation error detected: Value '%v' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]", weight)
		}
		if !IsVersionNumber(version) || a.FunctionVersion == function.LatestVersion {
			return invocation.Errorf(invocation.ErrInvalid, "$LATEST is not supported for an alias pointing to more than 1 version")
		}
		if version == a.FunctionVersion {
			return invocation.Errorf(invocation.ErrInvalid,
				"Invalid function version %s. Function version %s is already included in routing configuration.", version, version)
		}
		if err := exists(version); err != nil {
			return err
		}
	}
	return nil
}
