package control

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/emberfn/ember/internal/image"
	"github.com/emberfn/ember/internal/image/imagetest"
	"github.com/emberfn/ember/internal/invocation"
)

// imagePlane is a control plane with an image store holding "fn:v1" and
// "fn:v2", two images of one small layer each.
func imagePlane(t *testing.T) (*Plane, map[string]image.Image) {
	t.Helper()
	p := newPlane(t)
	images, err := image.Open(t.TempDir(), image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.opts.Images = images
	p.opts.AllowLocalCode = true
	held := map[string]image.Image{}
	for _, tag := range []string{"v1", "v2"} {
		img := imagetest.Image(t, v1.Config{Entrypoint: []string{"/bootstrap"}, Cmd: []string{"app." + tag}},
			"x86_64", imagetest.Layer(t, imagetest.File{Name: "bootstrap", Body: tag, Mode: 0o755}))
		loaded, err := p.LoadImages(context.Background(), imagetest.WriteTarball(t, img, "fn:"+tag), "")
		if err != nil || len(loaded) != 1 {
			t.Fatalf("LoadImages fn:%s: %v, %+v", tag, err, loaded)
		}
		held[tag] = loaded[0]
	}
	return p, held
}

// wantMessage fails unless err is of class and says msg.
func wantMessage(t *testing.T, what string, err, class error, msg string) {
	t.Helper()
	wantClass(t, what, err, class)
	if err != nil && !strings.Contains(err.Error(), msg) {
		t.Errorf("%s: %v; want the message %q", what, err, msg)
	}
}

func TestImageFunctions(t *testing.T) {
	p, held := imagePlane(t)
	ctx := context.Background()
	v, err := p.CreateFunction(ctx, NewFunction{Name: "img", Role: role, PackageType: PackageImage, Code: Code{ImageURI: "fn:v1"},
		ImageConfig: &ImageConfig{Command: []string{"other.handler"}}})
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	if v.PackageType != PackageImage || v.ImageDigest != held["v1"].Digest || v.CodeSha256 != strings.TrimPrefix(held["v1"].Digest, "sha256:") ||
		v.CodeDigest != "" || v.CodeSize != 0 || v.ImageConfig == nil || v.ImageConfig.Command[0] != "other.handler" {
		t.Errorf("CreateFunction made %+v", v)
	}
	if got := ResolvedImageURI(v); got != "index.docker.io/library/fn@"+held["v1"].Digest {
		t.Errorf("ResolvedImageURI = %q", got)
	}

	// Lambda's refusals of what does not fit the package type.
	for _, c := range []struct {
		name string
		f    NewFunction
		msg  string
	}{
		{"image without ImageUri", NewFunction{PackageType: PackageImage}, "Please provide ImageUri when creating a function with packageType Image."},
		{"image with a runtime", NewFunction{PackageType: PackageImage, Runtime: "python3.12", Code: Code{ImageURI: "fn:v1"}}, "Please don't provide Handler or Runtime or Layer"},
		{"image with layers", NewFunction{PackageType: PackageImage, Layers: []string{"arn:aws:lambda:us-east-1:123456789012:layer:l:1"}, Code: Code{ImageURI: "fn:v1"}}, "Please don't provide Handler or Runtime or Layer"},
		{"image not held", NewFunction{PackageType: PackageImage, Code: Code{ImageURI: "127.0.0.1:1/none:v1"}}, "Source image 127.0.0.1:1/none:v1 does not exist. Provide a valid source image."},
		{"zip with ImageConfig", NewFunction{Code: Code{ZipFile: bootstrapZip(t, "x")}, ImageConfig: &ImageConfig{Command: []string{"x"}}}, "Please don't provide ImageConfig"},
		{"long working directory", NewFunction{PackageType: PackageImage, Code: Code{ImageURI: "fn:v1"}, ImageConfig: &ImageConfig{WorkingDirectory: ptr(strings.Repeat("d", 1001))}}, "Member must have length less than or equal to 1000"},
	} {
		c.f.Name, c.f.Role = "refused", role
		_, err := p.CreateFunction(ctx, c.f)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v; want %q", c.name, err, c.msg)
		}
	}

	// The package type is for good; new code of the same type is taken.
	_, err = p.UpdateCode(ctx, "img", CodeChange{Code: Code{ZipFile: bootstrapZip(t, "x")}})
	wantMessage(t, "a zip for an image function", err, invocation.ErrInvalid, "Please provide ImageUri when updating a function with packageType Image.")
	create(t, p, "zip")
	_, err = p.UpdateCode(ctx, "zip", CodeChange{Code: Code{ImageURI: "fn:v1"}})
	wantMessage(t, "an image for a zip function", err, invocation.ErrInvalid, "Please don't provide ImageUri when updating a function with packageType Zip.")
	_, err = p.UpdateConfiguration(ctx, "zip", ConfigChange{ImageConfig: &ImageConfig{Command: []string{"x"}}})
	wantClass(t, "ImageConfig for a zip function", err, invocation.ErrInvalid)
	_, err = p.UpdateConfiguration(ctx, "img", ConfigChange{Handler: ptr("app.handler")})
	wantMessage(t, "a handler for an image function", err, invocation.ErrInvalid, "Please don't provide Handler or Runtime or Layer")

	v2, err := p.UpdateCode(ctx, "img", CodeChange{Code: Code{ImageURI: "fn:v2"}, Publish: true})
	if err != nil {
		t.Fatalf("UpdateCode to fn:v2: %v", err)
	}
	if v2.Version != "1" || v2.ImageDigest != held["v2"].Digest || v2.ImageURI != "fn:v2" || v2.ImageConfig == nil {
		t.Errorf("UpdateCode published %+v", v2)
	}
	// An ImageConfig replaces the whole of the last one; an empty one
	// removes it.
	latest, err := p.UpdateConfiguration(ctx, "img", ConfigChange{ImageConfig: &ImageConfig{WorkingDirectory: ptr("/tmp")}})
	if err != nil || latest.ImageConfig == nil || latest.ImageConfig.Command != nil || latest.ImageConfig.WorkingDirectory != "/tmp" {
		t.Errorf("UpdateConfiguration with a working directory: %v, %+v", err, latest.ImageConfig)
	}
	if latest, err = p.UpdateConfiguration(ctx, "img", ConfigChange{ImageConfig: &ImageConfig{}}); err != nil || latest.ImageConfig != nil {
		t.Errorf("UpdateConfiguration with an empty ImageConfig: %v, %+v", err, latest.ImageConfig)
	}
	if pub, err := p.PublishVersion(ctx, "img", Publish{}); err != nil || pub.Version != "2" {
		t.Errorf("PublishVersion after an ImageConfig change: %v, version %q; want a new version 2", err, pub.Version)
	}

	// Images in use stay; the others go.
	if err := p.RemoveImage(ctx, "fn:v1"); err != nil {
		t.Errorf("remove fn:v1, which no version runs any more: %v", err)
	}
	err = p.RemoveImage(ctx, "fn:v2")
	wantMessage(t, "remove fn:v2, in use", err, invocation.ErrConflict, "")
	if err := p.DeleteFunction(ctx, "img", ""); err != nil {
		t.Fatal(err)
	}
	if err := p.RemoveImage(ctx, "fn:v2"); err != nil {
		t.Errorf("remove fn:v2 once its function is gone: %v", err)
	}
	if imgs, err := p.Images(); err != nil || len(imgs) != 0 {
		t.Errorf("images left: %+v, %v", imgs, err)
	}
	_, err = p.LoadImages(ctx, "relative/path", "")
	wantClass(t, "a relative path", err, invocation.ErrInvalid)
}
