package invoke

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/emberfn/ember/internal/codecache"
	"github.com/emberfn/ember/internal/environment"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/logstore"
	"github.com/emberfn/ember/internal/store"
	"github.com/emberfn/ember/internal/testfunc"
)

// natsServer starts a NATS server with JetStream on a free port, for
// several embers to share.
func natsServer(t testing.TB, dir string, port int) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return srv
}

// ember is one node: a store connected to the shared NATS and its service.
type ember struct {
	store *store.Store
	svc   *Service
}

func newEmber(t testing.TB, url string, account int) *ember {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{URL: url, MaxCodeBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	code, err := codecache.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := New(Options{
		Store: st, Code: code, Logs: logstore.New(logstore.Options{}),
		Environment: environment.Options{}, AccountConcurrency: account, IdleTimeout: time.Minute,
	})
	t.Cleanup(func() {
		svc.Close(context.Background())
		st.Close()
	})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := svc.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return &ember{store: st, svc: svc}
}

// twoEmbers returns two embers sharing one NATS server.
func twoEmbers(t testing.TB, account int) (a, b *ember) {
	t.Helper()
	srv := natsServer(t, t.TempDir(), -1)
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return newEmber(t, srv.ClientURL(), account), newEmber(t, srv.ClientURL(), account)
}

// echoCode stores the echo function's zip and returns its digest.
func echoCode(t testing.TB, st *store.Store) string {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join(testfunc.Build(t, "echo"), "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bin)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := st.PutCode(context.Background(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	return c.Digest
}

func createFunction(t testing.TB, st *store.Store, name, digest string) store.Function {
	t.Helper()
	// Made as the control plane makes one: created and last modified now.
	now := time.Now()
	f, err := st.CreateFunction(context.Background(), store.Function{Latest: store.Version{
		FunctionName: name, Runtime: "provided.al2023", Handler: "bootstrap", MemorySize: 128, Timeout: 10,
		CodeDigest: digest, RevisionID: "r1", State: "Active", LastModified: now,
	}, Created: now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// visibleWithin polls cond until it holds and returns how long that took;
// the test fails past a second (changes should take well under 100 ms).
func visibleWithin(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > time.Second {
			t.Fatalf("%s: not seen by the other ember within 1s", what)
		}
		time.Sleep(200 * time.Microsecond)
	}
	took := time.Since(start)
	t.Logf("%s: seen by the other ember after %v", what, took)
	return took
}

func TestChangeSeenByAnotherEmber(t *testing.T) {
	ctx := context.Background()
	a, b := twoEmbers(t, 0)
	// Resolving reads no code: a digest of none will do.
	const digest = "none"

	f := createFunction(t, a.store, "f", digest)
	visibleWithin(t, "a new function", func() bool {
		_, err := b.svc.Resolve(ctx, "f", "")
		return err == nil
	})

	f.Latest.RevisionID, f.Latest.MemorySize = "r2", 256
	f.LastPublished = 1
	f, err := a.store.UpdateFunction(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	visibleWithin(t, "a changed $LATEST", func() bool {
		tg, err := b.svc.Resolve(ctx, "f", function.LatestVersion)
		return err == nil && tg.Version.RevisionID == "r2" && tg.Version.MemorySize == 256
	})

	v := f.Latest
	v.Version = "1"
	if err := a.store.CreateVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	visibleWithin(t, "a published version", func() bool {
		tg, err := b.svc.Resolve(ctx, "f", "1")
		return err == nil && tg.Version.Version == "1"
	})

	if _, err := a.store.CreateAlias(ctx, store.Alias{FunctionName: "f", Name: "live", FunctionVersion: "1", RevisionID: "a1"}); err != nil {
		t.Fatal(err)
	}
	visibleWithin(t, "an alias", func() bool {
		tg, err := b.svc.Resolve(ctx, "f", "live")
		return err == nil && tg.Version.Version == "1"
	})

	if err := a.store.DeleteAlias(ctx, "f", "live"); err != nil {
		t.Fatal(err)
	}
	visibleWithin(t, "a deleted alias", func() bool {
		_, err := b.svc.Resolve(ctx, "f", "live")
		return errors.Is(err, invocation.ErrNotFound)
	})

	// The time from a write's start through one ember to its sight by
	// the other, over many writes.
	var took []time.Duration
	for i := range 50 {
		f.Latest.Description = fmt.Sprint("change ", i)
		start := time.Now()
		if f, err = a.store.UpdateFunction(ctx, f); err != nil {
			t.Fatal(err)
		}
		for {
			tg, err := b.svc.Resolve(ctx, "f", "")
			if err == nil && tg.Version.Description == f.Latest.Description {
				break
			}
			if time.Since(start) > time.Second {
				t.Fatalf("change %d not seen by the other ember within 1s", i)
			}
			time.Sleep(100 * time.Microsecond)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	t.Logf("write through one ember to sight by the other, %d changes: p50 %v, max %v", len(took), took[len(took)/2], took[len(took)-1])

	if err := a.store.DeleteFunction(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"", "1"} {
		visibleWithin(t, "a deleted function, qualifier "+q, func() bool {
			_, err := b.svc.Resolve(ctx, "f", q)
			return errors.Is(err, invocation.ErrNotFound)
		})
	}
}

// A write through one ember is seen by the next resolve through the same
// ember, without polling.
func TestReadYourWrites(t *testing.T) {
	ctx := context.Background()
	a, _ := twoEmbers(t, 0)
	// Resolving reads no code: a digest of none will do.
	const digest = "none"
	f := createFunction(t, a.store, "f", digest)
	if _, err := a.svc.Resolve(ctx, "f", ""); err != nil {
		t.Fatalf("right after CreateFunction: %v", err)
	}
	for i := range 50 {
		f.Latest.RevisionID = string(rune('a' + i%26))
		f.Latest.Description = time.Now().String()
		var err error
		if f, err = a.store.UpdateFunction(ctx, f); err != nil {
			t.Fatal(err)
		}
		tg, err := a.svc.Resolve(ctx, "f", "")
		if err != nil || tg.Version.Description != f.Latest.Description {
			t.Fatalf("update %d: resolved %q, %v; want %q", i, tg.Version.Description, err, f.Latest.Description)
		}
	}
	zero := 0
	f.ReservedConcurrency = &zero
	if _, err := a.store.UpdateFunction(ctx, f); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := a.svc.Invoke(ctx, "f", "", invocation.Request{ID: invocation.NewRequestID(), Payload: []byte("{}")}); throttleReason(err) != invocation.ReasonReservedConcurrentLimit {
		t.Errorf("right after reserving 0: %v, want a throttle", err)
	}
	if err := a.store.DeleteFunction(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.Resolve(ctx, "f", ""); !errors.Is(err, invocation.ErrNotFound) {
		t.Errorf("right after DeleteFunction: %v", err)
	}

	// A function deleted with its versions, and made again: the old
	// version is gone with it.
	f = createFunction(t, a.store, "f", digest)
	f.LastPublished = 1
	if f, err := a.store.UpdateFunction(ctx, f); err != nil {
		t.Fatal(err)
	} else {
		v := f.Latest
		v.Version = "1"
		if err := a.store.CreateVersion(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.store.DeleteFunction(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	createFunction(t, a.store, "f", digest)
	start := time.Now()
	if _, err := a.svc.Resolve(ctx, "f", "1"); !errors.Is(err, invocation.ErrNotFound) {
		t.Errorf("version 1 of a function made again: %v", err)
	}
	if _, err := a.svc.Resolve(ctx, "f", ""); err != nil {
		t.Errorf("a function made again: %v", err)
	}
	t.Logf("resolves after a function was deleted and made again took %v", time.Since(start))
}

// The unreserved share is the account's limit less the reservations of
// every function in the store: those made through another ember, and those
// made before this one started.
func TestReservedConcurrencyAcrossEmbers(t *testing.T) {
	ctx := context.Background()
	srv := natsServer(t, t.TempDir(), -1)
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	a := newEmber(t, srv.ClientURL(), 10)
	// Resolving reads no code: a digest of none will do.
	const digest = "none"
	three := 3
	early := createFunction(t, a.store, "early", digest)
	early.ReservedConcurrency = &three
	if _, err := a.store.UpdateFunction(ctx, early); err != nil {
		t.Fatal(err)
	}
	b := newEmber(t, srv.ClientURL(), 10)
	if _, limit := b.svc.Concurrency(); limit != 7 {
		t.Errorf("an ember started after a reservation: unreserved limit %d, want 7", limit)
	}

	four := 4
	r := createFunction(t, a.store, "r", digest)
	r.ReservedConcurrency = &four
	if _, err := a.store.UpdateFunction(ctx, r); err != nil {
		t.Fatal(err)
	}
	visibleWithin(t, "a reservation", func() bool {
		_, limit := b.svc.Concurrency()
		return limit == 3
	})
	// b holds r to 4 and the rest to 3, though it never ran r.
	for range 4 {
		if err := b.svc.limiter.Acquire(ctx, "r"); err != nil {
			t.Fatal(err)
		}
	}
	if reason := throttleReason(b.svc.limiter.Acquire(ctx, "r")); reason != invocation.ReasonReservedConcurrentLimit {
		t.Errorf("a fifth invocation of r: %q", reason)
	}
	for range 3 {
		if err := b.svc.limiter.Acquire(ctx, "plain"); err != nil {
			t.Fatal(err)
		}
	}
	if reason := throttleReason(b.svc.limiter.Acquire(ctx, "plain")); reason != invocation.ReasonConcurrentLimit {
		t.Errorf("past the unreserved share: %q", reason)
	}

	// Deleting the function gives its reservation back, everywhere.
	if err := a.store.DeleteFunction(ctx, "early"); err != nil {
		t.Fatal(err)
	}
	visibleWithin(t, "a deleted function's reservation", func() bool {
		_, limit := b.svc.Concurrency()
		return limit == 6
	})
	if _, limit := a.svc.Concurrency(); limit != 6 {
		t.Errorf("the ember that deleted it: unreserved limit %d, want 6", limit)
	}
}

// hasPool reports whether s holds a pool for name and version.
func hasPool(s *Service, name, version string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.pools[poolKey{name, version}]
	return ok
}

func invokeEcho(t *testing.T, s *Service, name, qualifier string) {
	t.Helper()
	resp, reports, _, err := s.Invoke(context.Background(), name, qualifier, invocation.Request{ID: invocation.NewRequestID(), Payload: []byte(`{"x":1}`)})
	if err != nil {
		t.Fatalf("invoke %s:%s: %v", name, qualifier, err)
	}
	<-reports
	if resp.FunctionError != "" {
		t.Fatalf("invoke %s:%s: %s", name, qualifier, resp.Payload)
	}
}

// The environments of a version replaced or deleted through one ember are
// retired by the other, without another invocation there.
func TestReplacedVersionRetiredEverywhere(t *testing.T) {
	ctx := context.Background()
	a, b := twoEmbers(t, 0)
	digest := echoCode(t, a.store)
	f := createFunction(t, a.store, "f", digest)
	f.LastPublished = 1
	f, err := a.store.UpdateFunction(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	v := f.Latest
	v.Version = "1"
	if err := a.store.CreateVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	visibleWithin(t, "version 1", func() bool { _, err := b.svc.Resolve(ctx, "f", "1"); return err == nil })
	invokeEcho(t, b.svc, "f", "")
	invokeEcho(t, b.svc, "f", "1")
	if !hasPool(b.svc, "f", "$LATEST") || !hasPool(b.svc, "f", "1") {
		t.Fatal("no pools after invocations")
	}

	// New code for $LATEST: its environments go, version 1's stay.
	f.Latest.RevisionID = "r2"
	if f, err = a.store.UpdateFunction(ctx, f); err != nil {
		t.Fatal(err)
	}
	visibleWithin(t, "a replaced $LATEST's pool retired", func() bool { return !hasPool(b.svc, "f", "$LATEST") })
	if !hasPool(b.svc, "f", "1") {
		t.Error("version 1's pool retired with $LATEST's")
	}
	invokeEcho(t, b.svc, "f", "")
	if !hasPool(b.svc, "f", "$LATEST") {
		t.Fatal("no pool for the new $LATEST")
	}

	if err := a.store.DeleteVersion(ctx, "f", "1"); err != nil {
		t.Fatal(err)
	}
	visibleWithin(t, "a deleted version's pool retired", func() bool { return !hasPool(b.svc, "f", "1") })
	if !hasPool(b.svc, "f", "$LATEST") {
		t.Error("$LATEST's pool retired with version 1's")
	}

	if err := a.store.DeleteFunction(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	visibleWithin(t, "a deleted function's pools retired", func() bool { return !hasPool(b.svc, "f", "$LATEST") })
}

// While the watch is down the service reads the store rather than answer
// from what it last saw; the watch comes back with the server.
func TestWatchDownReadsTheStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := natsServer(t, dir, -1)
	port := srv.Addr().(*net.TCPAddr).Port
	url := srv.ClientURL()
	a := newEmber(t, url, 0)
	createFunction(t, a.store, "f", "none")
	if _, err := a.svc.Resolve(ctx, "f", ""); err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	waitDown := time.Now().Add(5 * time.Second)
	for {
		a.svc.cache.mu.RLock()
		up := a.svc.cache.up
		a.svc.cache.mu.RUnlock()
		if !up {
			break
		}
		if time.Now().After(waitDown) {
			t.Fatal("the cache did not notice the server go")
		}
		time.Sleep(5 * time.Millisecond)
	}
	rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err := a.svc.Resolve(rctx, "f", "")
	cancel()
	if err == nil {
		t.Error("with the server down, Resolve answered from the cache")
	}

	srv = natsServer(t, dir, port)
	defer func() {
		// The ember goes first, while the server can answer it.
		a.svc.Close(context.Background())
		a.store.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		a.svc.cache.mu.RLock()
		up := a.svc.cache.up
		a.svc.cache.mu.RUnlock()
		if up {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watch did not come back with the server")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := a.svc.Resolve(ctx, "f", ""); err != nil {
		t.Errorf("with the watch back: %v", err)
	}
}

// Invocations of $LATEST while it is replaced again and again all run:
// one whose pool is retired before it started is resolved again, and one
// resolved before an update never displaces the pool of what replaced it.
func TestInvokeWhileLatestReplaced(t *testing.T) {
	ctx := context.Background()
	a, b := twoEmbers(t, 0)
	f := createFunction(t, a.store, "f", echoCode(t, a.store))
	visibleWithin(t, "the function", func() bool { _, err := b.svc.Resolve(ctx, "f", ""); return err == nil })
	invokeEcho(t, b.svc, "f", "")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	ran := 0
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, reports, _, err := b.svc.Invoke(ctx, "f", "", invocation.Request{ID: invocation.NewRequestID(), Payload: []byte(`{"x":1}`)})
				mu.Lock()
				if err != nil {
					failures = append(failures, err)
				} else if resp.FunctionError == "" {
					ran++
				}
				mu.Unlock()
				if err == nil {
					<-reports
				}
			}
		})
	}
	for i := range 40 {
		f.Latest.RevisionID = fmt.Sprintf("r%d", i+2)
		var err error
		if f, err = a.store.UpdateFunction(ctx, f); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d of %d invocations failed while $LATEST was replaced; the first: %v", len(failures), len(failures)+ran, failures[0])
	}
	if ran == 0 {
		t.Error("no invocation ran")
	}
	// The pool left serving $LATEST is the last update's.
	invokeEcho(t, b.svc, "f", "")
	b.svc.mu.Lock()
	vp := b.svc.pools[poolKey{"f", function.LatestVersion}]
	b.svc.mu.Unlock()
	if vp == nil || vp.revision != f.Latest.RevisionID {
		t.Errorf("$LATEST's pool after the updates: %+v; want revision %s", vp, f.Latest.RevisionID)
	}
}
