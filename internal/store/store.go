// Package store owns ember's durable state on NATS JetStream: function
// records, published versions, aliases, function URLs, content-addressed code blobs and the
// durable queue of accepted asynchronous invocations. JetStream runs inside
// the process by default, with no network listener, or is an external NATS
// server at a URL; both take the same path once connected. The package is a
// typed store: it knows nothing of HTTP or of AWS wire formats.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Errors that callers compare with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrChanged  = errors.New("changed since it was read") // compare-and-set failure
	// ErrInvalid is a name, version or event that the store cannot hold,
	// such as a function name with a dot in it.
	ErrInvalid = errors.New("invalid")
	// ErrFull is a write refused because the queue or the code store is at
	// its limit.
	ErrFull = errors.New("store full")
)

// Names of the buckets and streams; the "ember" prefix lets them share an
// external NATS account with other users.
const (
	functionsBucket = "ember_functions"
	versionsBucket  = "ember_versions"
	aliasesBucket   = "ember_aliases"
	layersBucket    = "ember_layers"
	urlsBucket      = "ember_urls"
	codeBucket      = "ember_code"
	eventsStream    = "ember_events"
	eventsSubject   = "ember.events"
	eventsConsumer  = "ember_events"
)

// Limits.
const (
	defaultMaxCodeBytes = 20 << 30
	// queueMaxMsgs and queueMaxBytes bound the accepted asynchronous
	// invocations; past them Enqueue fails with ErrFull (back-pressure
	// rather than an unbounded disk).
	queueMaxMsgs  = 100_000
	queueMaxBytes = 2 << 30
	// kvAllowance is the share of JetStreamMaxStore left for the KV buckets
	// and the consumers' state, which reserve nothing themselves.
	kvAllowance = 4 << 30
	// jsMaxMemory caps memory-backed streams; ember uses none, so this only
	// keeps JetStream from claiming 75% of RAM.
	jsMaxMemory = 64 << 20
	// maxPayload lets an event carry Lambda's 1 MiB asynchronous payload
	// plus its headers (NATS' default is exactly 1 MiB).
	maxPayload = 8 << 20
	// codeDuplicateWindow keeps the object store's de-duplication index
	// small: a long window makes a restart after writing much code slow.
	codeDuplicateWindow = time.Second
	// defaultAckWait is how long an event is left with a handler between
	// in-progress acknowledgements before it is given to another; handlers
	// send one every third of it.
	defaultAckWait = 30 * time.Second
	// readyTimeout bounds the wait for the embedded server to start.
	readyTimeout = 10 * time.Second
)

// Options configure a Store.
type Options struct {
	// DataDir holds the embedded server's files; required when URL is empty.
	DataDir string
	// URL is an external NATS server; empty embeds one in-process, with no network listener.
	// An external server needs JetStream, room for MaxCodeBytes plus 2 GiB of
	// queue, and a max_payload of 2 MiB or more for 1 MiB event payloads; its
	// own sync settings decide what survives a power loss.
	URL string
	// MaxCodeBytes caps the code object store; 0 means 20 GiB.
	MaxCodeBytes int64
	// Log is ember's logger (may be nil → discard).
	Log *slog.Logger

	// ackWait and queueMaxMsgs override the defaults in tests.
	ackWait      time.Duration
	queueMaxMsgs int64
}

// Store is ember's durable state. Its methods are safe for concurrent use.
type Store struct {
	log     *slog.Logger
	ackWait time.Duration
	// tmpDir holds code while PutCode digests it; empty means the system's.
	tmpDir string

	srv    *server.Server // nil with an external server
	nc     *nats.Conn
	closed chan struct{} // closed by nc's closed handler
	js     jetstream.JetStream

	functions jetstream.KeyValue
	versions  jetstream.KeyValue
	aliases   jetstream.KeyValue
	layers    jetstream.KeyValue
	urls      jetstream.KeyValue
	// versionsStream and aliasesStream back their buckets; DeleteFunction
	// purges a function's keys from them with one request each.
	versionsStream jetstream.Stream
	aliasesStream  jetstream.Stream
	code           jetstream.ObjectStore
	events         jetstream.Stream
	consumer       jetstream.Consumer

	// written and conn serve watches of the function records.
	written writes
	conn    *connection

	closeOnce sync.Once
	closeErr  error
}

