package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Kind is the kind of a function record: the function itself, one of its
// published versions, or one of its aliases.
type Kind int

// The kinds of records, each in a bucket of its own.
const (
	KindFunction Kind = iota
	KindVersion
	KindAlias
	numKinds
)

func (k Kind) String() string {
	switch k {
	case KindFunction:
		return "function"
	case KindVersion:
		return "version"
	case KindAlias:
		return "alias"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Revisions holds one KV revision per kind of record. Revisions of
// different kinds are not comparable: each kind has its own bucket.
type Revisions [numKinds]uint64

// Covers reports whether r is at or past o in every kind.
func (r Revisions) Covers(o Revisions) bool {
	for k := range r {
		if r[k] < o[k] {
			return false
		}
	}
	return true
}

// Change is a function record as a watch sees it: written, or deleted.
type Change struct {
	Kind Kind
	// FunctionName is the function the record belongs to; Name is the
	// version number or alias name ("" for a function).
	FunctionName, Name string
	Deleted            bool
	// Function, Version or Alias (by Kind) is the record written; zero
	// when Deleted.
	Function Function
	Version  Version
	Alias    Alias
	// Revision is the record's revision in its kind's bucket.
	Revision uint64
}

// writes holds the revision of the latest write of each kind through this
// Store, so that a watcher in the same process can tell when it has seen
// them.
type writes struct {
	rev [numKinds]atomic.Uint64
}

func (w *writes) note(k Kind, rev uint64) {
	for {
		old := w.rev[k].Load()
		if rev <= old || w.rev[k].CompareAndSwap(old, rev) {
			return
		}
	}
}

// Written returns the revisions of the latest writes of function records
// made through this Store. A watch that has applied them (Covers) reflects
// every write that returned before Written was called.
func (s *Store) Written() Revisions {
	var r Revisions
	for k := range r {
		r[k] = s.written.rev[k].Load()
	}
	return r
}

// purge removes key's history with a purge marker that watchers see, if its
// last revision is lastRev (0: any), and returns the marker's revision. It
// fails with jetstream.ErrKeyRevisionMismatch when the key has moved on.
func (s *Store) purge(ctx context.Context, kv jetstream.KeyValue, key string, lastRev uint64) (uint64, error) {
	m := nats.NewMsg("$KV." + kv.Bucket() + "." + key)
	m.Header.Set("KV-Operation", "PURGE")
	m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	var opts []jetstream.PublishOpt
	if lastRev != 0 {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(lastRev))
	}
	ack, err := s.js.PublishMsg(ctx, m, opts...)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return 0, fmt.Errorf("%w: %w", err, jetstream.ErrKeyRevisionMismatch)
		}
		return 0, err
	}
	return ack.Sequence, nil
}

// connection tracks whether the connection to NATS is up, for watches:
// a watch ends when the connection is lost, since what it misses meanwhile
// only arrives once the server is back.
type connection struct {
	mu sync.Mutex
	// lost is closed when the connection is lost, and replaced by an open
	// one when it is back.
	lost chan struct{}
}

func newConnection() *connection {
	return &connection{lost: make(chan struct{})}
}

func (c *connection) disconnected() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.lost:
	default:
		close(c.lost)
	}
}

func (c *connection) reconnected() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.lost:
		c.lost = make(chan struct{})
	default:
	}
}

func (c *connection) lostChan() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// RecordWatch follows every function, version and alias record. Its
// initial records are read when WatchRecords returns; Changes then
// delivers each change in its bucket's order.
type RecordWatch struct {
	// Initial holds every record there was when the watch started.
	Initial []Change
	// Loaded is the revisions that Initial reflects: every write through
	// this Store that returned before WatchRecords was called, and every
	// record in Initial.
	Loaded Revisions

	changes  chan Change
	watchers [numKinds]jetstream.KeyWatcher
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	// err is why the watch ended, written before changes is closed.
	err error
}

