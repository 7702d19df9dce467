package image

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/emberfn/ember/internal/image/imagetest"
)

func TestPullWithBasicAuth(t *testing.T) {
	host := imagetest.Registry(t, "alice", "s3cret")
	good := &authn.Basic{Username: "alice", Password: "s3cret"}
	src := helloImage(t, "x86_64")
	imagetest.Push(t, host+"/fn:v1", src, good)

	s := openStore(t, Options{})
	ctx := context.Background()
	img, err := s.Pull(ctx, host+"/fn:v1", PullOptions{Auth: good})
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest != digestOf(t, src) || img.Architecture != "x86_64" {
		t.Errorf("pulled %s for %s", img.Digest, img.Architecture)
	}
	if want := host + "/fn:v1"; !slices.Equal(img.References, []string{want}) {
		t.Errorf("references %q, want %q", img.References, want)
	}
	dirs, err := s.LayerDirs(img)
	if err != nil || len(dirs) != 2 {
		t.Fatalf("layer dirs %q, %v", dirs, err)
	}

	_, err = s.Pull(ctx, host+"/fn:v1", PullOptions{Auth: &authn.Basic{Username: "alice", Password: "wrong"}})
	if err == nil {
		t.Fatal("pull with wrong credentials worked")
	}
	if !strings.Contains(err.Error(), "UNAUTHORIZED") || !strings.Contains(err.Error(), host+"/fn:v1") {
		t.Errorf("wrong credentials: %v; want the reference and UNAUTHORIZED named", err)
	}
	t.Log(err)
	_, err = s.Pull(ctx, host+"/fn:v1", PullOptions{Auth: authn.Anonymous})
	if err == nil {
		t.Fatal("anonymous pull worked")
	}

	// Credentials from a keychain.
	img2, err := s.Pull(ctx, host+"/fn:v1", PullOptions{Keychain: staticKeychain{host: host, auth: good}})
	if err != nil || img2.Digest != img.Digest {
		t.Errorf("pull with a keychain: %+v, %v", img2, err)
	}
}

// staticKeychain gives one registry's credentials.
type staticKeychain struct {
	host string
	auth authn.Authenticator
}

func (k staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() == k.host {
		return k.auth, nil
	}
	return authn.Anonymous, nil
}

func TestPullIndexByArchitecture(t *testing.T) {
	host := imagetest.Registry(t, "", "")
	amd := helloImage(t, "x86_64")
	arm := imagetest.Image(t, v1.Config{Cmd: []string{"arm"}}, "arm64", imagetest.Layer(t, imagetest.File{Name: "arch", Body: "arm64"}))
	idx := imagetest.Index(t, amd, arm)
	imagetest.PushIndex(t, host+"/multi:v1", idx, nil)
	only := imagetest.Image(t, v1.Config{}, "arm64", imagetest.Layer(t, imagetest.File{Name: "x", Body: "x"}))
	imagetest.Push(t, host+"/armonly:v1", only, nil)

	s := openStore(t, Options{})
	ctx := context.Background()
	img, err := s.Pull(ctx, host+"/multi:v1", PullOptions{Arch: "arm64", Keychain: authn.NewMultiKeychain()})
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest != digestOf(t, arm) || img.Architecture != "arm64" {
		t.Errorf("pulled %s (%s), want the arm64 image", img.Digest, img.Architecture)
	}
	img, err = s.Pull(ctx, host+"/multi:v1", PullOptions{Keychain: authn.NewMultiKeychain()})
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest != digestOf(t, amd) {
		t.Errorf("pulled %s, want the amd64 image by default", img.Digest)
	}
	// Both architectures keep the tag; by the index's digest too.
	for arch, want := range map[string]string{"x86_64": digestOf(t, amd), "arm64": digestOf(t, arm)} {
		got, err := s.Resolve(host+"/multi@"+digestOf(t, idx), arch)
		if err != nil || got.Digest != want {
			t.Errorf("resolve by index digest for %s: %+v, %v", arch, got, err)
		}
	}

	_, err = s.Pull(ctx, host+"/armonly:v1", PullOptions{Arch: "x86_64", Keychain: authn.NewMultiKeychain()})
	if err == nil || !strings.Contains(err.Error(), "linux/arm64") {
		t.Errorf("pull of an arm64 image for x86_64: %v; want an error naming its platform", err)
	}
	t.Log(err)
}

func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	// go-containerregistry would speak plain HTTP to a private address;
	// the transport of a pull that is not insecure refuses before it
	// connects.
	host := imagetest.Registry(t, "", "")
	tr := httpsOnly{base: http.DefaultTransport}
	for url, ok := range map[string]bool{
		"http://10.255.255.1:5000/v2/": false,
		"http://192.168.1.1/v2/":       false,
		"http://" + host + "/v2/":      true,
	} {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := tr.RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		if ok && err != nil {
			t.Errorf("%s: %v", url, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "plain HTTP")) {
			t.Errorf("%s: %v, want refused", url, err)
		}
	}
	if !loopback("127.0.0.1") || !loopback("::1") || !loopback("localhost") || loopback("10.0.0.1") {
		t.Error("loopback misjudged")
	}
	s := openStore(t, Options{})
	if _, err := s.Pull(context.Background(), "fn:v1", PullOptions{Arch: "mips"}); err == nil || !strings.Contains(err.Error(), "mips") {
		t.Errorf("pull for an unknown architecture: %v", err)
	}
}
