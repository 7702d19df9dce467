package control

import (
	"context"
	"regexp"
	"testing"

	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
)

func TestURLs(t *testing.T) {
	ctx := context.Background()
	p := newPlane(t)
	p.opts.URLPort = "9001"
	none, iam, streamed, bad := "NONE", "AWS_IAM", "RESPONSE_STREAM", "BASIC"

	_, err := p.CreateURL(ctx, "fn", "", URLChange{AuthType: &none})
	wantClass(t, "a URL of a missing function", err, invocation.ErrNotFound)
	create(t, p, "fn")
	u, err := p.CreateURL(ctx, "fn", "", URLChange{AuthType: &none, Cors: &store.URLCors{AllowOrigins: []string{"*"}, MaxAge: 60}})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^http://[a-z0-9]{32}\.lambda-url\.us-east-1\.localhost:9001/$`).MatchString(p.FunctionURL(u)) ||
		u.InvokeMode != "BUFFERED" || u.AuthType != "NONE" || u.CreationTime.IsZero() || u.Cors == nil || u.Cors.MaxAge != 60 {
		t.Errorf("created %+v at %s", u, p.FunctionURL(u))
	}
	if u.ID != p.URLID("fn", "") || p.URLID("fn", "") == p.URLID("fn", "live") {
		t.Errorf("URL ids: %s, %s, %s", u.ID, p.URLID("fn", ""), p.URLID("fn", "live"))
	}
	_, err = p.CreateURL(ctx, "fn", "", URLChange{AuthType: &none})
	wantClass(t, "a second URL", err, invocation.ErrConflict)
	_, err = p.CreateURL(ctx, "fn", "1", URLChange{AuthType: &none})
	wantClass(t, "a URL of a version", err, invocation.ErrValidation)
	_, err = p.CreateURL(ctx, "fn", "$LATEST", URLChange{AuthType: &none})
	wantClass(t, "a URL of $LATEST by name", err, invocation.ErrValidation)
	_, err = p.CreateURL(ctx, "fn", "live", URLChange{AuthType: &none})
	wantClass(t, "a URL of a missing alias", err, invocation.ErrNotFound)
	_, err = p.CreateURL(ctx, "fn", "", URLChange{})
	wantClass(t, "a URL without AuthType", err, invocation.ErrValidation)
	create(t, p, "other")
	_, err = p.CreateURL(ctx, "other", "", URLChange{AuthType: &bad})
	wantClass(t, "AuthType BASIC", err, invocation.ErrValidation)
	_, err = p.CreateURL(ctx, "other", "", URLChange{AuthType: &none, Cors: &store.URLCors{AllowMethods: []string{"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"}}})
	wantClass(t, "seven methods", err, invocation.ErrValidation)
	_, err = p.CreateURL(ctx, "other", "", URLChange{AuthType: &none, Cors: &store.URLCors{MaxAge: 86401}})
	wantClass(t, "MaxAge 86401", err, invocation.ErrValidation)
	_, err = p.CreateURL(ctx, "other", "", URLChange{AuthType: &none, Cors: &store.URLCors{AllowMethods: []string{"FETCH"}}})
	wantClass(t, "method FETCH", err, invocation.ErrInvalid)

	if _, err := p.CreateAlias(ctx, "fn", NewAlias{Name: "live", FunctionVersion: "$LATEST"}); err != nil {
		t.Fatal(err)
	}
	live, err := p.CreateURL(ctx, "fn", "live", URLChange{AuthType: &iam, InvokeMode: &streamed})
	if err != nil {
		t.Fatal(err)
	}
	if p.URLFunctionARN(live) != "arn:aws:lambda:us-east-1:123456789012:function:fn:live" {
		t.Errorf("the alias URL's ARN %s", p.URLFunctionARN(live))
	}
	upd, err := p.UpdateURL(ctx, "fn", "", URLChange{AuthType: &iam})
	if err != nil || upd.AuthType != "AWS_IAM" || upd.Cors == nil || !upd.CreationTime.Equal(u.CreationTime) {
		t.Errorf("UpdateURL: %+v, %v", upd, err)
	}
	byID, err := p.URLByID(ctx, live.ID)
	if err != nil || byID.Qualifier != "live" || byID.InvokeMode != "RESPONSE_STREAM" {
		t.Errorf("URLByID: %+v, %v", byID, err)
	}
	list, err := p.URLs(ctx, "fn")
	if err != nil || len(list) != 2 {
		t.Errorf("URLs: %+v, %v", list, err)
	}
	if err := p.DeleteAlias(ctx, "fn", "live"); err != nil {
		t.Fatal(err)
	}
	_, err = p.URLByID(ctx, live.ID)
	wantClass(t, "the URL of a deleted alias", err, invocation.ErrNotFound)
	if err := p.DeleteURL(ctx, "fn", ""); err != nil {
		t.Fatal(err)
	}
	err = p.DeleteURL(ctx, "fn", "")
	wantClass(t, "a second deletion", err, invocation.ErrNotFound)
	if err.Error() != "The resource you requested does not exist." {
		t.Errorf("a second deletion: %q", err)
	}
}
