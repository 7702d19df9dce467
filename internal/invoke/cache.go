package invoke

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/store"
)

// ownWriteWait bounds how long a resolve waits for the watch to apply a
// write made through this process's store before it reads the store
// instead. The watch applies a write within a millisecond or so; a write
// it never sees (a version removed with its function before the watch got
// to it) costs one such wait.
const ownWriteWait = 250 * time.Millisecond

// Restart backoff of a watch that broke.
const (
	minWatchRetry = 10 * time.Millisecond
	maxWatchRetry = time.Second
)

// cache holds every function, version and alias, kept current by a watch of
// the store, so that resolving a name on a warm invocation reads no store.
// While its watch is down, lookups report that the cache cannot answer and
// the caller reads the store.
type cache struct {
	store *store.Store
	log   *slog.Logger
	// limiter receives every function's reserved concurrency before a
	// lookup can see it; changed hears of each change after it is applied.
	limiter *Limiter
	changed func(store.Change)
	loaded  func()

	// Lock order: mu before the limiter's.
	mu        sync.RWMutex
	functions map[string]*entry
	// applied is the revisions the records reflect.
	applied store.Revisions
	// up is set while a watch runs whose records are loaded.
	up bool
	// advanced is closed, and replaced, whenever applied or up change.
	advanced chan struct{}
	// ready is closed at the first load.
	ready chan struct{}

	stop context.CancelFunc
	done chan struct{}
}

// entry holds a function's records. Versions or aliases may arrive before
// their function (each kind has a bucket, and a watch of its own): an entry
// without hasFunction resolves to nothing.
type entry struct {
	hasFunction bool
	function    store.Function
	versions    map[string]store.Version
	aliases     map[string]store.Alias
}

func newCache(st *store.Store, limiter *Limiter, log *slog.Logger) *cache {
	return &cache{
		store:     st,
		log:       log,
		limiter:   limiter,
		changed:   func(store.Change) {},
		loaded:    func() {},
		functions: make(map[string]*entry),
		advanced:  make(chan struct{}),
		ready:     make(chan struct{}),
		done:      make(chan struct{}),
	}
}

// start runs the watch until close: changed and loaded are called from its
// goroutine, without the cache's lock held.
func (c *cache) start(changed func(store.Change), loaded func()) {
	c.changed, c.loaded = changed, loaded
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	go c.run(ctx)
}

// close stops the watch and waits for it.
func (c *cache) close() {
	if c.stop == nil {
		return
	}
	c.stop()
	<-c.done
}