// Open starts or connects to JetStream and makes sure that every bucket and
// stream exists with ember's settings, reusing those already there.
func Open(ctx context.Context, opts Options) (*Store, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	maxCode := opts.MaxCodeBytes
	if maxCode == 0 {
		maxCode = defaultMaxCodeBytes
	}
	if maxCode < 0 {
		return nil, fmt.Errorf("open store: MaxCodeBytes %d: %w", maxCode, ErrInvalid)
	}
	s := &Store{log: log, ackWait: opts.ackWait, closed: make(chan struct{}), conn: newConnection()}
	if s.ackWait <= 0 {
		s.ackWait = defaultAckWait
	}
	queueMax := opts.queueMaxMsgs
	if queueMax <= 0 {
		queueMax = queueMaxMsgs
	}

	if opts.URL == "" && opts.DataDir == "" {
		return nil, fmt.Errorf("open store: DataDir is required without URL: %w", ErrInvalid)
	}
	if opts.DataDir != "" {
		s.tmpDir = filepath.Join(opts.DataDir, "code-tmp")
		if err := resetDir(s.tmpDir); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	url := opts.URL
	connOpts := []nats.Option{
		nats.Name("ember"),
		nats.ClosedHandler(func(*nats.Conn) { close(s.closed) }),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { s.conn.disconnected() }),
		nats.ReconnectHandler(func(*nats.Conn) { s.conn.reconnected() }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats", "subject", subject, "err", err)
		}),
	}
	if url == "" {
		srv, err := startServer(opts.DataDir, maxCode+queueMaxBytes+kvAllowance, log)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		s.srv = srv
		connOpts = append(connOpts, nats.InProcessServer(srv))
	} else {
		connOpts = append(connOpts, nats.MaxReconnects(-1))
	}
	nc, err := nats.Connect(url, connOpts...)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open store: connect: %w", err), s.Close())
	}
	s.nc = nc
	if err := s.setup(ctx, maxCode, queueMax); err != nil {
		return nil, errors.Join(fmt.Errorf("open store: %w", err), s.Close())
	}
	return s, nil
}

