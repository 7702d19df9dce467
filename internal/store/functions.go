package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// LatestVersion is the name of a function's unpublished version.
const LatestVersion = "$LATEST"

// Version is one version of a function: $LATEST or a published number.
type Version struct {
	FunctionName     string
	Version          string // "$LATEST", "1", "2", …
	Description      string
	Runtime          string
	Handler          string
	Role             string
	MemorySize       int // MB
	Timeout          int // seconds
	EphemeralStorage int // MB
	Environment      map[string]string
	Architectures    []string
	PackageType      string   // "Zip" or "Image"
	Network          string   // ember's own: "outbound" or "none"
	Layers           []string // layer version ARNs
	LayerSizes       []int64  // the zipped size of each layer
	// LayerDigests name each layer's code, which stays the function's
	// after the layer version is deleted, as on Lambda.
	LayerDigests []string
	CodeDigest   string // hex SHA-256 of the zip: the object's name
	CodeSha256   string // base64 SHA-256 of the zip, as AWS reports it
	CodeSize     int64
	// UnzippedSize is the code's size unzipped, layers left out.
	UnzippedSize int64
	// ImageURI is a container image's reference as given; ImageDigest
	// its manifest's digest ("sha256:…"), which CodeSha256 reports in
	// hex; ImageConfig the function's overrides of the image's settings.
	ImageURI         string       `json:",omitempty"`
	ImageDigest      string       `json:",omitempty"`
	ImageConfig      *ImageConfig `json:",omitempty"`
	LastModified     time.Time
	RevisionID       string
	State            string
	StateReason      string
	StateReasonCode  string
	LastUpdateStatus string
}

// ImageConfig overrides a container image's settings; a nil list or an
// empty WorkingDirectory keeps the image's own.
type ImageConfig struct {
	EntryPoint       []string `json:",omitempty"`
	Command          []string `json:",omitempty"`
	WorkingDirectory string   `json:",omitempty"`
}

// Function is the record of one function: its $LATEST version and what
// belongs to the function as a whole.
type Function struct {
	Latest Version
	// LastPublished is the highest version number published so far
	// (numbers are never reused, even after DeleteFunction of a version).
	LastPublished       int
	ReservedConcurrency *int
	Tags                map[string]string
	Created             time.Time
	// Revision is the KV revision it was read at; UpdateFunction compares
	// against it.
	Revision uint64 `json:"-"`
}

// CreateFunction stores a new function, keyed by f.Latest.FunctionName, and
// returns it with Revision set. It fails with ErrExists if there is one of
// that name.
func (s *Store) CreateFunction(ctx context.Context, f Function) (Function, error) {
	name := f.Latest.FunctionName
	if !validName(name) {
		return Function{}, fmt.Errorf("create function %q: name: %w", name, ErrInvalid)
	}
	f.Latest.Version = LatestVersion
	b, err := json.Marshal(f)
	if err != nil {
		return Function{}, fmt.Errorf("create function %s: %w", name, err)
	}
	rev, err := s.functions.Create(ctx, name, b)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			err = ErrExists
		}
		return Function{}, fmt.Errorf("create function %s: %w", name, err)
	}
	s.written.note(KindFunction, rev)
	f.Revision = rev
	return f, nil
}

// GetFunction returns the function of that name, or ErrNotFound.
func (s *Store) GetFunction(ctx context.Context, name string) (Function, error) {
	f, err := s.getFunction(ctx, name)
	if err != nil {
		return Function{}, fmt.Errorf("get function %s: %w", name, err)
	}
	return f, nil
}

func (s *Store) getFunction(ctx context.Context, name string) (Function, error) {
	if !validName(name) {
		return Function{}, ErrNotFound
	}
	e, err := s.functions.Get(ctx, name)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			err = ErrNotFound
		}
		return Function{}, err
	}
	return decodeFunction(e)
}

func decodeFunction(e jetstream.KeyValueEntry) (Function, error) {
	var f Function
	if err := json.Unmarshal(e.Value(), &f); err != nil {
		return Function{}, fmt.Errorf("decode %s: %w", e.Key(), err)
	}
	f.Revision = e.Revision()
	return f, nil
}

