package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Aliases are keyed "<function>.<alias>" in their bucket.

// Alias is a name for a version of a function, optionally with some of its
// traffic routed to other versions.
type Alias struct {
	FunctionName    string
	Name            string
	FunctionVersion string
	Description     string
	Weights         map[string]float64 // AdditionalVersionWeights
	RevisionID      string
	// Revision is the KV revision it was read at; UpdateAlias compares
	// against it.
	Revision uint64 `json:"-"`
}

// CreateAlias stores a new alias of an existing function and returns it
// with Revision set. It fails with ErrExists if the function has an alias
// of that name, and ErrNotFound if the function does not exist.
func (s *Store) CreateAlias(ctx context.Context, a Alias) (Alias, error) {
	if !validName(a.FunctionName) || !validName(a.Name) {
		return Alias{}, fmt.Errorf("create alias %q of %q: name: %w", a.Name, a.FunctionName, ErrInvalid)
	}
	b, err := json.Marshal(a)
	if err != nil {
		return Alias{}, fmt.Errorf("create alias %s of %s: %w", a.Name, a.FunctionName, err)
	}
	rev, err := s.createChild(ctx, s.aliases, a.FunctionName, a.FunctionName+"."+a.Name, b)
	if err != nil {
		return Alias{}, fmt.Errorf("create alias %s of %s: %w", a.Name, a.FunctionName, err)
	}
	s.written.note(KindAlias, rev)
	a.Revision = rev
	return a, nil
}

// GetAlias returns an alias of a function, or fails with ErrNotFound.
func (s *Store) GetAlias(ctx context.Context, name, alias string) (Alias, error) {
	if !validName(name) || !validName(alias) {
		return Alias{}, fmt.Errorf("get alias %q of %q: %w", alias, name, ErrNotFound)
	}
	e, err := s.aliases.Get(ctx, name+"."+alias)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			err = ErrNotFound
		}
		return Alias{}, fmt.Errorf("get alias %s of %s: %w", alias, name, err)
	}
	a, err := decodeAlias(e)
	if err != nil {
		return Alias{}, fmt.Errorf("get alias %s of %s: %w", alias, name, err)
	}
	return a, nil
}

func decodeAlias(e jetstream.KeyValueEntry) (Alias, error) {
	var a Alias
	if err := json.Unmarshal(e.Value(), &a); err != nil {
		return Alias{}, fmt.Errorf("decode %s: %w", e.Key(), err)
	}
	a.Revision = e.Revision()
	return a, nil
}

// UpdateAlias replaces the alias if it is still at a.Revision and returns it
// with its new Revision. It fails with ErrChanged if the alias was written
// since, and ErrNotFound if it is gone.
func (s *Store) UpdateAlias(ctx context.Context, a Alias) (Alias, error) {
	if !validName(a.FunctionName) || !validName(a.Name) {
		return Alias{}, fmt.Errorf("update alias %q of %q: %w", a.Name, a.FunctionName, ErrNotFound)
	}
	b, err := json.Marshal(a)
	if err != nil {
		return Alias{}, fmt.Errorf("update alias %s of %s: %w", a.Name, a.FunctionName, err)
	}
	rev, err := s.update(ctx, s.aliases, a.FunctionName+"."+a.Name, b, a.Revision)
	if err != nil {
		return Alias{}, fmt.Errorf("update alias %s of %s: %w", a.Name, a.FunctionName, err)
	}
	s.written.note(KindAlias, rev)
	a.Revision = rev
	return a, nil
}

// DeleteAlias removes an alias, or fails with ErrNotFound.
func (s *Store) DeleteAlias(ctx context.Context, name, alias string) error {
	if !validName(name) || !validName(alias) {
		return fmt.Errorf("delete alias %q of %q: %w", alias, name, ErrNotFound)
	}
	rev, err := s.deleteKey(ctx, s.aliases, name+"."+alias)
	if err != nil {
		return fmt.Errorf("delete alias %s of %s: %w", alias, name, err)
	}
	s.written.note(KindAlias, rev)
	return nil
}

// ListAliases returns the aliases of a function sorted by name. It fails
// with ErrNotFound for an unknown function.
func (s *Store) ListAliases(ctx context.Context, name string) ([]Alias, error) {
	if _, err := s.getFunction(ctx, name); err != nil {
		return nil, fmt.Errorf("list aliases of %s: %w", name, err)
	}
	entries, err := s.list(ctx, s.aliases, name+".*")
	if err != nil {
		return nil, fmt.Errorf("list aliases of %s: %w", name, err)
	}
	as := make([]Alias, 0, len(entries))
	for _, e := range entries {
		a, err := decodeAlias(e)
		if err != nil {
			return nil, fmt.Errorf("list aliases of %s: %w", name, err)
		}
		as = append(as, a)
	}
	slices.SortFunc(as, func(a, b Alias) int { return strings.Compare(a.Name, b.Name) })
	return as, nil
}
