package control

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
)

// NewFunction is a CreateFunction request, decoded. A nil pointer is a
// member left out, which takes Lambda's default.
type NewFunction struct {
	Name             string
	Runtime          string
	Role             string
	Handler          string
	Code             Code
	Description      string
	Timeout          *int
	MemorySize       *int
	EphemeralStorage *int
	Publish          bool
	PackageType      string
	Environment      map[string]string
	Tags             map[string]string
	Layers           []string
	Architectures    []string
	ImageConfig      *ImageConfig
}

// CreateFunction creates a function from its $LATEST: Lambda's defaults
// for what the request leaves out, its limits checked, the code stored and
// the layers resolved. With Publish it publishes version 1 too, and
// returns that version.
func (p *Plane) CreateFunction(ctx context.Context, f NewFunction) (store.Version, error) {
	if err := checkRole(f.Role); err != nil {
		return store.Version{}, err
	}
	if f.PackageType == "" {
		f.PackageType = PackageZip
	}
	if err := checkPackage(f); err != nil {
		return store.Version{}, err
	}
	imageCfg, err := imageConfig(f.ImageConfig)
	if err != nil {
		return store.Version{}, err
	}
	now := p.opts.Now()
	v := store.Version{
		FunctionName:     f.Name,
		Version:          function.LatestVersion,
		Description:      f.Description,
		Runtime:          f.Runtime,
		Handler:          f.Handler,
		Role:             f.Role,
		MemorySize:       function.DefaultMemoryMB,
		Timeout:          int(function.DefaultTimeout / time.Second),
		EphemeralStorage: function.MinTmpMB,
		Environment:      envVars(f.Environment),
		Architectures:    f.Architectures,
		PackageType:      f.PackageType,
		ImageConfig:      imageCfg,
		Network:          function.NetworkOutbound,
		Layers:           f.Layers,
		LastModified:     now,
		RevisionID:       newRevisionID(),
		State:            "Active",
		LastUpdateStatus: "Successful",
	}
	setIf(&v.MemorySize, f.MemorySize)
	setIf(&v.Timeout, f.Timeout)
	setIf(&v.EphemeralStorage, f.EphemeralStorage)
	if len(v.Architectures) == 0 {
		v.Architectures = []string{"x86_64"}
	}
	if err := p.validateVersion(v); err != nil {
		return store.Version{}, err
	}
	if err := p.setCode(ctx, &v, f.Code); err != nil {
		return store.Version{}, err
	}
	if err := p.resolveLayers(ctx, &v); err != nil {
		return store.Version{}, err
	}
	fn, err := p.opts.Store.CreateFunction(ctx, store.Function{Latest: v, Tags: f.Tags, Created: now})
	if err != nil {
		return store.Version{}, storeError(err, "", "Function already exist: "+f.Name)
	}
	if f.Publish {
		return p.publish(ctx, fn, Publish{})
	}
	return v, nil
}

// ConfigChange is an UpdateFunctionConfiguration request, decoded. A nil
// pointer leaves its member as it is.
type ConfigChange struct {
	Role             *string
	Handler          *string
	Description      *string
	Runtime          *string
	Timeout          *int
	MemorySize       *int
	EphemeralStorage *int
	// Environment replaces the variables; an empty map removes them.
	Environment *map[string]string
	Layers      *[]string
	ImageConfig *ImageConfig
	// RevisionID, when set, must be $LATEST's.
	RevisionID string
}

// UpdateConfiguration changes $LATEST's configuration and returns it.
func (p *Plane) UpdateConfiguration(ctx context.Context, name string, c ConfigChange) (store.Version, error) {
	return p.updateLatest(ctx, name, c.RevisionID, false, func(v *store.Version) error {
		if c.Role != nil {
			if err := checkRole(*c.Role); err != nil {
				return err
			}
			v.Role = *c.Role
		}
		setIf(&v.Handler, c.Handler)
		setIf(&v.Description, c.Description)
		setIf(&v.Runtime, c.Runtime)
		setIf(&v.Timeout, c.Timeout)
		setIf(&v.MemorySize, c.MemorySize)
		if c.Environment != nil {
			v.Environment = envVars(*c.Environment)
		}
		setIf(&v.Layers, c.Layers)
		setIf(&v.EphemeralStorage, c.EphemeralStorage)
		if v.PackageType == PackageImage && (v.Runtime != "" || v.Handler != "" || len(v.Layers) > 0) {
			return invocation.Errorf(invocation.ErrInvalid, "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image.")
		}
		if c.ImageConfig != nil {
			if v.PackageType != PackageImage {
				return invocation.Errorf(invocation.ErrInvalid, "Please don't provide ImageConfig when updating a function with packageType %s.", v.PackageType)
			}
			cfg, err := imageConfig(c.ImageConfig)
			if err != nil {
				return err
			}
			v.ImageConfig = cfg
		}
		if err := p.validateVersion(*v); err != nil {
			return err
		}
		return p.resolveLayers(ctx, v)
	})
}