// UpdateFunction replaces the function if it is still at f.Revision and
// returns it with its new Revision. It fails with ErrChanged if the function
// was written since, and ErrNotFound if it is gone.
func (s *Store) UpdateFunction(ctx context.Context, f Function) (Function, error) {
	name := f.Latest.FunctionName
	if !validName(name) {
		return Function{}, fmt.Errorf("update function %q: %w", name, ErrNotFound)
	}
	f.Latest.Version = LatestVersion
	b, err := json.Marshal(f)
	if err != nil {
		return Function{}, fmt.Errorf("update function %s: %w", name, err)
	}
	rev, err := s.update(ctx, s.functions, name, b, f.Revision)
	if err != nil {
		return Function{}, fmt.Errorf("update function %s: %w", name, err)
	}
	s.written.note(KindFunction, rev)
	f.Revision = rev
	return f, nil
}

// update writes value to key if the key is at revision, and maps a refusal
// to ErrChanged or, when the key is gone, to ErrNotFound.
func (s *Store) update(ctx context.Context, kv jetstream.KeyValue, key string, value []byte, revision uint64) (uint64, error) {
	if revision != 0 { // 0 would mean "create"
		rev, err := kv.Update(ctx, key, value, revision)
		if err == nil {
			return rev, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return 0, err
		}
	}
	if _, err := kv.Get(ctx, key); err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return 0, ErrNotFound
		}
		return 0, err
	}
	return 0, ErrChanged
}

// ListFunctions returns every function, sorted by name, read with one watch
// of the bucket.
// FunctionNames returns the names of every function, sorted, without
// reading their records.
func (s *Store) FunctionNames(ctx context.Context) ([]string, error) {
	lister, err := s.functions.ListKeys(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("list function names: %w", err)
	}
	defer lister.Stop()
	var names []string
	for name := range lister.Keys() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

func (s *Store) ListFunctions(ctx context.Context) ([]Function, error) {
	entries, err := s.list(ctx, s.functions, jetstream.AllKeys)
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	fs := make([]Function, 0, len(entries))
	for _, e := range entries {
		f, err := decodeFunction(e)
		if err != nil {
			return nil, fmt.Errorf("list functions: %w", err)
		}
		fs = append(fs, f)
	}
	slices.SortFunc(fs, func(a, b Function) int { return strings.Compare(a.Latest.FunctionName, b.Latest.FunctionName) })
	return fs, nil
}

// DeleteFunction removes the function, its published versions, its
// aliases and its URLs, or fails with ErrNotFound.
//
// Versions and aliases are removed both before and after the record: one
// created while the record is being deleted is either swept by the second
// pass or finds the record gone and removes itself (CreateVersion and
// CreateAlias check after writing). A crash between the passes can leave
// such a late key behind.
func (s *Store) DeleteFunction(ctx context.Context, name string) error {
	if _, err := s.getFunction(ctx, name); err != nil {
		return fmt.Errorf("delete function %s: %w", name, err)
	}
	if err := s.purgeChildren(ctx, name); err != nil {
		return fmt.Errorf("delete function %s: %w", name, err)
	}
	rev, err := s.purge(ctx, s.functions, name, 0)
	if err != nil {
		return fmt.Errorf("delete function %s: %w", name, err)
	}
	s.written.note(KindFunction, rev)
	if err := s.purgeChildren(ctx, name); err != nil {
		return fmt.Errorf("delete function %s: %w", name, err)
	}
	return nil
}

// purgeChildren removes every version, alias and URL key of a function,
// one stream purge per bucket for versions and aliases.
func (s *Store) purgeChildren(ctx context.Context, name string) error {
	if err := s.versionsStream.Purge(ctx, jetstream.WithPurgeSubject("$KV."+versionsBucket+"."+name+".*")); err != nil {
		return fmt.Errorf("purge versions: %w", err)
	}
	if err := s.aliasesStream.Purge(ctx, jetstream.WithPurgeSubject("$KV."+aliasesBucket+"."+name+".*")); err != nil {
		return fmt.Errorf("purge aliases: %w", err)
	}
	return s.purgeURLs(ctx, name)
}

// list returns the current entries whose keys match filter (which may hold
// wildcards), read with one watch rather than a request per key.
func (s *Store) list(ctx context.Context, kv jetstream.KeyValue, filter string) ([]jetstream.KeyValueEntry, error) {
	w, err := kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := w.Stop(); err != nil {
			s.log.Debug("stop watch", "bucket", kv.Bucket(), "err", err)
		}
		// The watcher's callback blocks on a full channel; drain it so
		// that its goroutine sees the stop and closes the channel.
		for range w.Updates() {
		}
	}()
	var entries []jetstream.KeyValueEntry
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("watch ended before the current values")
			}
			if e == nil { // every current value has been sent
				return entries, nil
			}
			entries = append(entries, e)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
