// Package invoke owns the way from a function name and qualifier to a
// running invocation: it resolves the qualifier to a version (aliases with
// their weighted routing) from a cache kept current by a watch of the
// store, keeps one environment pool per version and retires those of
// deleted or replaced versions, decides with its limiter whether an
// invocation may run (account and reserved concurrency, queue wait), and
// runs accepted asynchronous events from the durable queue with Lambda's
// retries.
package invoke

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/emberfn/ember/internal/billing"
	"github.com/emberfn/ember/internal/codecache"
	"github.com/emberfn/ember/internal/environment"
	"github.com/emberfn/ember/internal/envpool"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/image"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/logstore"
	"github.com/emberfn/ember/internal/metrics"
	"github.com/emberfn/ember/internal/runtimes"
	"github.com/emberfn/ember/internal/store"
	"github.com/emberfn/ember/internal/usage"
)

// MaxUnzipped is Lambda's limit on a function's unzipped code, layers
// included: 250 MB.
const MaxUnzipped = function.MaxUnzipped

// Options configure a Service.
type Options struct {
	Store *store.Store
	Code  *codecache.Cache
	// Images are the container images that functions of PackageType
	// Image run; nil runs none.
	Images *image.Store
	Logs   *logstore.Store
	// Runtimes finds the interpreters of managed runtimes, whose clients
	// are installed in RuntimeDir.
	Runtimes   *runtimes.Registry
	RuntimeDir string
	// Environment is the template of every environment: isolation,
	// logger, grace period. Function and LogsFor are set per version.
	Environment environment.Options
	Region      string
	AccountID   string
	// AccountConcurrency is the server-wide limit of concurrent
	// executions; 0 means DefaultAccountConcurrency.
	AccountConcurrency int
	IdleTimeout        time.Duration
	// Spares is how many sandboxes each version keeps built ahead.
	Spares int
	// AsyncWorkers is how many queued events run at once.
	AsyncWorkers int
	// Usage keeps a record of each invocation, Metrics counts them, and
	// Prices prices them; nil Usage or Metrics keep nothing.
	Usage   *usage.Store
	Metrics *metrics.Registry
	Prices  billing.Prices
	// RetryDelays are the waits before the retries of an event whose
	// function failed; Lambda's are one and two minutes.
	RetryDelays []time.Duration
	// MaxEventAge drops events older than this; Lambda's default is 6 h.
	MaxEventAge time.Duration
	Log         *slog.Logger
}

// Service runs invocations of every function in the store.
type Service struct {
	opts    Options
	log     *slog.Logger
	limiter *Limiter
	// cache is nil without a store.
	cache *cache

	// Lock order: mu before the cache's (retireStale), the cache's before
	// the limiter's.
	mu sync.Mutex
	// pools holds one pool per function version, keyed by name and
	// version; $LATEST's is replaced when its revision changes.
	pools map[poolKey]*versionPool
	// byVersion counts running invocations per version.
	byVersion map[poolKey]int
	closed    bool

	// tasks tracks goroutines the service owns: the closing of replaced
	// pools, which have until retiring is done to drain.
	tasks        sync.WaitGroup
	retiring     context.Context
	stopRetiring context.CancelFunc
}

type poolKey struct{ name, version string }

type versionPool struct {
	pool     *envpool.Pool
	revision string
}