// CodeChange is an UpdateFunctionCode request, decoded.
type CodeChange struct {
	Code    Code
	Publish bool
	// RevisionID, when set, must be $LATEST's.
	RevisionID string
	// Architectures, when set, replaces $LATEST's.
	Architectures []string
}

// UpdateCode stores new code for $LATEST and returns it, or with Publish
// the version it publishes.
func (p *Plane) UpdateCode(ctx context.Context, name string, c CodeChange) (store.Version, error) {
	fn, err := p.opts.Store.GetFunction(ctx, name)
	if err != nil {
		return store.Version{}, storeError(err, p.functionNotFound(name), "")
	}
	// A function's package type is for good; the code must be of it.
	switch image := c.Code.ImageURI != ""; {
	case fn.Latest.PackageType == PackageImage && !image:
		return store.Version{}, invocation.Errorf(invocation.ErrInvalid, "Please provide ImageUri when updating a function with packageType Image.")
	case fn.Latest.PackageType != PackageImage && image:
		return store.Version{}, invocation.Errorf(invocation.ErrInvalid, "Please don't provide ImageUri when updating a function with packageType Zip.")
	}
	// The code is made ready (stored, or its image pulled) before the
	// update's compare-and-set, which may run more than once.
	code := fn.Latest
	if c.Architectures != nil {
		code.Architectures = c.Architectures
		if err := p.validateVersion(code); err != nil {
			return store.Version{}, err
		}
	}
	if err := p.setCode(ctx, &code, c.Code); err != nil {
		return store.Version{}, err
	}
	return p.updateLatest(ctx, name, c.RevisionID, c.Publish, func(v *store.Version) error {
		if c.Architectures != nil {
			v.Architectures = c.Architectures
		}
		v.CodeDigest, v.CodeSha256, v.CodeSize, v.UnzippedSize = code.CodeDigest, code.CodeSha256, code.CodeSize, code.UnzippedSize
		v.ImageURI, v.ImageDigest = code.ImageURI, code.ImageDigest
		if err := p.validateVersion(*v); err != nil {
			return err
		}
		return p.resolveLayers(ctx, v)
	})
}

// setCode gives v its code: a zip stored, or a container image held.
func (p *Plane) setCode(ctx context.Context, v *store.Version, c Code) error {
	if v.PackageType == PackageImage {
		return p.setImage(ctx, v, c.ImageURI)
	}
	code, err := p.storeCode(ctx, c)
	if err != nil {
		return err
	}
	v.CodeDigest, v.CodeSha256, v.CodeSize, v.UnzippedSize = code.Digest, code.Sha256, code.Size, code.Unzipped
	return nil
}

// checkPackage checks that a new function's members fit its package
// type, as Lambda does.
func checkPackage(f NewFunction) error {
	switch {
	case f.PackageType != PackageZip && f.PackageType != PackageImage:
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%s' at 'packageType' failed to satisfy constraint: Member must satisfy enum value set: [Image, Zip]", f.PackageType)
	case f.PackageType == PackageImage && f.Code.ImageURI == "":
		return invocation.Errorf(invocation.ErrInvalid, "Please provide ImageUri when creating a function with packageType Image.")
	case f.PackageType == PackageImage && (len(f.Code.ZipFile) > 0 || f.Code.S3Bucket != "" || f.Code.S3Key != ""):
		return invocation.Errorf(invocation.ErrInvalid, "Please don't provide ZipFile or S3Bucket/S3Key when creating a function with packageType Image.")
	case f.PackageType == PackageImage && (f.Runtime != "" || f.Handler != ""):
		return invocation.Errorf(invocation.ErrInvalid, "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image.")
	case f.PackageType == PackageImage && len(f.Layers) > 0:
		return invocation.Errorf(invocation.ErrInvalid, "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image.")
	case f.PackageType == PackageZip && f.ImageConfig != nil:
		return invocation.Errorf(invocation.ErrInvalid, "Please don't provide ImageConfig when creating a function with packageType Zip.")
	}
	return nil
}

