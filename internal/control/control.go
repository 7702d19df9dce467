// Package control owns the control plane: the rules of functions,
// versions, aliases, function URLs, layers and concurrency, over the
// store. It takes typed values, already decoded from the wire, and
// answers with the store's records or with errors of invocation's
// classes, which the API's edge turns into AWS's shapes.
package control

import (
	"errors"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/image"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/runtimes"
	"github.com/emberfn/ember/internal/store"
)

// Options configure the control plane.
type Options struct {
	Store *store.Store
	// Runtimes tells which managed runtimes can run here.
	Runtimes *runtimes.Registry
	// Region and AccountID make the ARNs.
	Region    string
	AccountID string
	// AllowLocalCode accepts code from a path on this machine (see
	// LocalCodeBucket).
	AllowLocalCode bool
	// Images are the container images functions may run; nil refuses
	// functions of PackageType Image.
	Images *image.Store
	// AccountConcurrency is the server-wide limit that reservations are
	// taken from.
	AccountConcurrency int
	// URLPort is the port function URLs are served at, for their
	// addresses; empty leaves the port out.
	URLPort string
	Log     *slog.Logger
	Now     func() time.Time
}

// Plane applies Lambda's rules to the functions, versions, aliases and
// layers in the store.
type Plane struct {
	opts Options
	log  *slog.Logger
}

// New returns the control plane over opts.Store.
func New(opts Options) *Plane {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Runtimes == nil {
		opts.Runtimes = &runtimes.Registry{}
	}
	return &Plane{opts: opts, log: opts.Log}
}

// FunctionARN is the unqualified ARN of the named function.
func (p *Plane) FunctionARN(name string) string {
	return function.Config{Name: name, Region: p.opts.Region, AccountID: p.opts.AccountID}.ARN()
}

// qualifiedARN is the ARN of a function's version or alias.
func (p *Plane) qualifiedARN(name, qualifier string) string {
	arn := p.FunctionARN(name)
	if qualifier != "" {
		arn += ":" + qualifier
	}
	return arn
}

func (p *Plane) functionNotFound(name string) string {
	return "Function not found: " + p.FunctionARN(name)
}

// storeError turns the store's error classes into invocation's.
func storeError(err error, notFound, conflict string) error {
	switch {
	case errors.Is(err, store.ErrNotFound) && notFound != "":
		return invocation.Errorf(invocation.ErrNotFound, "%s", notFound)
	case errors.Is(err, store.ErrExists) && conflict != "":
		return invocation.Errorf(invocation.ErrConflict, "%s", conflict)
	case errors.Is(err, store.ErrChanged):
		return invocation.Errorf(invocation.ErrConflict,
			"The operation cannot be performed at this time. An update is in progress for resource: %s", notFound)
	}
	return err
}

// revisionMismatch is the error of a RevisionId that is no longer current.
func revisionMismatch() error {
	return invocation.Errorf(invocation.ErrPrecondition,
		"The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
}

// newRevisionID returns a RevisionId: a random UUID, as Lambda's.
func newRevisionID() string { return invocation.NewRequestID() }

// IsVersionNumber reports whether s names a published version.
func IsVersionNumber(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// pattern compiles expr on first use. The ember binary starts often (every
// sandbox's init stage is a start of it), and compiling every pattern at
// each start would cost it most of a millisecond.
func pattern(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// The API model's patterns that are rules of values, anchored.
var (
	versionPattern   = pattern(`^(\$LATEST|[0-9]{1,10})$`)
	rolePattern      = pattern(`^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`)
	layerNamePattern = pattern(`^[a-zA-Z0-9-_]{1,140}$`)
	layerARNPattern  = pattern(`^arn:(aws[a-zA-Z-]*)?:lambda:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):layer:([a-zA-Z0-9-_]+)(?::([0-9]+))?$`)
)
