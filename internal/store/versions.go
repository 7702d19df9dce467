package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// Published versions are keyed "<function>.<number>" in their bucket.

// versionNumber returns the number of a published version written in
// canonical decimal ("1", not "01"), and false for anything else, $LATEST
// included.
func versionNumber(v string) (int, bool) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || strconv.Itoa(n) != v {
		return 0, false
	}
	return n, true
}

// CreateVersion stores a published version of an existing function. It
// fails with ErrExists if that number is taken, ErrNotFound if the function
// does not exist, and ErrInvalid for a version that is not a number.
func (s *Store) CreateVersion(ctx context.Context, v Version) error {
	if !validName(v.FunctionName) {
		return fmt.Errorf("create version %q of %q: function name: %w", v.Version, v.FunctionName, ErrInvalid)
	}
	if _, ok := versionNumber(v.Version); !ok {
		return fmt.Errorf("create version %q of %s: not a published version number: %w", v.Version, v.FunctionName, ErrInvalid)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("create version %s of %s: %w", v.Version, v.FunctionName, err)
	}
	key := v.FunctionName + "." + v.Version
	rev, err := s.createChild(ctx, s.versions, v.FunctionName, key, b)
	if err != nil {
		return fmt.Errorf("create version %s of %s: %w", v.Version, v.FunctionName, err)
	}
	s.written.note(KindVersion, rev)
	return nil
}

// createChild creates key, which belongs to function fn, and returns its
// revision. It checks that fn exists after writing, not before, so that a
// key written while DeleteFunction runs is never left behind: either the
// function's deletion sweeps it, or this check finds the function gone and
// removes it.
func (s *Store) createChild(ctx context.Context, kv jetstream.KeyValue, fn, key string, value []byte) (uint64, error) {
	rev, err := kv.Create(ctx, key, value)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			if _, ferr := s.getFunction(ctx, fn); errors.Is(ferr, ErrNotFound) {
				return 0, fmt.Errorf("function %s: %w", fn, ErrNotFound)
			}
			return 0, ErrExists
		}
		return 0, err
	}
	if _, err := s.getFunction(ctx, fn); err != nil {
		if errors.Is(err, ErrNotFound) {
			if perr := kv.Purge(ctx, key, jetstream.LastRevision(rev)); perr != nil && !errors.Is(perr, jetstream.ErrKeyRevisionMismatch) {
				return 0, fmt.Errorf("function %s: %w (removing %s: %v)", fn, ErrNotFound, key, perr)
			}
			return 0, fmt.Errorf("function %s: %w", fn, ErrNotFound)
		}
		return 0, err
	}
	return rev, nil
}

// GetVersion returns one version of a function: "$LATEST" is the function's
// Latest, a number is a published version. It fails with ErrNotFound.
func (s *Store) GetVersion(ctx context.Context, name, version string) (Version, error) {
	if version == LatestVersion {
		f, err := s.getFunction(ctx, name)
		if err != nil {
			return Version{}, fmt.Errorf("get version %s of %s: %w", version, name, err)
		}
		return f.Latest, nil
	}
	if _, ok := versionNumber(version); !ok || !validName(name) {
		return Version{}, fmt.Errorf("get version %q of %q: %w", version, name, ErrNotFound)
	}
	e, err := s.versions.Get(ctx, name+"."+version)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			err = ErrNotFound
		}
		return Version{}, fmt.Errorf("get version %s of %s: %w", version, name, err)
	}
	var v Version
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return Version{}, fmt.Errorf("get version %s of %s: decode: %w", version, name, err)
	}
	return v, nil
}

// ListVersions returns $LATEST and then the published versions in
// ascending order of number. It fails with ErrNotFound for an unknown
// function.
func (s *Store) ListVersions(ctx context.Context, name string) ([]Version, error) {
	f, err := s.getFunction(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", name, err)
	}
	entries, err := s.list(ctx, s.versions, name+".*")
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", name, err)
	}
	type numbered struct {
		n int
		v Version
	}
	published := make([]numbered, 0, len(entries))
	for _, e := range entries {
		var v Version
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			return nil, fmt.Errorf("list versions of %s: decode %s: %w", name, e.Key(), err)
		}
		n, ok := versionNumber(v.Version)
		if !ok {
			return nil, fmt.Errorf("list versions of %s: %s holds version %q", name, e.Key(), v.Version)
		}
		published = append(published, numbered{n, v})
	}
	slices.SortFunc(published, func(a, b numbered) int { return cmp.Compare(a.n, b.n) })
	vs := make([]Version, 0, 1+len(published))
	vs = append(vs, f.Latest)
	for _, p := range published {
		vs = append(vs, p.v)
	}
	return vs, nil
}

// DeleteVersion removes a published version, or fails with ErrNotFound.
// $LATEST cannot be deleted on its own (ErrInvalid): DeleteFunction does
// that.
func (s *Store) DeleteVersion(ctx context.Context, name, version string) error {
	if version == LatestVersion {
		return fmt.Errorf("delete version %s of %s: %w", version, name, ErrInvalid)
	}
	if _, ok := versionNumber(version); !ok || !validName(name) {
		return fmt.Errorf("delete version %q of %q: %w", version, name, ErrNotFound)
	}
	rev, err := s.deleteKey(ctx, s.versions, name+"."+version)
	if err != nil {
		return fmt.Errorf("delete version %s of %s: %w", version, name, err)
	}
	s.written.note(KindVersion, rev)
	return nil
}

// deleteKey removes key and returns the revision of its purge marker, or
// fails with ErrNotFound if it is not there.
func (s *Store) deleteKey(ctx context.Context, kv jetstream.KeyValue, key string) (uint64, error) {
	e, err := kv.Get(ctx, key)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return 0, ErrNotFound
		}
		return 0, err
	}
	// Conditional, so that of two concurrent deletes one reports ErrNotFound.
	rev, err := s.purge(ctx, kv, key, e.Revision())
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		if _, gerr := kv.Get(ctx, key); errors.Is(gerr, jetstream.ErrKeyNotFound) {
			return 0, ErrNotFound
		}
		return s.purge(ctx, kv, key, 0) // rewritten since it was read: remove what is there now
	}
	return rev, err
}