// updateLatest applies change to $LATEST, compare-and-set, and returns the
// new $LATEST (or, with publish, the version it publishes).
func (p *Plane) updateLatest(ctx context.Context, name, revision string, publish bool, change func(*store.Version) error) (store.Version, error) {
	fn, err := p.opts.Store.GetFunction(ctx, name)
	if err != nil {
		return store.Version{}, storeError(err, p.functionNotFound(name), "")
	}
	if revision != "" && revision != fn.Latest.RevisionID {
		return store.Version{}, revisionMismatch()
	}
	v := fn.Latest
	if err := change(&v); err != nil {
		return store.Version{}, err
	}
	v.LastModified = p.opts.Now()
	v.RevisionID = newRevisionID()
	v.State, v.LastUpdateStatus = "Active", "Successful"
	fn.Latest = v
	fn, err = p.opts.Store.UpdateFunction(ctx, fn)
	if err != nil {
		return store.Version{}, storeError(err, p.FunctionARN(name), "")
	}
	if publish {
		return p.publish(ctx, fn, Publish{})
	}
	return fn.Latest, nil
}

// DeleteFunction deletes a function with its versions and aliases, or,
// with a version number as qualifier, that version, which no alias may
// route to.
func (p *Plane) DeleteFunction(ctx context.Context, name, qualifier string) error {
	switch {
	case qualifier == "":
		if err := p.opts.Store.DeleteFunction(ctx, name); err != nil {
			return storeError(err, p.functionNotFound(name), "")
		}
		return nil
	case qualifier == function.LatestVersion:
		return invocation.Errorf(invocation.ErrInvalid, "$LATEST version cannot be deleted without deleting the function.")
	case !IsVersionNumber(qualifier):
		return invocation.Errorf(invocation.ErrInvalid, "Deletion of aliases is not supported with DeleteFunction; use DeleteAlias.")
	}
	aliases, err := p.opts.Store.ListAliases(ctx, name)
	if err != nil {
		return storeError(err, "Function not found: "+p.qualifiedARN(name, qualifier), "")
	}
	for _, a := range aliases {
		if _, weighted := a.Weights[qualifier]; a.FunctionVersion == qualifier || weighted {
			return invocation.Errorf(invocation.ErrConflict,
				"Unable to delete version because the following aliases reference it: [%s]", a.Name)
		}
	}
	if err := p.opts.Store.DeleteVersion(ctx, name, qualifier); err != nil {
		return storeError(err, "Function not found: "+p.qualifiedARN(name, qualifier), "")
	}
	return nil
}

// Function reads a function and the version that qualifier names:
// $LATEST (or none), a number, or an alias's version.
func (p *Plane) Function(ctx context.Context, name, qualifier string) (store.Function, store.Version, error) {
	notFound := "Function not found: " + p.qualifiedARN(name, qualifier)
	fn, err := p.opts.Store.GetFunction(ctx, name)
	if err != nil {
		return fn, store.Version{}, storeError(err, notFound, "")
	}
	version := qualifier
	switch {
	case qualifier == "" || qualifier == function.LatestVersion:
		return fn, fn.Latest, nil
	case !IsVersionNumber(qualifier):
		a, err := p.opts.Store.GetAlias(ctx, name, qualifier)
		if err != nil {
			return fn, store.Version{}, storeError(err, notFound, "")
		}
		version = a.FunctionVersion
		if version == function.LatestVersion {
			return fn, fn.Latest, nil
		}
	}
	v, err := p.opts.Store.GetVersion(ctx, name, version)
	if err != nil {
		return fn, store.Version{}, storeError(err, "Function not found: "+p.qualifiedARN(name, version), "")
	}
	return fn, v, nil
}

// FunctionNames lists the functions' names, sorted.
func (p *Plane) FunctionNames(ctx context.Context) ([]string, error) {
	return p.opts.Store.FunctionNames(ctx)
}

