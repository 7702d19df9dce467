// Package imagetest builds container images for tests, in the test's
// process and without Docker: layers from lists of files, images from
// layers, docker-save tarballs, OCI layouts, and a registry on loopback to
// push them to.
package imagetest

import (
	"archive/tar"
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ModTime returns the modification time of the entries of a layer that
// do not set one, and the creation time of images.
func ModTime() time.Time {
	return time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
}

// File is one entry of a layer. Typeflag 0 is a regular file (a directory
// when Name ends in "/"); Mode 0 is 0644 for a file, 0755 for a directory.
type File struct {
	Name     string
	Body     string
	Mode     int64
	Typeflag byte
	Linkname string
	Uid, Gid int
	ModTime  time.Time
}

// Dir is a directory entry.
func Dir(name string, mode int64) File {
	return File{Name: name, Typeflag: tar.TypeDir, Mode: mode}
}

// Symlink is a symbolic link name -> target.
func Symlink(name, target string) File {
	return File{Name: name, Typeflag: tar.TypeSymlink, Linkname: target}
}

// Hardlink is a hard link name to target, an earlier entry of the layer.
func Hardlink(name, target string) File {
	return File{Name: name, Typeflag: tar.TypeLink, Linkname: target}
}

// Whiteout deletes name of the layers below: the entry "dir/.wh.base".
func Whiteout(name string) File {
	dir, base := filepath.Split(name)
	return File{Name: dir + ".wh." + base}
}

// Opaque hides what the layers below hold in dir: the entry
// "dir/.wh..wh..opq".
func Opaque(dir string) File {
	return File{Name: strings.TrimSuffix(dir, "/") + "/.wh..wh..opq"}
}

// Tar returns the tar of the files, in their order.
func Tar(t testing.TB, files ...File) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{
			Name:     f.Name,
			Typeflag: f.Typeflag,
			Linkname: f.Linkname,
			Mode:     f.Mode,
			Uid:      f.Uid,
			Gid:      f.Gid,
			ModTime:  f.ModTime,
			Format:   tar.FormatPAX,
		}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
			if strings.HasSuffix(f.Name, "/") {
				hdr.Typeflag = tar.TypeDir
			}
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
			if hdr.Typeflag == tar.TypeDir {
				hdr.Mode = 0o755
			}
		}
		if hdr.ModTime.IsZero() {
			hdr.ModTime = ModTime()
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(f.Body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar %s: %v", f.Name, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, f.Body); err != nil {
				t.Fatalf("tar %s: %v", f.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("tar: %v", err)
	}
	return buf.Bytes()
}

// Layer makes a gzip-compressed layer of the files.
func Layer(t testing.TB, files ...File) v1.Layer {
	t.Helper()
	b := Tar(t, files...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
	if err != nil {
		t.Fatalf("layer: %v", err)
	}
	return l
}

// goArch maps Lambda's architecture names to Go's; others pass as they
// are.
func goArch(arch string) string {
	if arch == "x86_64" {
		return "amd64"
	}
	return arch
}

// Image makes a linux image for arch (Lambda's "x86_64" or "arm64", or
// Go's name of any other) of the layers, bottom first, with the config cfg.
func Image(t testing.TB, cfg v1.Config, arch string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatalf("image: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("image: %v", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = goArch(arch)
	cf.Config = cfg
	cf.Created = v1.Time{Time: ModTime()}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatalf("image: %v", err)
	}
	return img
}

// Index makes an index (manifest list) of the images, each with its
// platform taken from its config.
func Index(t testing.TB, imgs ...v1.Image) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatalf("index: %v", err)
		}
		adds = append(adds, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture}},
		})
	}
	return mutate.AppendManifests(empty.Index, adds...)
}

// WriteTarball writes the image as `docker save` does, tagged ref, to a
// file in a temporary directory, and returns the file's path.
func WriteTarball(t testing.TB, img v1.Image, ref string) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatalf("tarball: %v", err)
	}
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatalf("tarball: %v", err)
	}
	return p
}

// RefName is the annotation of an OCI layout's index.json that names an
// entry.
const RefName = "org.opencontainers.image.ref.name"

// WriteLayout writes an OCI image layout holding the images, each
// annotated with its key as ref name, to a temporary directory and returns
// it.
func WriteLayout(t testing.TB, imgs map[string]v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatalf("layout: %v", err)
	}
	for ref, img := range imgs {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{RefName: ref})); err != nil {
			t.Fatalf("layout: %v", err)
		}
	}
	return dir
}

// WriteLayoutIndex writes an OCI image layout holding the index, annotated
// with ref as ref name, to a temporary directory and returns it.
func WriteLayoutIndex(t testing.TB, ref string, idx v1.ImageIndex) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatalf("layout: %v", err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{RefName: ref})); err != nil {
		t.Fatalf("layout: %v", err)
	}
	return dir
}

// Registry starts a registry (go-containerregistry's, in memory) on
// loopback for the test and returns its host, "127.0.0.1:<port>". With a
// user, it asks for HTTP basic authentication with user and pass.
func Registry(t testing.TB, user, pass string) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if user != "" {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="imagetest"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
			inner.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Push pushes the image to ref, authenticating with auth (nil is
// anonymous).
func Push(t testing.TB, ref string, img v1.Image, auth authn.Authenticator) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if auth == nil {
		auth = authn.Anonymous
	}
	if err := remote.Write(r, img, remote.WithAuth(auth)); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

// PushIndex pushes the index and its images to ref, authenticating with
// auth (nil is anonymous).
func PushIndex(t testing.TB, ref string, idx v1.ImageIndex, auth authn.Authenticator) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if auth == nil {
		auth = authn.Anonymous
	}
	if err := remote.WriteIndex(r, idx, remote.WithAuth(auth)); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}
