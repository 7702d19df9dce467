package control

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
)

const role = "arn:aws:iam::123456789012:role/lambda"

// newPlane returns a control plane over a real store in a temporary
// directory, with Lambda's default account concurrency.
func newPlane(t *testing.T) *Plane {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(Options{Store: st, Region: "us-east-1", AccountID: "123456789012", AccountConcurrency: 1000})
}

// bootstrapZip is a zip holding an executable bootstrap that prints text.
func bootstrapZip(t *testing.T, text string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("#!/bin/sh\necho " + text + "\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func create(t *testing.T, p *Plane, name string) store.Version {
	t.Helper()
	v, err := p.CreateFunction(context.Background(), NewFunction{Name: name, Role: role, Code: Code{ZipFile: bootstrapZip(t, name)}})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return v
}

// wantClass fails unless err is of class.
func wantClass(t *testing.T, what string, err, class error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Errorf("%s: got %v, want an error of class %q", what, err, class)
	}
}

func ptr[T any](v T) *T { return &v }

func TestCreateDefaults(t *testing.T) {
	p := newPlane(t)
	v := create(t, p, "fn")
	if v.Version != function.LatestVersion || v.MemorySize != 128 || v.Timeout != 3 || v.EphemeralStorage != 512 ||
		len(v.Architectures) != 1 || v.Architectures[0] != "x86_64" || v.PackageType != "Zip" || v.State != "Active" || v.CodeSha256 == "" {
		t.Errorf("created %+v, want Lambda's defaults", v)
	}
	_, err := p.CreateFunction(context.Background(), NewFunction{Name: "fn", Role: role, Code: Code{ZipFile: bootstrapZip(t, "again")}})
	wantClass(t, "create again", err, invocation.ErrConflict)
}

func TestCreateRefusals(t *testing.T) {
	p := newPlane(t)
	ctx := context.Background()
	zip := bootstrapZip(t, "x")
	for _, c := range []struct {
		name  string
		f     NewFunction
		class error
	}{
		{"bad role", NewFunction{Role: "nobody", Code: Code{ZipFile: zip}}, invocation.ErrValidation},
		{"image", NewFunction{Role: role, Code: Code{ImageURI: "example/image:1"}}, invocation.ErrInvalid},
		{"memory", NewFunction{Role: role, MemorySize: ptr(64), Code: Code{ZipFile: zip}}, invocation.ErrInvalid},
		{"timeout", NewFunction{Role: role, Timeout: ptr(901), Code: Code{ZipFile: zip}}, invocation.ErrInvalid},
		{"tmp", NewFunction{Role: role, EphemeralStorage: ptr(256), Code: Code{ZipFile: zip}}, invocation.ErrValidation},
		{"architecture", NewFunction{Role: role, Architectures: []string{"mips"}, Code: Code{ZipFile: zip}}, invocation.ErrValidation},
		{"environment", NewFunction{Role: role, Environment: map[string]string{"A": string(make([]byte, 4096))}, Code: Code{ZipFile: zip}}, invocation.ErrInvalid},
		{"not a zip", NewFunction{Role: role, Code: Code{ZipFile: []byte("not a zip")}}, invocation.ErrInvalid},
		{"no code", NewFunction{Role: role}, invocation.ErrInvalid},
		{"S3", NewFunction{Role: role, Code: Code{S3Bucket: "bucket", S3Key: "key.zip"}}, invocation.ErrInvalid},
		{"local code refused", NewFunction{Role: role, Code: Code{S3Bucket: LocalCodeBucket, S3Key: "/tmp"}}, invocation.ErrInvalid},
		{"unknown layer", NewFunction{Role: role, Layers: []string{"arn:aws:lambda:us-east-1:123456789012:layer:none:1"}, Code: Code{ZipFile: zip}}, invocation.ErrInvalid},
	} {
		c.f.Name = "refused"
		_, err := p.CreateFunction(ctx, c.f)
		wantClass(t, c.name, err, c.class)
	}
	if names, err := p.FunctionNames(ctx); err != nil || len(names) != 0 {
		t.Errorf("functions after refusals: %v, %v; want none", names, err)
	}
}

