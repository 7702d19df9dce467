package control

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
)

// Function URLs' values, as the API names them.
const (
	URLAuthNone     = "NONE"
	URLAuthIAM      = "AWS_IAM"
	URLBuffered     = "BUFFERED"
	URLStreamed     = "RESPONSE_STREAM"
	urlIDLength     = 32
	maxCorsMethods  = 6
	maxCorsMethod   = 6
	maxCorsList     = 100
	maxCorsHeader   = 1024
	maxCorsOrigin   = 253
	maxCorsMaxAge   = 86400
	urlNotFound     = "The resource you requested does not exist."
	urlQualifierExp = `((?!^\d+$)^[0-9a-zA-Z-_]+$)`
)

var urlQualifierPattern = pattern(`^[0-9a-zA-Z_-]{1,128}$`)

// URLChange is a CreateFunctionUrlConfig or UpdateFunctionUrlConfig
// request, decoded. A nil member is left as it is (on creation: AuthType
// is required, InvokeMode is BUFFERED and Cors none).
type URLChange struct {
	AuthType   *string
	InvokeMode *string
	Cors       *store.URLCors
}

// URLID is the id of the URL of a function's qualifier: 32 lower-case
// letters and digits, the same each time the URL is made.
func (p *Plane) URLID(name, qualifier string) string {
	sum := sha256.Sum256([]byte(p.opts.Region + "\x00" + p.opts.AccountID + "\x00" + name + "\x00" + qualifier))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:]))[:urlIDLength]
}

// FunctionURL is the address of a URL: http://<id>.lambda-url.<region>.localhost[:port]/.
func (p *Plane) FunctionURL(u store.URLConfig) string {
	host := u.ID + ".lambda-url." + p.opts.Region + ".localhost"
	if p.opts.URLPort != "" {
		host += ":" + p.opts.URLPort
	}
	return "http://" + host + "/"
}

// URLFunctionARN is the ARN a URL's configuration names: the function's,
// with the alias when there is one.
func (p *Plane) URLFunctionARN(u store.URLConfig) string {
	return p.qualifiedARN(u.FunctionName, u.Qualifier)
}

// checkURLTarget checks that a URL may be made for the qualifier: none
// ($LATEST) or an alias of the function, which must exist.
func (p *Plane) checkURLTarget(ctx context.Context, name, qualifier string) error {
	if qualifier != "" && (!urlQualifierPattern().MatchString(qualifier) || IsVersionNumber(qualifier)) {
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%s' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", qualifier, urlQualifierExp)
	}
	if err := p.FunctionExists(ctx, name); err != nil {
		return err
	}
	if qualifier != "" {
		if _, err := p.opts.Store.GetAlias(ctx, name, qualifier); err != nil {
			return storeError(err, "Function not found: "+p.qualifiedARN(name, qualifier), "")
		}
	}
	return nil
}

// CreateURL makes the URL of a function's $LATEST (qualifier empty) or of
// one of its aliases.
func (p *Plane) CreateURL(ctx context.Context, name, qualifier string, c URLChange) (store.URLConfig, error) {
	if c.AuthType == nil {
		return store.URLConfig{}, invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null")
	}
	if err := p.checkURLTarget(ctx, name, qualifier); err != nil {
		return store.URLConfig{}, err
	}
	now := p.opts.Now().UTC()
	u := store.URLConfig{ID: p.URLID(name, qualifier), FunctionName: name, Qualifier: qualifier,
		InvokeMode: URLBuffered, CreationTime: now, LastModifiedTime: now}
	if err := applyURLChange(&u, c); err != nil {
		return store.URLConfig{}, err
	}
	u, err := p.opts.Store.CreateURL(ctx, u)
	if err != nil {
		return store.URLConfig{}, storeError(err, p.functionNotFound(name), fmt.Sprintf(
			"Failed to create function url config for [functionArn = %s]. Error message:  FunctionUrlConfig exists for this Lambda function",
			p.qualifiedARN(name, qualifier)))
	}
	return u, nil
}

// URL reads the URL of a function's qualifier.
func (p *Plane) URL(ctx context.Context, name, qualifier string) (store.URLConfig, error) {
	if err := p.checkURLTarget(ctx, name, qualifier); err != nil {
		return store.URLConfig{}, err
	}
	u, err := p.opts.Store.GetURL(ctx, p.URLID(name, qualifier))
	if err != nil {
		return store.URLConfig{}, storeError(err, urlNotFound, "")
	}
	return u, nil
}