// Latest reads the $LATEST of each named function, leaving out those
// deleted since their names were read.
func (p *Plane) Latest(ctx context.Context, names []string) ([]store.Version, error) {
	out := make([]store.Version, 0, len(names))
	for _, name := range names {
		fn, err := p.opts.Store.GetFunction(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, fn.Latest)
	}
	return out, nil
}

// AllVersions lists every function's $LATEST followed by its published
// versions, function by function.
func (p *Plane) AllVersions(ctx context.Context) ([]store.Version, error) {
	fns, err := p.opts.Store.ListFunctions(ctx)
	if err != nil {
		return nil, err
	}
	var all []store.Version
	for _, fn := range fns {
		all = append(all, fn.Latest)
		vs, err := p.opts.Store.ListVersions(ctx, fn.Latest.FunctionName)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			if v.Version != function.LatestVersion {
				all = append(all, v)
			}
		}
	}
	return all, nil
}

// FunctionExists answers the not-found error of a function that is not
// in the store.
func (p *Plane) FunctionExists(ctx context.Context, name string) error {
	if _, err := p.opts.Store.GetFunction(ctx, name); err != nil {
		return storeError(err, p.functionNotFound(name), "")
	}
	return nil
}

func checkRole(role string) error {
	if !rolePattern().MatchString(role) {
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%s' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+", role)
	}
	return nil
}

// validateVersion checks a configuration against Lambda's limits.
func (p *Plane) validateVersion(v store.Version) error {
	switch {
	case v.MemorySize < function.MinMemoryMB || v.MemorySize > function.MaxMemoryMB:
		return invocation.Errorf(invocation.ErrInvalid,
			"'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to %d", function.MaxMemoryMB)
	case v.Timeout < 1 || v.Timeout > int(function.MaxTimeout/time.Second):
		return invocation.Errorf(invocation.ErrInvalid,
			"Timeout value %d is outside the allowed range of 1 to %d seconds", v.Timeout, int(function.MaxTimeout/time.Second))
	case v.EphemeralStorage < function.MinTmpMB || v.EphemeralStorage > function.MaxTmpMB:
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%d' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value between %d and %d", v.EphemeralStorage, function.MinTmpMB, function.MaxTmpMB)
	case len(v.Description) > 256:
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256")
	case len(v.Architectures) != 1 || v.Architectures[0] != "x86_64" && v.Architectures[0] != "arm64":
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%v' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]", v.Architectures)
	case len(v.Layers) > 5:
		return invocation.Errorf(invocation.ErrInvalid, "Cannot reference more than 5 layers.")
	}
	if v.Runtime != "" && !slices.Contains(modelRuntimes, v.Runtime) {
		return invocation.Errorf(invocation.ErrInvalid,
			"Value %s at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: %v or be a valid ARN", v.Runtime, modelRuntimes)
	}
	size := 0
	for k, val := range v.Environment {
		size += len(k) + len(val)
	}
	if size > 4096 {
		return invocation.Errorf(invocation.ErrInvalid,
			"Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %d", size)
	}
	return p.checkRuntime(v.Runtime)
}

// checkRuntime refuses a runtime that no interpreter here serves, naming
// the ones that are; a deprecated name is accepted with a warning.
func (p *Plane) checkRuntime(name string) error {
	if name == "" {
		return nil
	}
	rt, err := p.opts.Runtimes.Lookup(name)
	if err != nil {
		return invocation.Errorf(invocation.ErrInvalid, "The runtime parameter of %s is not supported by this ember server: %v", name, err)
	}
	if rt.Deprecated {
		p.log.Warn("a function uses a runtime that Lambda has deprecated", "runtime", name)
	}
	return nil
}

// modelRuntimes are the Runtime values of the API model.
var modelRuntimes = []string{"nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x", "nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x", "java8", "java8.al2", "java11", "java17", "java21", "java25", "python2.7", "python3.6", "python3.7", "python3.8", "python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14", "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "dotnet6", "dotnet8", "dotnet10", "nodejs4.3-edge", "go1.x", "ruby2.5", "ruby2.7", "ruby3.2", "ruby3.3", "ruby3.4", "ruby4.0", "provided", "provided.al2", "provided.al2023", "nodejs26.x", "python3.15", "java8.al2023", "java11.al2023", "java17.al2023"}

// envVars keeps no empty map of variables.
func envVars(vars map[string]string) map[string]string {
	if len(vars) == 0 {
		return nil
	}
	return vars
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