// setup creates or updates every bucket and stream, concurrently: each is a
// few requests, and Open should take milliseconds.
func (s *Store) setup(ctx context.Context, maxCode, queueMax int64) error {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	s.js = js

	kv := func(bucket, description string, dst *jetstream.KeyValue, stream *jetstream.Stream) func() error {
		return func() error {
			b, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket:      bucket,
				Description: description,
				History:     1,
				Storage:     jetstream.FileStorage,
			})
			if err != nil {
				return fmt.Errorf("bucket %s: %w", bucket, err)
			}
			*dst = b
			if stream != nil {
				st, err := js.Stream(ctx, "KV_"+bucket)
				if err != nil {
					return fmt.Errorf("bucket %s: %w", bucket, err)
				}
				*stream = st
			}
			return nil
		}
	}
	steps := []func() error{
		kv(functionsBucket, "ember function records", &s.functions, nil),
		kv(versionsBucket, "ember published function versions", &s.versions, &s.versionsStream),
		kv(aliasesBucket, "ember function aliases", &s.aliases, &s.aliasesStream),
		kv(layersBucket, "ember layer versions", &s.layers, nil),
		kv(urlsBucket, "ember function URLs", &s.urls, nil),
		func() error { return s.setupCode(ctx, maxCode) },
		func() error { return s.setupEvents(ctx, queueMax) },
	}
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, step := range steps {
		wg.Go(func() { errs[i] = step() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// setupCode creates the code object store's stream itself, with the layout
// that the object store API expects ("OBJ_<bucket>", chunk and meta
// subjects, rollups), because ObjectStoreConfig cannot set the duplicate
// window.
func (s *Store) setupCode(ctx context.Context, maxCode int64) error {
	_, err := s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        "OBJ_" + codeBucket,
		Description: "ember function code, named by the hex SHA-256 of the zip",
		Subjects:    []string{"$O." + codeBucket + ".C.>", "$O." + codeBucket + ".M.>"},
		MaxBytes:    maxCode,
		Storage:     jetstream.FileStorage,
		Replicas:    1,
		Discard:     jetstream.DiscardNew,
		AllowRollup: true,
		AllowDirect: true,
		Duplicates:  codeDuplicateWindow,
	})
	if err != nil {
		return fmt.Errorf("code stream: %w", err)
	}
	obs, err := s.js.ObjectStore(ctx, codeBucket)
	if err != nil {
		return fmt.Errorf("code bucket: %w", err)
	}
	s.code = obs
	return nil
}

func (s *Store) setupEvents(ctx context.Context, queueMax int64) error {
	st, err := s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        eventsStream,
		Description: "ember accepted asynchronous invocations",
		Subjects:    []string{eventsSubject},
		Retention:   jetstream.WorkQueuePolicy,
		MaxMsgs:     queueMax,
		MaxBytes:    queueMaxBytes,
		Discard:     jetstream.DiscardNew,
		Storage:     jetstream.FileStorage,
		Replicas:    1,
		Duplicates:  2 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("events stream: %w", err)
	}
	s.events = st
	cfg := jetstream.ConsumerConfig{
		Durable:     eventsConsumer,
		Description: "ember asynchronous invokers",
		AckPolicy:   jetstream.AckExplicitPolicy,
		AckWait:     s.ackWait,
		MaxDeliver:  -1,
		// Events waiting for a retry's delay stay unacknowledged; they
		// must not hold back the others.
		MaxAckPending: int(queueMax),
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("events consumer: %w", err)
	}
	// An embedded server's queue has no consumer but this process, so the
	// events that were being handled when it last stopped are handled by
	// nobody: recreating the consumer delivers them now rather than when
	// their acknowledgement wait runs out. The stream keeps every
	// unacknowledged event (work-queue retention), and a retry that is not
	// due yet is delayed again when it is delivered.
	if s.srv != nil && cons.CachedInfo().NumAckPending > 0 {
		if err := st.DeleteConsumer(ctx, eventsConsumer); err != nil {
			return fmt.Errorf("events consumer: reset: %w", err)
		}
		if cons, err = st.CreateOrUpdateConsumer(ctx, cfg); err != nil {
			return fmt.Errorf("events consumer: %w", err)
		}
	}
	s.consumer = cons
	return nil
}

// Close drains the connection, shuts the embedded server down and waits for
// it. ConsumeEvents should have returned first. Calling Close again returns
// the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.nc != nil {
			if err := s.nc.Drain(); err != nil {
				errs = append(errs, fmt.Errorf("drain: %w", err))
				s.nc.Close()
			}
			<-s.closed
		}
		if s.srv != nil {
			s.srv.Shutdown()
			s.srv.WaitForShutdown()
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// resetDir empties dir, creating it if needed: it holds what PutCode left
// there when the process died.
func resetDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clear %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}

// validName reports whether s can be a function or alias name in a key:
// [A-Za-z0-9_-]+.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// JetStream API error codes for writes refused at a limit.
const (
	errCodeInsufficientResources = 10023
	errCodeStorageExceeded       = 10047
	errCodeStoreFailed           = 10077 // "maximum messages/bytes exceeded" with DiscardNew
)

// isFull reports whether err is JetStream refusing a write at a stream's or
// the server's storage limit.
func isFull(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case errCodeInsufficientResources, errCodeStorageExceeded:
		return true
	case errCodeStoreFailed:
		return strings.Contains(apiErr.Description, "maximum")
	}
	return false
}