// New returns a service and starts the watch that keeps its function cache
// current; Ready waits for the cache's first load, and Close stops it all.
// Until the cache is loaded, and while its watch is down, invocations read
// the store.
func New(opts Options) *Service {
	if opts.AccountConcurrency <= 0 {
		opts.AccountConcurrency = DefaultAccountConcurrency
	}
	if opts.Region == "" {
		opts.Region = function.DefaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = function.DefaultAccountID
	}
	if opts.AsyncWorkers <= 0 {
		opts.AsyncWorkers = 16
	}
	if opts.RetryDelays == nil {
		opts.RetryDelays = []time.Duration{time.Minute, 2 * time.Minute}
	}
	if opts.MaxEventAge <= 0 {
		opts.MaxEventAge = 6 * time.Hour
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Prices.Duration == nil {
		opts.Prices = billing.Default()
	}
	retiring, stopRetiring := context.WithCancel(context.Background())
	s := &Service{
		retiring:     retiring,
		stopRetiring: stopRetiring,
		opts:         opts,
		log:          opts.Log,
		limiter:      NewLimiter(LimiterOptions{Account: opts.AccountConcurrency}),
		pools:        make(map[poolKey]*versionPool),
		byVersion:    make(map[poolKey]int),
	}
	if opts.Store != nil {
		s.cache = newCache(opts.Store, s.limiter, s.log)
		s.cache.start(s.changed, s.retireStale)
	}
	return s
}

// Ready waits until the function cache is loaded: from then on a warm
// invocation reads no store.
func (s *Service) Ready(ctx context.Context) error {
	if s.cache == nil {
		return nil
	}
	return s.cache.waitReady(ctx)
}

// Target is a resolved invocation target.
type Target struct {
	Function store.Function
	Version  store.Version
}

// Resolve finds the version that name with qualifier invokes: "" and
// $LATEST give $LATEST, a number that version, anything else an alias,
// whose weights pick between its versions. It answers from the function
// cache, after the writes made through this process's store have reached
// it; while the cache's watch is down it reads the store.
func (s *Service) Resolve(ctx context.Context, name, qualifier string) (Target, error) {
	t, _, err := s.resolve(ctx, name, qualifier)
	return t, err
}

// resolve is Resolve; fromStore says that the store was read.
func (s *Service) resolve(ctx context.Context, name, qualifier string) (t Target, fromStore bool, err error) {
	if s.cache != nil {
		if t, err, ok := s.cache.resolve(ctx, name, qualifier, rand.Float64(), s.notFoundError); ok {
			return t, false, err
		}
	}
	t, err = s.resolveFromStore(ctx, name, qualifier)
	return t, true, err
}

// resolveFromStore is Resolve reading the store.
func (s *Service) resolveFromStore(ctx context.Context, name, qualifier string) (Target, error) {
	fn, err := s.opts.Store.GetFunction(ctx, name)
	if err != nil {
		return Target{}, s.notFound(err, name, qualifier)
	}
	switch {
	case qualifier == "" || qualifier == function.LatestVersion:
		return Target{fn, fn.Latest}, nil
	case isNumber(qualifier):
		v, err := s.opts.Store.GetVersion(ctx, name, qualifier)
		if err != nil {
			return Target{}, s.notFound(err, name, qualifier)
		}
		return Target{fn, v}, nil
	}
	a, err := s.opts.Store.GetAlias(ctx, name, qualifier)
	if err != nil {
		return Target{}, s.notFound(err, name, qualifier)
	}
	version := pickVersion(a, rand.Float64())
	v, err := s.opts.Store.GetVersion(ctx, name, version)
	if err != nil {
		return Target{}, s.notFound(err, name, qualifier)
	}
	return Target{fn, v}, nil
}

// pickVersion chooses the alias's version for a roll in [0, 1): each
// additional version takes its weight's share, the main one the rest.
func pickVersion(a store.Alias, roll float64) string {
	for _, v := range sortedKeys(a.Weights) {
		if roll < a.Weights[v] {
			return v
		}
		roll -= a.Weights[v]
	}
	return a.FunctionVersion
}

func (s *Service) notFound(err error, name, qualifier string) error {
	if errors.Is(err, store.ErrNotFound) {
		return s.notFoundError(name, qualifier)
	}
	return err
}

func (s *Service) notFoundError(name, qualifier string) error {
	arn := function.Config{Name: name, Region: s.opts.Region, AccountID: s.opts.AccountID}.QualifiedARN(qualifier)
	return invocation.Errorf(invocation.ErrNotFound, "Function not found: %s", arn)
}

// Invoke runs req on the version that name and qualifier resolve to. The
// report arrives on the channel once the invocation has ended.
func (s *Service) Invoke(ctx context.Context, name, qualifier string, req invocation.Request) (invocation.Response, <-chan invocation.Report, Target, error) {
	return s.invoke(ctx, name, qualifier, req, false)
}

// retireAttempts is how many times an invocation is resolved again after
// the pool it was given was retired before it ran.
const retireAttempts = 3

// errRetired is what an attempt meets when the version it resolved was
// replaced before any environment ran it.
var errRetired = invocation.Errorf(invocation.ErrUnavailable, "the function changed while the invocation started")

func (s *Service) invoke(ctx context.Context, name, qualifier string, req invocation.Request, async bool) (invocation.Response, <-chan invocation.Report, Target, error) {
	for attempt := 1; ; attempt++ {
		resp, out, t, err := s.attempt(ctx, name, qualifier, req, async)
		// A pool retired between resolution and its first environment
		// (an update of $LATEST, a deletion) has run nothing: the name
		// is resolved again, now to what replaced it.
		retired := errors.Is(err, envpool.ErrClosed) || errors.Is(err, errRetired)
		if !retired || attempt == retireAttempts || ctx.Err() != nil {
			return resp, out, t, err
		}
	}
}

func (s *Service) attempt(ctx context.Context, name, qualifier string, req invocation.Request, async bool) (invocation.Response, <-chan invocation.Report, Target, error) {
	t, fromStore, err := s.resolve(ctx, name, qualifier)
	if err != nil {
		return invocation.Response{}, nil, Target{}, err
	}
	if fromStore {
		// The cache's watch is down: the limiter has this function's
		// reservation as the store has it now.
		s.limiter.SetReserved(t.Version.FunctionName, t.Function.ReservedConcurrency)
	}
	if t.Version.State != "" && t.Version.State != "Active" {
		return invocation.Response{}, nil, t, invocation.Errorf(invocation.ErrConflict,
			"The operation cannot be performed at this time. The function is currently in the following state: %s", t.Version.State)
	}
	key := poolKey{t.Version.FunctionName, t.Version.Version}
	cfg := s.config(t.Version)
	start := time.Now()
	if err := s.acquire(ctx, key); err != nil {
		s.record(t, cfg, invocation.Report{RequestID: req.ID}, usage.OutcomeThrottled, "", start, async)
		return invocation.Response{}, nil, t, err
	}
	pool, err := s.pool(ctx, t)
	if err != nil {
		s.release(key)
		return invocation.Response{}, nil, t, err
	}
	req.InvokedARN = cfg.QualifiedARN(qualifier)
	out := make(chan invocation.Report, 1)
	resp, err := pool.Invoke(ctx, req, func(r invocation.Report) {
		// The invocation's end, on the goroutine that ended it: the slot
		// goes back, the record is kept, and the report waits in out
		// for whoever wants it.
		s.release(key)
		outcome := usage.OutcomeSuccess
		switch {
		case r.Status == invocation.StatusTimeout:
			outcome = usage.OutcomeTimeout
		case r.Status == invocation.StatusError || r.FunctionError != "":
			outcome = usage.OutcomeError
		}
		errorType := r.ErrorType
		if errorType == "" {
			errorType = r.FunctionErrorType
		}
		s.record(t, cfg, r, outcome, errorType, start, async)
		out <- r
		close(out)
	})
	if err != nil {
		s.release(key)
		return resp, nil, t, err
	}
	return resp, out, t, nil
}

// record keeps, counts and prices one invocation of t, whose
// configuration is cfg.
func (s *Service) record(t Target, cfg function.Config, r invocation.Report, outcome, errorType string, start time.Time, async bool) {
	v := t.Version
	arch := billing.X86_64
	if len(v.Architectures) > 0 {
		arch = v.Architectures[0]
	}
	rec := usage.Record{
		Function:        v.FunctionName,
		Version:         v.Version,
		RequestID:       r.RequestID,
		Start:           start,
		Duration:        r.Duration,
		BilledDuration:  r.BilledDuration,
		InitDuration:    r.InitDuration,
		Cold:            r.InitDuration > 0,
		MemoryMB:        cfg.MemoryMB,
		MaxMemoryUsedMB: int(r.MaxMemoryUsed >> 20),
		EphemeralMB:     cfg.EphemeralStorageMB,
		Arch:            arch,
		Outcome:         outcome,
		ErrorType:       errorType,
		Async:           async,
	}
	if outcome != usage.OutcomeThrottled {
		rec.CostUSD = s.opts.Prices.Cost(billing.Invocation{
			Duration: r.Duration, InitDuration: r.InitDuration, MemoryMB: cfg.MemoryMB, EphemeralMB: cfg.EphemeralStorageMB, Arch: arch,
		})
	}
	if s.opts.Usage != nil {
		s.opts.Usage.Add(rec)
	}
	if s.opts.Metrics != nil {
		s.opts.Metrics.Observe(metrics.Invocation{
			Function: rec.Function, Version: rec.Version, Duration: rec.Duration, InitDuration: rec.InitDuration,
			Cold: rec.Cold, Outcome: outcome,
		})
	}
}

// acquire takes a concurrency slot for an invocation of key's version, or
// returns Lambda's throttle.
func (s *Service) acquire(ctx context.Context, key poolKey) error {
	if err := s.limiter.Acquire(ctx, key.name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.limiter.Release(key.name)
		return invocation.Errorf(invocation.ErrUnavailable, "ember is shutting down")
	}
	s.byVersion[key]++
	return nil
}

func (s *Service) release(key poolKey) {
	s.limiter.Release(key.name)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byVersion[key]--
	if s.byVersion[key] <= 0 {
		delete(s.byVersion, key)
	}
}

// Concurrency reports the invocations running now and the account's
// limit left to functions without reserved concurrency.
func (s *Service) Concurrency() (running, unreservedLimit int) {
	return s.limiter.Concurrency()
}

// Running returns the invocations running now by function and version.
func (s *Service) Running() map[[2]string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[[2]string]int, len(s.byVersion))
	for k, n := range s.byVersion {
		out[[2]string{k.name, k.version}] = n
	}
	return out
}

