package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Layer versions are keyed "<layer>.<number>"; the key "<layer>" holds the
// layer's counter, so that a version number is never given twice, even
// after the version was deleted.

// LayerVersion is one published version of a layer.
type LayerVersion struct {
	LayerName               string
	Version                 int
	Description             string
	CompatibleRuntimes      []string
	CompatibleArchitectures []string
	LicenseInfo             string
	CodeDigest              string // hex SHA-256 of the zip
	CodeSha256              string // base64, as AWS reports it
	CodeSize                int64
	UnzippedSize            int64
	Created                 time.Time
}

type layerCounter struct {
	LastVersion int
}

// PublishLayerVersion stores lv as the layer's next version and returns it
// with its number.
func (s *Store) PublishLayerVersion(ctx context.Context, lv LayerVersion) (LayerVersion, error) {
	name := lv.LayerName
	if !validName(name) {
		return LayerVersion{}, fmt.Errorf("publish layer %q: name: %w", name, ErrInvalid)
	}
	for {
		var c layerCounter
		var rev uint64
		e, err := s.layers.Get(ctx, name)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return LayerVersion{}, fmt.Errorf("publish layer %s: %w", name, err)
		default:
			if err := json.Unmarshal(e.Value(), &c); err != nil {
				return LayerVersion{}, fmt.Errorf("publish layer %s: decode its counter: %w", name, err)
			}
			rev = e.Revision()
		}
		c.LastVersion++
		b, err := json.Marshal(c)
		if err != nil {
			return LayerVersion{}, err
		}
		if rev == 0 {
			_, err = s.layers.Create(ctx, name, b)
		} else {
			_, err = s.layers.Update(ctx, name, b, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) || isWrongLastSequence(err) {
			continue // another publish came between
		}
		if err != nil {
			return LayerVersion{}, fmt.Errorf("publish layer %s: %w", name, err)
		}
		lv.Version = c.LastVersion
		v, err := json.Marshal(lv)
		if err != nil {
			return LayerVersion{}, err
		}
		if _, err := s.layers.Create(ctx, layerKey(name, lv.Version), v); err != nil {
			return LayerVersion{}, fmt.Errorf("publish layer %s version %d: %w", name, lv.Version, err)
		}
		return lv, nil
	}
}

// isWrongLastSequence reports a compare-and-set refused by JetStream.
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

func layerKey(name string, version int) string { return name + "." + strconv.Itoa(version) }

// GetLayerVersion returns one version of a layer, or ErrNotFound.
func (s *Store) GetLayerVersion(ctx context.Context, name string, version int) (LayerVersion, error) {
	if !validName(name) || version < 1 {
		return LayerVersion{}, fmt.Errorf("get layer %q version %d: %w", name, version, ErrNotFound)
	}
	e, err := s.layers.Get(ctx, layerKey(name, version))
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			err = ErrNotFound
		}
		return LayerVersion{}, fmt.Errorf("get layer %s version %d: %w", name, version, err)
	}
	var lv LayerVersion
	if err := json.Unmarshal(e.Value(), &lv); err != nil {
		return LayerVersion{}, fmt.Errorf("get layer %s version %d: decode: %w", name, version, err)
	}
	return lv, nil
}

// ListLayerVersions returns a layer's versions, newest first, as Lambda
// lists them; none for an unknown layer.
func (s *Store) ListLayerVersions(ctx context.Context, name string) ([]LayerVersion, error) {
	if !validName(name) {
		return nil, nil
	}
	all, err := s.listLayers(ctx, name+".*")
	if err != nil {
		return nil, fmt.Errorf("list versions of layer %s: %w", name, err)
	}
	return all, nil
}

// ListLayers returns every layer version, by layer name and then newest
// first.
func (s *Store) ListLayers(ctx context.Context) ([]LayerVersion, error) {
	all, err := s.listLayers(ctx, "*.*")
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	return all, nil
}

func (s *Store) listLayers(ctx context.Context, filter string) ([]LayerVersion, error) {
	entries, err := s.list(ctx, s.layers, filter)
	if err != nil {
		return nil, err
	}
	out := make([]LayerVersion, 0, len(entries))
	for _, e := range entries {
		if !strings.Contains(e.Key(), ".") {
			continue
		}
		var lv LayerVersion
		if err := json.Unmarshal(e.Value(), &lv); err != nil {
			return nil, fmt.Errorf("decode %s: %w", e.Key(), err)
		}
		out = append(out, lv)
	}
	slices.SortFunc(out, func(a, b LayerVersion) int {
		return cmp.Or(cmp.Compare(a.LayerName, b.LayerName), cmp.Compare(b.Version, a.Version))
	})
	return out, nil
}

// DeleteLayerVersion removes one version of a layer, or fails with
// ErrNotFound. Its number is not given again.
func (s *Store) DeleteLayerVersion(ctx context.Context, name string, version int) error {
	if !validName(name) || version < 1 {
		return fmt.Errorf("delete layer %q version %d: %w", name, version, ErrNotFound)
	}
	if _, err := s.deleteKey(ctx, s.layers, layerKey(name, version)); err != nil {
		return fmt.Errorf("delete layer %s version %d: %w", name, version, err)
	}
	return nil
}