func TestPublish(t *testing.T) {
	p := newPlane(t)
	ctx := context.Background()
	create(t, p, "fn")
	v1, err := p.PublishVersion(ctx, "fn", Publish{})
	if err != nil || v1.Version != "1" {
		t.Fatalf("publish: %v, %v; want version 1", v1.Version, err)
	}
	// Lambda gives back the last version while $LATEST is unchanged.
	again, err := p.PublishVersion(ctx, "fn", Publish{Description: "same"})
	if err != nil || again.Version != "1" {
		t.Errorf("publish unchanged: %v, %v; want version 1 again", again.Version, err)
	}
	_, err = p.PublishVersion(ctx, "fn", Publish{CodeSha256: "other"})
	wantClass(t, "publish with another CodeSha256", err, invocation.ErrInvalid)
	_, err = p.PublishVersion(ctx, "fn", Publish{RevisionID: "stale"})
	wantClass(t, "publish with a stale revision", err, invocation.ErrPrecondition)
	if _, err := p.UpdateConfiguration(ctx, "fn", ConfigChange{MemorySize: ptr(256)}); err != nil {
		t.Fatal(err)
	}
	v2, err := p.PublishVersion(ctx, "fn", Publish{})
	if err != nil || v2.Version != "2" || v2.MemorySize != 256 {
		t.Errorf("publish changed: %+v, %v; want version 2 of 256 MB", v2, err)
	}
	_, err = p.PublishVersion(ctx, "none", Publish{})
	wantClass(t, "publish a missing function", err, invocation.ErrNotFound)
}

func TestUpdates(t *testing.T) {
	p := newPlane(t)
	ctx := context.Background()
	latest := create(t, p, "fn")
	_, err := p.UpdateConfiguration(ctx, "fn", ConfigChange{RevisionID: "stale"})
	wantClass(t, "update with a stale revision", err, invocation.ErrPrecondition)
	_, err = p.UpdateConfiguration(ctx, "fn", ConfigChange{Role: ptr("nobody")})
	wantClass(t, "update with a bad role", err, invocation.ErrValidation)
	v, err := p.UpdateConfiguration(ctx, "fn", ConfigChange{RevisionID: latest.RevisionID, Environment: &map[string]string{"A": "1"}})
	if err != nil || v.Environment["A"] != "1" || v.RevisionID == latest.RevisionID {
		t.Fatalf("update: %+v, %v", v, err)
	}
	v, err = p.UpdateConfiguration(ctx, "fn", ConfigChange{Environment: &map[string]string{}})
	if err != nil || v.Environment != nil {
		t.Errorf("update with no variables: %v, %v; want none", v.Environment, err)
	}
	v, err = p.UpdateCode(ctx, "fn", CodeChange{Code: Code{ZipFile: bootstrapZip(t, "new")}, Publish: true})
	if err != nil || v.Version != "1" || v.CodeSha256 == latest.CodeSha256 {
		t.Errorf("update code and publish: %+v, %v; want version 1 of new code", v, err)
	}
	_, err = p.UpdateCode(ctx, "none", CodeChange{Code: Code{ZipFile: bootstrapZip(t, "new")}})
	wantClass(t, "update a missing function", err, invocation.ErrNotFound)
}