// pool returns the environment pool of t's version, making it on first
// use; a $LATEST whose revision changed gets a new pool, and the old one
// drains in the background.
func (s *Service) pool(ctx context.Context, t Target) (*envpool.Pool, error) {
	key := poolKey{t.Version.FunctionName, t.Version.Version}
	s.mu.Lock()
	vp := s.pools[key]
	s.mu.Unlock()
	if vp != nil && vp.revision == t.Version.RevisionID {
		return vp.pool, nil
	}
	if s.superseded(t) {
		return nil, errRetired
	}
	cfg := s.config(t.Version)
	if err := s.setCode(ctx, &cfg, t.Version); err != nil {
		return nil, err
	}
	envOpts := s.opts.Environment
	envOpts.Function = cfg
	group := cfg.LogGroup()
	envOpts.LogsFor = func(stream string) io.Writer { return s.opts.Logs.Writer(group, stream) }

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, invocation.Errorf(invocation.ErrUnavailable, "ember is shutting down")
	}
	if vp := s.pools[key]; vp != nil {
		if vp.revision == t.Version.RevisionID {
			return vp.pool, nil
		}
		// A target resolved before an update must not replace the
		// pool of what the update made.
		if s.superseded(t) {
			return nil, errRetired
		}
		s.closeInBackgroundLocked(vp.pool)
	}
	p := envpool.New(envpool.Options{
		Environment: envOpts,
		IdleTimeout: s.opts.IdleTimeout,
		Spares:      s.opts.Spares,
	})
	s.pools[key] = &versionPool{pool: p, revision: t.Version.RevisionID}
	return p, nil
}