// waitReady waits for the first load of the records.
func (c *cache) waitReady(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run keeps a watch going: it loads the records, applies each change, and
// restarts the watch with a backoff when it breaks.
func (c *cache) run(ctx context.Context) {
	defer close(c.done)
	retry := minWatchRetry
	for {
		w, err := c.store.WatchRecords(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.log.Warn("watch function records", "err", err, "retry_in", retry)
			select {
			case <-time.After(retry):
			case <-ctx.Done():
				return
			}
			retry = min(2*retry, maxWatchRetry)
			continue
		}
		retry = minWatchRetry
		c.load(w)
		err = c.follow(ctx, w)
		c.setDown()
		w.Stop()
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("the watch of function records broke; reading the store until it is back", "err", err)
	}
}

// follow applies the watch's changes until it ends or ctx does.
func (c *cache) follow(ctx context.Context, w *store.RecordWatch) error {
	for {
		select {
		case ch, ok := <-w.Changes():
			if !ok {
				return w.Err()
			}
			c.apply(ch)
			c.changed(ch)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// load replaces the records with a watch's initial ones.
func (c *cache) load(w *store.RecordWatch) {
	functions := make(map[string]*entry)
	for _, ch := range w.Initial {
		applyTo(functions, ch)
	}
	reserved := make(map[string]int)
	for name, e := range functions {
		if e.hasFunction && e.function.ReservedConcurrency != nil {
			reserved[name] = *e.function.ReservedConcurrency
		}
	}
	c.mu.Lock()
	c.limiter.ReplaceReserved(reserved)
	c.functions = functions
	c.applied = w.Loaded
	c.up = true
	c.advanceLocked()
	select {
	case <-c.ready:
	default:
		close(c.ready)
	}
	c.mu.Unlock()
	c.loaded()
}

// apply records one change.
func (c *cache) apply(ch store.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch.Kind == store.KindFunction {
		var reserved *int
		if !ch.Deleted {
			reserved = ch.Function.ReservedConcurrency
		}
		c.limiter.SetReserved(ch.FunctionName, reserved)
	}
	applyTo(c.functions, ch)
	c.applied[ch.Kind] = max(c.applied[ch.Kind], ch.Revision)
	c.advanceLocked()
}

func applyTo(functions map[string]*entry, ch store.Change) {
	e := functions[ch.FunctionName]
	if e == nil {
		if ch.Deleted {
			return
		}
		e = &entry{}
		functions[ch.FunctionName] = e
	}
	switch ch.Kind {
	case store.KindFunction:
		if ch.Deleted {
			// DeleteFunction removes the versions and aliases with the
			// function, without a change of their own.
			delete(functions, ch.FunctionName)
			return
		}
		e.hasFunction, e.function = true, ch.Function
		// Versions of an earlier function of the same name, deleted
		// and made again, may come after it (their watch is another):
		// none was made before this function was.
		for name, v := range e.versions {
			if stale(v, ch.Function) {
				delete(e.versions, name)
			}
		}
	case store.KindVersion:
		if ch.Deleted {
			delete(e.versions, ch.Name)
			return
		}
		if e.hasFunction && stale(ch.Version, e.function) {
			return
		}
		if e.versions == nil {
			e.versions = make(map[string]store.Version)
		}
		e.versions[ch.Name] = ch.Version
	case store.KindAlias:
		if ch.Deleted {
			delete(e.aliases, ch.Name)
			return
		}
		if e.aliases == nil {
			e.aliases = make(map[string]store.Alias)
		}
		e.aliases[ch.Name] = ch.Alias
	}
}

// stale reports whether v was made before fn: it is a version of a
// function of the same name that was deleted.
func stale(v store.Version, fn store.Function) bool {
	return !fn.Created.IsZero() && v.LastModified.Before(fn.Created)
}

func (c *cache) setDown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.up = false
	c.advanceLocked()
}

func (c *cache) advanceLocked() {
	close(c.advanced)
	c.advanced = make(chan struct{})
}

// resolve answers from the cache what Service.Resolve answers; ok is false
// when the cache cannot answer (its watch down, or this process's own
// writes not yet applied in time), and the store must be read.
func (c *cache) resolve(ctx context.Context, name, qualifier string, roll float64, notFound func(string, string) error) (t Target, err error, ok bool) {
	want := c.store.Written()
	c.mu.RLock()
	if !c.applied.Covers(want) && c.up {
		c.mu.RUnlock()
		if !c.await(ctx, want) {
			return Target{}, nil, false
		}
		c.mu.RLock()
	}
	defer c.mu.RUnlock()
	if !c.up {
		return Target{}, nil, false
	}
	e := c.functions[name]
	if e == nil || !e.hasFunction {
		return Target{}, notFound(name, qualifier), true
	}
	fn := e.function
	version := qualifier
	switch {
	case qualifier == "" || qualifier == function.LatestVersion:
		return Target{fn, fn.Latest}, nil, true
	case isNumber(qualifier):
	default:
		a, found := e.aliases[qualifier]
		if !found {
			return Target{}, notFound(name, qualifier), true
		}
		version = pickVersion(a, roll)
		if version == function.LatestVersion {
			return Target{fn, fn.Latest}, nil, true
		}
	}
	v, found := e.versions[version]
	if !found {
		return Target{}, notFound(name, qualifier), true
	}
	return Target{fn, v}, nil, true
}

// await waits until the records reflect want, up to ownWriteWait. Past
// that it takes them to reflect it, reports false so that this lookup
// reads the store, and logs why.
func (c *cache) await(ctx context.Context, want store.Revisions) bool {
	timer := time.NewTimer(ownWriteWait)
	defer timer.Stop()
	for {
		c.mu.RLock()
		covered, up, advanced := c.applied.Covers(want), c.up, c.advanced
		c.mu.RUnlock()
		if covered || !up {
			return up
		}
		select {
		case <-advanced:
		case <-timer.C:
			c.mu.Lock()
			for k := range c.applied {
				c.applied[k] = max(c.applied[k], want[k])
			}
			c.mu.Unlock()
			c.log.Debug("the watch did not show this process's writes in time; reading the store", "want", want)
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// current reports whether a pool made for a version at revision still
// serves it: false once the function or version is gone or $LATEST was
// replaced. ok is false when the cache cannot tell.
func (c *cache) current(name, version, revision string) (keep, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.up {
		return true, false
	}
	e := c.functions[name]
	if e == nil || !e.hasFunction {
		return false, true
	}
	if version == function.LatestVersion {
		return e.function.Latest.RevisionID == revision, true
	}
	v, found := e.versions[version]
	return found && v.RevisionID == revision, true
}