func TestAliasesAndDeletes(t *testing.T) {
	p := newPlane(t)
	ctx := context.Background()
	create(t, p, "fn")
	if _, err := p.PublishVersion(ctx, "fn", Publish{}); err != nil {
		t.Fatal(err)
	}
	_, err := p.CreateAlias(ctx, "fn", NewAlias{Name: "live", FunctionVersion: "7"})
	wantClass(t, "alias to a missing version", err, invocation.ErrNotFound)
	_, err = p.CreateAlias(ctx, "fn", NewAlias{Name: "live", FunctionVersion: function.LatestVersion, Weights: map[string]float64{"1": 0.5}})
	wantClass(t, "weights beside $LATEST", err, invocation.ErrInvalid)
	_, err = p.CreateAlias(ctx, "fn", NewAlias{Name: "live", FunctionVersion: "1", Weights: map[string]float64{"1": 0.5}})
	wantClass(t, "weight on the alias's own version", err, invocation.ErrInvalid)
	_, err = p.CreateAlias(ctx, "fn", NewAlias{Name: "live", FunctionVersion: "1", Weights: map[string]float64{"2": 1.5}})
	wantClass(t, "weight above 1", err, invocation.ErrValidation)
	_, err = p.CreateAlias(ctx, "none", NewAlias{Name: "live", FunctionVersion: "1"})
	wantClass(t, "alias of a missing function", err, invocation.ErrNotFound)
	if _, err := p.CreateAlias(ctx, "fn", NewAlias{Name: "live", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	_, err = p.CreateAlias(ctx, "fn", NewAlias{Name: "live", FunctionVersion: "1"})
	wantClass(t, "alias again", err, invocation.ErrConflict)

	_, v, err := p.Function(ctx, "fn", "live")
	if err != nil || v.Version != "1" {
		t.Errorf("the alias resolves to %q, %v; want version 1", v.Version, err)
	}
	wantClass(t, "delete $LATEST alone", p.DeleteFunction(ctx, "fn", function.LatestVersion), invocation.ErrInvalid)
	wantClass(t, "delete an alias", p.DeleteFunction(ctx, "fn", "live"), invocation.ErrInvalid)
	wantClass(t, "delete a version an alias uses", p.DeleteFunction(ctx, "fn", "1"), invocation.ErrConflict)
	if err := p.DeleteAlias(ctx, "fn", "live"); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteAlias(ctx, "fn", "live"); err != nil {
		t.Errorf("delete a deleted alias: %v; want none, as Lambda", err)
	}
	if err := p.DeleteFunction(ctx, "fn", "1"); err != nil {
		t.Errorf("delete version 1: %v", err)
	}
	_, _, err = p.Function(ctx, "fn", "1")
	wantClass(t, "read a deleted version", err, invocation.ErrNotFound)
	if err := p.DeleteFunction(ctx, "fn", ""); err != nil {
		t.Fatal(err)
	}
	wantClass(t, "delete a deleted function", p.DeleteFunction(ctx, "fn", ""), invocation.ErrNotFound)
}

func TestReservedConcurrency(t *testing.T) {
	p := newPlane(t)
	ctx := context.Background()
	create(t, p, "a")
	create(t, p, "b")
	if err := p.PutConcurrency(ctx, "a", 900); err != nil {
		t.Fatal(err)
	}
	// 1000 - 900 - 1 leaves 99, below the 100 Lambda keeps unreserved.
	wantClass(t, "reserve past the unreserved minimum", p.PutConcurrency(ctx, "b", 1), invocation.ErrInvalid)
	// Replacing a's own reservation does not count it twice.
	if err := p.PutConcurrency(ctx, "a", 899); err != nil {
		t.Errorf("lower a's reservation: %v", err)
	}
	if err := p.PutConcurrency(ctx, "b", 1); err != nil {
		t.Errorf("reserve the one freed: %v", err)
	}
	wantClass(t, "reserve a negative number", p.PutConcurrency(ctx, "b", -1), invocation.ErrValidation)
	wantClass(t, "reserve for a missing function", p.PutConcurrency(ctx, "none", 1), invocation.ErrNotFound)
	s, err := p.AccountSettings(ctx)
	if err != nil || s.ConcurrentExecutions != 1000 || s.UnreservedConcurrentExecutions != 100 || s.FunctionCount != 2 {
		t.Errorf("account settings %+v, %v; want 100 of 1000 unreserved, 2 functions", s, err)
	}
	if err := p.DeleteConcurrency(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Concurrency(ctx, "a"); err != nil || n != nil {
		t.Errorf("a's reservation after delete: %v, %v; want none", n, err)
	}
	if n, err := p.Concurrency(ctx, "b"); err != nil || n == nil || *n != 1 {
		t.Errorf("b's reservation: %v, %v; want 1", n, err)
	}
}

func TestLayers(t *testing.T) {
	p := newPlane(t)
	ctx := context.Background()
	lv, err := p.PublishLayerVersion(ctx, NewLayerVersion{Name: "lib", Content: Code{ZipFile: bootstrapZip(t, "lib")}})
	if err != nil || lv.Version != 1 {
		t.Fatalf("publish layer: %+v, %v", lv, err)
	}
	_, err = p.PublishLayerVersion(ctx, NewLayerVersion{Name: "lib", CompatibleRuntimes: []string{"cobol"}, Content: Code{ZipFile: bootstrapZip(t, "lib")}})
	wantClass(t, "layer for an unknown runtime", err, invocation.ErrValidation)
	arn := p.LayerARN("lib") + ":1"
	got, err := p.LayerVersionByARN(ctx, arn)
	if err != nil || got.Version != 1 {
		t.Errorf("layer by ARN: %+v, %v", got, err)
	}
	_, err = p.LayerVersionByARN(ctx, "arn:aws:lambda:eu-west-1:123456789012:layer:lib:1")
	wantClass(t, "layer of another region", err, invocation.ErrNotFound)
	if name, err := p.LayerName(p.LayerARN("lib")); err != nil || name != "lib" {
		t.Errorf("layer name of its ARN: %q, %v", name, err)
	}
	v, err := p.CreateFunction(ctx, NewFunction{Name: "fn", Role: role, Layers: []string{arn}, Code: Code{ZipFile: bootstrapZip(t, "fn")}})
	if err != nil || len(v.LayerDigests) != 1 || v.LayerDigests[0] != lv.CodeDigest || v.LayerSizes[0] != lv.CodeSize {
		t.Errorf("function with the layer: %+v, %v", v, err)
	}
	_, err = p.UpdateConfiguration(ctx, "fn", ConfigChange{Layers: &[]string{arn, arn, arn, arn, arn, arn}})
	wantClass(t, "six layers", err, invocation.ErrInvalid)
	if err := p.DeleteLayerVersion(ctx, "lib", 1); err != nil {
		t.Fatal(err)
	}
	_, err = p.LayerVersion(ctx, "lib", 1)
	wantClass(t, "read a deleted layer version", err, invocation.ErrNotFound)
}