// superseded reports whether the cache knows t's version to be replaced
// or gone since t was resolved.
func (s *Service) superseded(t Target) bool {
	if s.cache == nil {
		return false
	}
	keep, ok := s.cache.current(t.Version.FunctionName, t.Version.Version, t.Version.RevisionID)
	return ok && !keep
}

// setCode gives cfg the code of version v: a zip's directory with its
// layers and runtime, or a container image's root and entry point.
func (s *Service) setCode(ctx context.Context, cfg *function.Config, v store.Version) error {
	if v.ImageDigest != "" {
		img, handler, err := s.image(v)
		if err != nil {
			return fmt.Errorf("image of %s:%s: %w", v.FunctionName, v.Version, err)
		}
		cfg.Image, cfg.Handler = img, handler
		return nil
	}
	dir, err := s.opts.Code.Dir(ctx, v.CodeDigest, MaxUnzipped, func(ctx context.Context, path string) error {
		return s.opts.Store.CodeFile(ctx, v.CodeDigest, path)
	})
	if err != nil {
		return fmt.Errorf("code of %s:%s: %w", v.FunctionName, v.Version, err)
	}
	cfg.CodeDir = dir
	if cfg.OptDir, err = s.layers(ctx, v); err != nil {
		return fmt.Errorf("layers of %s:%s: %w", v.FunctionName, v.Version, err)
	}
	return s.configureRuntime(cfg)
}