// URLByID reads the URL of an id, for serving it.
func (p *Plane) URLByID(ctx context.Context, id string) (store.URLConfig, error) {
	u, err := p.opts.Store.GetURL(ctx, id)
	if err != nil {
		return store.URLConfig{}, storeError(err, urlNotFound, "")
	}
	return u, nil
}

// UpdateURL changes the URL of a function's qualifier.
func (p *Plane) UpdateURL(ctx context.Context, name, qualifier string, c URLChange) (store.URLConfig, error) {
	u, err := p.URL(ctx, name, qualifier)
	if err != nil {
		return u, err
	}
	if err := applyURLChange(&u, c); err != nil {
		return store.URLConfig{}, err
	}
	u.LastModifiedTime = p.opts.Now().UTC()
	if u, err = p.opts.Store.UpdateURL(ctx, u); err != nil {
		return store.URLConfig{}, storeError(err, urlNotFound, "")
	}
	return u, nil
}

// DeleteURL deletes the URL of a function's qualifier.
func (p *Plane) DeleteURL(ctx context.Context, name, qualifier string) error {
	if err := p.checkURLTarget(ctx, name, qualifier); err != nil {
		return err
	}
	if err := p.opts.Store.DeleteURL(ctx, p.URLID(name, qualifier)); err != nil {
		return storeError(err, urlNotFound, "")
	}
	return nil
}

// URLs lists a function's URLs.
func (p *Plane) URLs(ctx context.Context, name string) ([]store.URLConfig, error) {
	us, err := p.opts.Store.ListURLs(ctx, name)
	if err != nil {
		return nil, storeError(err, p.functionNotFound(name), "")
	}
	return us, nil
}

// deleteAliasURL removes the URL of an alias that was deleted.
func (p *Plane) deleteAliasURL(ctx context.Context, name, alias string) error {
	if err := p.opts.Store.DeleteURL(ctx, p.URLID(name, alias)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// applyURLChange sets a request's members on u, checked as Lambda checks
// them.
func applyURLChange(u *store.URLConfig, c URLChange) error {
	if c.AuthType != nil {
		if *c.AuthType != URLAuthNone && *c.AuthType != URLAuthIAM {
			return invocation.Errorf(invocation.ErrValidation,
				"1 validation error detected: Value '%s' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]", *c.AuthType)
		}
		u.AuthType = *c.AuthType
	}
	if c.InvokeMode != nil {
		if *c.InvokeMode != URLBuffered && *c.InvokeMode != URLStreamed {
			return invocation.Errorf(invocation.ErrValidation,
				"1 validation error detected: Value '%s' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]", *c.InvokeMode)
		}
		u.InvokeMode = *c.InvokeMode
	}
	if c.Cors != nil {
		if err := checkCors(c.Cors); err != nil {
			return err
		}
		cors := *c.Cors
		u.Cors = &cors
	}
	return nil
}

// checkCors checks a Cors configuration against the API model's limits.
func checkCors(c *store.URLCors) error {
	tooLong := func(field string, v any, limit int) error {
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%v' at 'cors.%s' failed to satisfy constraint: Member must have length less than or equal to %d", v, field, limit)
	}
	lists := []struct {
		field   string
		values  []string
		max     int
		itemMax int
	}{
		{"allowMethods", c.AllowMethods, maxCorsMethods, maxCorsMethod},
		{"allowOrigins", c.AllowOrigins, maxCorsList, maxCorsOrigin},
		{"allowHeaders", c.AllowHeaders, maxCorsList, maxCorsHeader},
		{"exposeHeaders", c.ExposeHeaders, maxCorsList, maxCorsHeader},
	}
	for _, l := range lists {
		if len(l.values) > l.max {
			return tooLong(l.field, l.values, l.max)
		}
		for _, v := range l.values {
			if len(v) > l.itemMax {
				return tooLong(l.field+".member", v, l.itemMax)
			}
			if l.field == "allowOrigins" && v == "" {
				return invocation.Errorf(invocation.ErrValidation,
					"1 validation error detected: Value '' at 'cors.allowOrigins.member' failed to satisfy constraint: Member must have length greater than or equal to 1")
			}
		}
	}
	for _, m := range c.AllowMethods {
		switch strings.ToUpper(m) {
		case "*", "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS":
		default:
			return invocation.Errorf(invocation.ErrInvalid, "Invalid Cors AllowMethods value: %s", m)
		}
	}
	if c.MaxAge < 0 || c.MaxAge > maxCorsMaxAge {
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%d' at 'cors.maxAge' failed to satisfy constraint: Member must have value less than or equal to %d", c.MaxAge, maxCorsMaxAge)
	}
	return nil
}
