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

// Function URLs are keyed by their URL id in their bucket: serving a
// request to one is a single read.

// URLConfig is a function URL: the id its address is made of, the
// function and alias it invokes, and how.
type URLConfig struct {
	ID           string
	FunctionName string
	// Qualifier is the alias the URL invokes; empty for $LATEST.
	Qualifier        string
	AuthType         string
	InvokeMode       string
	Cors             *URLCors `json:",omitempty"`
	CreationTime     time.Time
	LastModifiedTime time.Time
	// Revision is the KV revision it was read at; UpdateURL compares
	// against it.
	Revision uint64 `json:"-"`
}

// URLCors is a function URL's CORS configuration.
type URLCors struct {
	AllowCredentials bool
	AllowHeaders     []string
	AllowMethods     []string
	AllowOrigins     []string
	ExposeHeaders    []string
	MaxAge           int
}

// validURLID reports whether s can be a URL id in a key: lower-case
// letters and digits.
func validURLID(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// CreateURL stores a new function URL of an existing function and returns
// it with Revision set. It fails with ErrExists if the id is taken, and
// ErrNotFound if the function does not exist.
func (s *Store) CreateURL(ctx context.Context, u URLConfig) (URLConfig, error) {
	if !validURLID(u.ID) || !validName(u.FunctionName) {
		return URLConfig{}, fmt.Errorf("create URL %q of %q: %w", u.ID, u.FunctionName, ErrInvalid)
	}
	b, err := json.Marshal(u)
	if err != nil {
		return URLConfig{}, fmt.Errorf("create URL %s of %s: %w", u.ID, u.FunctionName, err)
	}
	rev, err := s.createChild(ctx, s.urls, u.FunctionName, u.ID, b)
	if err != nil {
		return URLConfig{}, fmt.Errorf("create URL %s of %s: %w", u.ID, u.FunctionName, err)
	}
	u.Revision = rev
	return u, nil
}

// GetURL returns the function URL of an id, or fails with ErrNotFound.
func (s *Store) GetURL(ctx context.Context, id string) (URLConfig, error) {
	if !validURLID(id) {
		return URLConfig{}, fmt.Errorf("get URL %q: %w", id, ErrNotFound)
	}
	e, err := s.urls.Get(ctx, id)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			err = ErrNotFound
		}
		return URLConfig{}, fmt.Errorf("get URL %s: %w", id, err)
	}
	u, err := decodeURL(e)
	if err != nil {
		return URLConfig{}, fmt.Errorf("get URL %s: %w", id, err)
	}
	return u, nil
}

func decodeURL(e jetstream.KeyValueEntry) (URLConfig, error) {
	var u URLConfig
	if err := json.Unmarshal(e.Value(), &u); err != nil {
		return URLConfig{}, fmt.Errorf("decode %s: %w", e.Key(), err)
	}
	u.Revision = e.Revision()
	return u, nil
}

// UpdateURL replaces the URL if it is still at u.Revision and returns it
// with its new Revision. It fails with ErrChanged if it was written since,
// and ErrNotFound if it is gone.
func (s *Store) UpdateURL(ctx context.Context, u URLConfig) (URLConfig, error) {
	if !validURLID(u.ID) {
		return URLConfig{}, fmt.Errorf("update URL %q: %w", u.ID, ErrNotFound)
	}
	b, err := json.Marshal(u)
	if err != nil {
		return URLConfig{}, fmt.Errorf("update URL %s: %w", u.ID, err)
	}
	rev, err := s.update(ctx, s.urls, u.ID, b, u.Revision)
	if err != nil {
		return URLConfig{}, fmt.Errorf("update URL %s: %w", u.ID, err)
	}
	u.Revision = rev
	return u, nil
}

// DeleteURL removes a function URL, or fails with ErrNotFound.
func (s *Store) DeleteURL(ctx context.Context, id string) error {
	if !validURLID(id) {
		return fmt.Errorf("delete URL %q: %w", id, ErrNotFound)
	}
	if _, err := s.deleteKey(ctx, s.urls, id); err != nil {
		return fmt.Errorf("delete URL %s: %w", id, err)
	}
	return nil
}

// ListURLs returns the URLs of a function sorted by qualifier ($LATEST's
// first). It fails with ErrNotFound for an unknown function.
func (s *Store) ListURLs(ctx context.Context, name string) ([]URLConfig, error) {
	if _, err := s.getFunction(ctx, name); err != nil {
		return nil, fmt.Errorf("list URLs of %s: %w", name, err)
	}
	us, err := s.urlsOf(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("list URLs of %s: %w", name, err)
	}
	return us, nil
}

// urlsOf reads every URL and keeps a function's: URLs are few, and keyed
// for the lookup that serving them needs.
func (s *Store) urlsOf(ctx context.Context, name string) ([]URLConfig, error) {
	entries, err := s.list(ctx, s.urls, ">")
	if err != nil {
		return nil, err
	}
	var us []URLConfig
	for _, e := range entries {
		u, err := decodeURL(e)
		if err != nil {
			return nil, err
		}
		if u.FunctionName == name {
			us = append(us, u)
		}
	}
	slices.SortFunc(us, func(a, b URLConfig) int { return strings.Compare(a.Qualifier, b.Qualifier) })
	return us, nil
}

// purgeURLs removes every URL of a function.
func (s *Store) purgeURLs(ctx context.Context, name string) error {
	us, err := s.urlsOf(ctx, name)
	if err != nil {
		return fmt.Errorf("purge URLs: %w", err)
	}
	for _, u := range us {
		if _, err := s.purge(ctx, s.urls, u.ID, 0); err != nil {
			return fmt.Errorf("purge URL %s: %w", u.ID, err)
		}
	}
	return nil
}