// layers returns the directory of a version's layers merged in order, or
// "" for none.
func (s *Service) layers(ctx context.Context, v store.Version) (string, error) {
	if len(v.LayerDigests) == 0 {
		return "", nil
	}
	for _, digest := range v.LayerDigests {
		if _, err := s.opts.Code.Dir(ctx, digest, MaxUnzipped, func(ctx context.Context, path string) error {
			return s.opts.Store.CodeFile(ctx, digest, path)
		}); err != nil {
			return "", err
		}
	}
	return s.opts.Code.Merged(v.LayerDigests)
}

// configureRuntime gives a function of a managed runtime its interpreter
// and client.
func (s *Service) configureRuntime(cfg *function.Config) error {
	if cfg.IsProvided() {
		return nil
	}
	if s.opts.Runtimes == nil {
		return invocation.Errorf(invocation.ErrInvalid, "The runtime %s is not available on this ember server.", cfg.Runtime)
	}
	rt, err := s.opts.Runtimes.Lookup(cfg.Runtime)
	if err != nil {
		return invocation.Errorf(invocation.ErrInvalid, "%v", err)
	}
	rt.Configure(cfg, s.opts.RuntimeDir)
	return nil
}

func (s *Service) closeInBackgroundLocked(p *envpool.Pool) {
	s.tasks.Add(1)
	go func() {
		defer s.tasks.Done()
		if err := p.Close(s.retiring); err != nil {
			s.log.Warn("close replaced environments", "err", err)
		}
	}()
}

// changed retires the pools that a change of the function records leaves
// without a version to serve: every pool of a deleted function, a deleted
// version's, and $LATEST's when its revision changed.
func (s *Service) changed(ch store.Change) {
	if ch.Kind == store.KindAlias {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, vp := range s.pools {
		if k.name != ch.FunctionName {
			continue
		}
		var retire bool
		switch {
		case ch.Kind == store.KindFunction && ch.Deleted:
			retire = true
		case ch.Kind == store.KindFunction:
			retire = k.version == function.LatestVersion && vp.revision != ch.Function.Latest.RevisionID
		default:
			retire = ch.Deleted && k.version == ch.Name
		}
		if retire {
			delete(s.pools, k)
			s.closeInBackgroundLocked(vp.pool)
		}
	}
}

// retireStale retires every pool whose version the function cache no
// longer holds at the pool's revision, after the cache was (re)loaded.
func (s *Service) retireStale() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, vp := range s.pools {
		if keep, ok := s.cache.current(k.name, k.version, vp.revision); ok && !keep {
			delete(s.pools, k)
			s.closeInBackgroundLocked(vp.pool)
		}
	}
}

// config is the execution core's view of a stored version.
func (s *Service) config(v store.Version) function.Config {
	return function.Config{
		Name:               v.FunctionName,
		Version:            v.Version,
		Region:             s.opts.Region,
		AccountID:          s.opts.AccountID,
		Runtime:            v.Runtime,
		Handler:            v.Handler,
		MemoryMB:           v.MemorySize,
		Timeout:            time.Duration(v.Timeout) * time.Second,
		EphemeralStorageMB: v.EphemeralStorage,
		Network:            v.Network,
		Env:                v.Environment,
	}.WithDefaults()
}

// Close stops the service: the cache's watch ends, invocations in flight
// have until ctx is done to end, then every environment is shut down. It
// returns once every goroutine the service owns has ended, with what went
// wrong in the teardown.
func (s *Service) Close(ctx context.Context) error {
	if s.cache != nil {
		s.cache.close()
	}
	s.mu.Lock()
	s.closed = true
	pools := s.pools
	s.pools = map[poolKey]*versionPool{}
	s.mu.Unlock()
	// Pools of replaced versions, closing in the background, get the
	// same time.
	stop := context.AfterFunc(ctx, s.stopRetiring)
	defer stop()
	errs := make([]error, 0, len(pools))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, vp := range pools {
		wg.Go(func() {
			if err := vp.pool.Close(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s.tasks.Wait()
	s.stopRetiring()
	return errors.Join(errs...)
}

func sortedKeys(m map[string]float64) []string {
	return slices.Sorted(maps.Keys(m))
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}
