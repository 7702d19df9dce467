package image

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is the name references use for Docker Hub, whose API
// go-containerregistry calls index.docker.io.
const dockerHub = "docker.io"

// parseRef parses a reference the way docker does: "hello" is
// "docker.io/library/hello:latest".
func parseRef(s string, opts ...name.Option) (name.Reference, error) {
	r, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, fmt.Errorf("reference %q: %w", s, err)
	}
	return r, nil
}

// normalize returns a reference's full form: registry, repository and tag
// or digest, with Docker Hub as docker.io.
func normalize(r name.Reference) string {
	repo := r.Context()
	reg := repo.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = dockerHub
	}
	full := reg + "/" + repo.RepositoryStr()
	switch r := r.(type) {
	case name.Digest:
		return full + "@" + r.DigestStr()
	case name.Tag:
		return full + ":" + r.TagStr()
	}
	return full + ":" + r.Identifier()
}

// isDigest reports whether s is a bare digest, "sha256:<hex>".
func isDigest(s string) bool {
	_, err := hexOf(s)
	return err == nil
}

// matchDigest reports whether an image is the digest: its manifest's or
// that of an index it was found through.
func (r record) matchDigest(digest string) bool {
	return r.Digest == digest || slices.Contains(r.Indexes, digest)
}

// Resolve finds an image by reference ("repo:tag", "repo@sha256:...",
// short names as docker reads them: "hello" is
// "docker.io/library/hello:latest") or by bare digest "sha256:<hex>" (of
// its manifest, or of an index it was loaded through), for an
// architecture: "" is any, and of several it prefers x86_64. A reference
// with a digest finds the image with that digest whatever repository it
// names. ErrNotFound when none is held.
func (s *Store) Resolve(ref, arch string) (Image, error) {
	if arch != "" {
		if _, err := platformOf(arch); err != nil {
			return Image{}, fmt.Errorf("resolve %s: %w", ref, err)
		}
	}
	unlock, err := s.lock(false)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	recs, err := s.recordsLocked()
	if err != nil {
		return Image{}, err
	}
	matches, _, err := match(recs, ref)
	if err != nil {
		return Image{}, err
	}
	var best *record
	for i, m := range matches {
		if arch != "" && m.Architecture != arch {
			continue
		}
		if best == nil || (best.Architecture != "x86_64" && m.Architecture == "x86_64") {
			best = &matches[i]
		}
	}
	if best == nil {
		if arch != "" {
			return Image{}, fmt.Errorf("image %s for %s: %w", ref, arch, ErrNotFound)
		}
		return Image{}, fmt.Errorf("image %s: %w", ref, ErrNotFound)
	}
	return best.Image, nil
}

// match returns the records that ref names, and the normalized reference
// they hold it as ("" when they match by digest).
func match(recs []record, ref string) ([]record, string, error) {
	var out []record
	if isDigest(ref) {
		for _, r := range recs {
			if r.matchDigest(ref) {
				out = append(out, r)
			}
		}
		return out, "", nil
	}
	r, err := parseRef(ref)
	if err != nil {
		return nil, "", err
	}
	n := normalize(r)
	for _, rec := range recs {
		if slices.Contains(rec.References, n) {
			out = append(out, rec)
		}
	}
	if d, ok := r.(name.Digest); ok && len(out) == 0 {
		for _, rec := range recs {
			if rec.matchDigest(d.DigestStr()) {
				out = append(out, rec)
			}
		}
		return out, "", nil
	}
	return out, n, nil
}

// Tag gives the image with the manifest digest the reference ref, taking
// it from the image of the same architecture that had it.
func (s *Store) Tag(digest, ref string) error {
	r, err := parseRef(ref)
	if err != nil {
		return err
	}
	unlock, err := s.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := s.readRecordLocked(digest)
	if err != nil {
		return fmt.Errorf("tag %s: %w", ref, err)
	}
	rec.References = union(rec.References, []string{normalize(r)})
	if _, err := s.putLocked(rec); err != nil {
		return fmt.Errorf("tag %s: %w", ref, err)
	}
	return nil
}

// refsOf parses and normalizes references, leaving out those that do not
// parse.
func refsOf(refs []string) ([]string, []string) {
	var out, bad []string
	for _, s := range refs {
		r, err := parseRef(strings.TrimSpace(s))
		if err != nil {
			bad = append(bad, s)
			continue
		}
		out = union(out, []string{normalize(r)})
	}
	return out, bad
}