// WatchRecords starts a watch of every function record and returns once
// the current records are read. The watch runs until Stop, or until it
// breaks (the connection to NATS lost, a watcher ended): Changes is then
// closed and Err says why.
func (s *Store) WatchRecords(ctx context.Context) (*RecordWatch, error) {
	lost := s.conn.lostChan()
	w := &RecordWatch{
		Loaded:  s.Written(),
		changes: make(chan Change, 64),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	buckets := [numKinds]jetstream.KeyValue{s.functions, s.versions, s.aliases}
	for k, kv := range buckets {
		kw, err := kv.WatchAll(ctx)
		if err != nil {
			w.stopWatchers()
			return nil, fmt.Errorf("watch %s records: %w", Kind(k), err)
		}
		w.watchers[k] = kw
	}
	for k, kw := range w.watchers {
		if err := w.readInitial(ctx, Kind(k), kw, lost); err != nil {
			w.stopWatchers()
			return nil, fmt.Errorf("watch %s records: %w", Kind(k), err)
		}
	}
	go w.run(lost)
	return w, nil
}

// readInitial reads a watcher's current values, up to the nil entry that
// ends them; deleted keys among them are left out.
func (w *RecordWatch) readInitial(ctx context.Context, k Kind, kw jetstream.KeyWatcher, lost <-chan struct{}) error {
	for {
		select {
		case e, ok := <-kw.Updates():
			if !ok {
				return errors.New("watch ended before the current values")
			}
			if e == nil {
				return nil
			}
			c, err := decodeChange(k, e)
			if err != nil {
				return err
			}
			w.Loaded[k] = max(w.Loaded[k], c.Revision)
			if !c.Deleted {
				w.Initial = append(w.Initial, c)
			}
		case <-lost:
			return errors.New("connection to NATS lost")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// run forwards changes until Stop or until the watch breaks.
func (w *RecordWatch) run(lost <-chan struct{}) {
	// Changes closes first: stopping the watchers takes up to a request's
	// timeout when the connection is lost.
	defer close(w.done)
	defer w.stopWatchers()
	defer close(w.changes)
	for {
		var (
			e  jetstream.KeyValueEntry
			ok bool
			k  Kind
		)
		select {
		case e, ok = <-w.watchers[KindFunction].Updates():
			k = KindFunction
		case e, ok = <-w.watchers[KindVersion].Updates():
			k = KindVersion
		case e, ok = <-w.watchers[KindAlias].Updates():
			k = KindAlias
		case <-lost:
			w.err = errors.New("connection to NATS lost")
			return
		case <-w.stop:
			return
		}
		if !ok {
			w.err = fmt.Errorf("the watch of %s records ended", k)
			return
		}
		if e == nil {
			continue
		}
		c, err := decodeChange(k, e)
		if err != nil {
			w.err = err
			return
		}
		select {
		case w.changes <- c:
		case <-lost:
			w.err = errors.New("connection to NATS lost")
			return
		case <-w.stop:
			return
		}
	}
}

// stopWatchers stops the watchers, all at once: each may wait for a
// request's timeout when the connection is lost.
func (w *RecordWatch) stopWatchers() {
	var wg sync.WaitGroup
	for _, kw := range w.watchers {
		if kw == nil {
			continue
		}
		// A watcher's callback blocks on a full channel: drain it so that
		// it sees the stop.
		go func() {
			for range kw.Updates() {
			}
		}()
		wg.Go(func() { kw.Stop() })
	}
	wg.Wait()
}

// Changes delivers the changes after Initial; it is closed when the watch
// ends.
func (w *RecordWatch) Changes() <-chan Change { return w.changes }

// Err says why the watch ended: nil after Stop. Call it once Changes is
// closed.
func (w *RecordWatch) Err() error { return w.err }

// Stop ends the watch and waits for it.
func (w *RecordWatch) Stop() {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
}

// decodeChange reads one KV entry of a kind's bucket.
func decodeChange(k Kind, e jetstream.KeyValueEntry) (Change, error) {
	c := Change{Kind: k, Revision: e.Revision()}
	key := e.Key()
	c.FunctionName = key
	if k != KindFunction {
		name, child, ok := strings.Cut(key, ".")
		if !ok {
			return Change{}, fmt.Errorf("%s key %q has no function name", k, key)
		}
		c.FunctionName, c.Name = name, child
	}
	if e.Operation() != jetstream.KeyValuePut {
		c.Deleted = true
		return c, nil
	}
	var err error
	switch k {
	case KindFunction:
		c.Function, err = decodeFunction(e)
	case KindVersion:
		err = json.Unmarshal(e.Value(), &c.Version)
	case KindAlias:
		c.Alias, err = decodeAlias(e)
	}
	if err != nil {
		return Change{}, fmt.Errorf("decode %s %s: %w", k, key, err)
	}
	return c, nil
}
