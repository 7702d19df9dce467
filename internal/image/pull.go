package image

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PullOptions say how to pull an image.
type PullOptions struct {
	// Arch is the Lambda architecture wanted, "x86_64" (the default) or
	// "arm64".
	Arch string
	// Insecure allows plain HTTP to any registry; without it only
	// registries on loopback (localhost, 127.0.0.1, [::1]) may use it.
	Insecure bool
	// Auth authenticates to the registry; nil uses Keychain.
	Auth authn.Authenticator
	// Keychain finds credentials for the registry; nil is
	// authn.DefaultKeychain (~/.docker/config.json and credential helpers).
	Keychain authn.Keychain
}

// Pull fetches ref from its registry, for opts.Arch: from an index, the
// manifest of that platform; a single image must have it. It stores the
// image as Load does, with ref (normalized) as its reference. HTTPS is
// used, plain HTTP only for loopback registries or with opts.Insecure.
func (s *Store) Pull(ctx context.Context, ref string, opts PullOptions) (Image, error) {
	arch := opts.Arch
	if arch == "" {
		arch = "x86_64"
	}
	plat, err := platformOf(arch)
	if err != nil {
		return Image{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	var nopts []name.Option
	if opts.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := parseRef(ref, nopts...)
	if err != nil {
		return Image{}, fmt.Errorf("pull: %w", err)
	}
	var transport http.RoundTripper = remote.DefaultTransport
	if !opts.Insecure {
		transport = httpsOnly{base: transport}
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithPlatform(plat), remote.WithTransport(transport)}
	switch {
	case opts.Auth != nil:
		ropts = append(ropts, remote.WithAuth(opts.Auth))
	case opts.Keychain != nil:
		ropts = append(ropts, remote.WithAuthFromKeychain(opts.Keychain))
	default:
		ropts = append(ropts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return Image{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	var indexes []string
	if desc.MediaType.IsIndex() {
		indexes = []string{desc.Digest.String()}
	}
	img, err := desc.Image()
	if err != nil {
		return Image{}, fmt.Errorf("pull %s for %s (%s/%s): %w", ref, arch, plat.OS, plat.Architecture, err)
	}
	stored, err := s.add(ctx, found{img: img, refs: []string{normalize(r)}, indexes: indexes}, arch)
	if err != nil {
		return Image{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	return stored, nil
}

// httpsOnly refuses plain HTTP requests to hosts other than loopback:
// go-containerregistry would also speak it to private (RFC 1918)
// addresses, and credentials would then cross the network in the clear.
type httpsOnly struct {
	base http.RoundTripper
}

func (t httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !loopback(req.URL.Hostname()) {
		return nil, fmt.Errorf("plain HTTP to %s refused: only registries on loopback use it unless the pull is insecure", req.URL.Host)
	}
	return t.base.RoundTrip(req)
}

// loopback reports whether host is localhost or a loopback address.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
