package codecache

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const maxUnzipped = 262144000

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// fetcher writes a zip for Dir and counts its calls.
type fetcher struct {
	zip   []byte
	calls atomic.Int32
}

func (f *fetcher) fetch(ctx context.Context, zipPath string) error {
	f.calls.Add(1)
	return os.WriteFile(zipPath, f.zip, 0o644)
}

// newCache returns a Cache in a directory of its own under root, so that
// a test can see that nothing lands beside it.
func newCache(t *testing.T) (c *Cache, root string) {
	t.Helper()
	root = t.TempDir()
	c, err := New(filepath.Join(root, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return c, root
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// checkOnly fails t unless the cache directory holds just the digests
// given, and nothing was written beside it.
func checkOnly(t *testing.T, c *Cache, root string, digests ...string) {
	t.Helper()
	if got := names(t, c.dir); !slices.Equal(got, digests) {
		t.Errorf("cache holds %q, want %q", got, digests)
	}
	if got := names(t, root); !slices.Equal(got, []string{"cache"}) {
		t.Errorf("beside the cache: %q", got)
	}
}

// umasked returns the permissions that a file created with perm gets
// here, which is what extraction can give.
func umasked(t *testing.T, perm fs.FileMode) fs.FileMode {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ref")
	if err := os.WriteFile(p, nil, perm); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestDirExtracts(t *testing.T) {
	c, root := newCache(t)
	z := makeZip(t,
		entry{"bootstrap", "#!/bin/sh\necho hi\n", 0o755},
		dir("lib/"),
		file("lib/data.txt", "data"),
		file("lib/sub/deep.txt", "deep"),
		link("data", "lib/data.txt"),
	)
	f := &fetcher{zip: z}
	d, err := c.Dir(context.Background(), digestOf(z), maxUnzipped, f.fetch)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "cache", digestOf(z)); d != want {
		t.Errorf("dir %s, want %s", d, want)
	}
	for name, want := range map[string]string{
		"bootstrap":        "#!/bin/sh\necho hi\n",
		"lib/data.txt":     "data",
		"lib/sub/deep.txt": "deep",
		"data":             "data",
	} {
		if b, err := os.ReadFile(filepath.Join(d, name)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
	}
	for name, perm := range map[string]fs.FileMode{"bootstrap": 0o755, "lib/data.txt": 0o644} {
		st, err := os.Stat(filepath.Join(d, name))
		if err != nil {
			t.Fatal(err)
		}
		if want := umasked(t, perm); st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", name, st.Mode().Perm(), want)
		}
	}
	if st, err := os.Stat(filepath.Join(d, "bootstrap")); err != nil || st.Mode().Perm()&0o111 != 0o111 {
		t.Errorf("bootstrap not executable: %v %v", st, err)
	}
	if st, err := os.Lstat(filepath.Join(d, "data")); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("data is not a symlink: %v %v", st, err)
	}
	// Only the tree is kept: neither the zip nor a temporary directory.
	checkOnly(t, c, root, digestOf(z))
}

func TestDirExtractsOnce(t *testing.T) {
	c, root := newCache(t)
	z := makeZip(t, entry{"bootstrap", "#!/bin/sh\n", 0o755})
	f := &fetcher{zip: z}
	for range 2 {
		if _, err := c.Dir(context.Background(), digestOf(z), maxUnzipped, f.fetch); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("fetched %d times, want 1", n)
	}

	// Concurrent calls: the first one's fetch holds the others until they
	// have all started.
	z2 := makeZip(t, file("handler.py", "def handler(e, c): return e\n"))
	fetching, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	slow := func(ctx context.Context, zipPath string) error {
		if calls.Add(1) == 1 {
			close(fetching)
		}
		<-release
		return os.WriteFile(zipPath, z2, 0o644)
	}
	const callers = 8
	var start, wg sync.WaitGroup
	start.Add(callers)
	dirs := make([]string, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			start.Done()
			start.Wait()
			dirs[i], errs[i] = c.Dir(context.Background(), digestOf(z2), maxUnzipped, slow)
		})
	}
	select {
	case <-fetching:
	case <-time.After(10 * time.Second):
		t.Fatal("no fetch")
	}
	close(release)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || dirs[i] != filepath.Join(c.dir, digestOf(z2)) {
			t.Errorf("caller %d: %s, %v", i, dirs[i], errs[i])
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("fetched %d times, want 1", n)
	}
	want := []string{digestOf(z), digestOf(z2)}
	slices.Sort(want)
	checkOnly(t, c, root, want...)
}

func TestDirRefusesEscapes(t *testing.T) {
	for name, z := range escapes(t) {
		t.Run(name, func(t *testing.T) {
			c, root := newCache(t)
			_, err := c.Dir(context.Background(), digestOf(z), maxUnzipped, (&fetcher{zip: z}).fetch)
			if !errors.Is(err, ErrInvalidZip) {
				t.Errorf("err %v, want ErrInvalidZip", err)
			}
			checkOnly(t, c, root)
		})
	}
}

func TestDirTooLarge(t *testing.T) {
	zeros := string(make([]byte, 4<<20))
	z := makeZip(t, entry{"bootstrap", "#!/bin/sh\n", 0o755}, file("zeros", zeros))
	c, root := newCache(t)
	_, err := c.Dir(context.Background(), digestOf(z), 1<<20, (&fetcher{zip: z}).fetch)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("err %v, want ErrTooLarge", err)
	}
	checkOnly(t, c, root)

	// A zip that declares less than it holds is stopped while extracted.
	lying := lyingZip(t, "zeros", []byte(zeros), 10)
	if n, err := Check(lying, 1<<20); err != nil || n != 10 {
		t.Fatalf("the lying zip: %d, %v", n, err)
	}
	_, err = c.Dir(context.Background(), digestOf(lying), 1<<20, (&fetcher{zip: lying}).fetch)
	if !errors.Is(err, ErrInvalidZip) && !errors.Is(err, ErrTooLarge) {
		t.Errorf("lying zip: err %v, want ErrInvalidZip or ErrTooLarge", err)
	}
	checkOnly(t, c, root)
}

// lyingZip returns a zip with one entry holding body compressed, whose
// header declares it to be size bytes.
func lyingZip(t *testing.T, name string, body []byte, size uint64) []byte {
	t.Helper()
	var compressed bytes.Buffer
	cw := zip.NewWriter(&compressed)
	w, err := cw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(compressed.Bytes()), int64(compressed.Len()))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := zr.File[0].OpenRaw()
	if err != nil {
		t.Fatal(err)
	}
	h := zr.File[0].FileHeader
	h.UncompressedSize64 = size
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	rw, err := zw.CreateRaw(&h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(rw, raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDirFetchError(t *testing.T) {
	c, root := newCache(t)
	z := makeZip(t, file("a", "a"))
	boom := errors.New("store unavailable")
	partial := func(ctx context.Context, zipPath string) error {
		if err := os.WriteFile(zipPath, z[:len(z)/2], 0o644); err != nil {
			return err
		}
		return boom
	}
	if _, err := c.Dir(context.Background(), digestOf(z), maxUnzipped, partial); !errors.Is(err, boom) {
		t.Errorf("err %v, want %v", err, boom)
	}
	checkOnly(t, c, root)

	// Nothing is kept of a failure: the next call fetches again.
	f := &fetcher{zip: z}
	if _, err := c.Dir(context.Background(), digestOf(z), maxUnzipped, f.fetch); err != nil || f.calls.Load() != 1 {
		t.Errorf("after a failure: %v, %d fetches", err, f.calls.Load())
	}
}

func TestDirChecksDigest(t *testing.T) {
	c, root := newCache(t)
	z := makeZip(t, file("a", "a"))
	other := makeZip(t, file("b", "b"))
	if _, err := c.Dir(context.Background(), digestOf(other), maxUnzipped, (&fetcher{zip: z}).fetch); err == nil {
		t.Error("a zip of another digest was accepted")
	}
	checkOnly(t, c, root)

	// Bytes of the right digest that are no zip.
	junk := []byte("not a zip")
	if _, err := c.Dir(context.Background(), digestOf(junk), maxUnzipped, (&fetcher{zip: junk}).fetch); !errors.Is(err, ErrInvalidZip) {
		t.Errorf("err %v, want ErrInvalidZip", err)
	}
	checkOnly(t, c, root)
}

func TestBadDigest(t *testing.T) {
	c, root := newCache(t)
	z := makeZip(t, file("a", "a"))
	good := digestOf(z)
	for _, d := range []string{
		"",
		"abc",
		good[:63],
		good + "0",
		"../../../../etc/passwd",
		"ABCDEF" + good[6:],
		"g" + good[1:],
		"../" + good[3:],
		good[:32] + "/" + good[33:],
	} {
		f := &fetcher{zip: z}
		if _, err := c.Dir(context.Background(), d, maxUnzipped, f.fetch); err == nil || f.calls.Load() != 0 {
			t.Errorf("Dir(%q): %v after %d fetches", d, err, f.calls.Load())
		}
		if err := c.Remove(d); err == nil {
			t.Errorf("Remove(%q) accepted", d)
		}
	}
	checkOnly(t, c, root)
}

func TestRemove(t *testing.T) {
	c, root := newCache(t)
	z := makeZip(t, entry{"bootstrap", "#!/bin/sh\n", 0o555}, file("lib/x", "x"))
	f := &fetcher{zip: z}
	d, err := c.Dir(context.Background(), digestOf(z), maxUnzipped, f.fetch)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(digestOf(z)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tree still there: %v", err)
	}
	checkOnly(t, c, root)
	if err := c.Remove(digestOf(z)); err != nil {
		t.Errorf("removing an absent tree: %v", err)
	}
	checkOnly(t, c, root)
	if _, err := c.Dir(context.Background(), digestOf(z), maxUnzipped, f.fetch); err != nil || f.calls.Load() != 2 {
		t.Errorf("after Remove: %v, %d fetches", err, f.calls.Load())
	}
}

func TestWaiterOutlivesCanceledLeader(t *testing.T) {
	c, _ := newCache(t)
	z := makeZip(t, file("a", "a"))
	var calls atomic.Int32
	fetching := make(chan struct{})
	fetch := func(ctx context.Context, zipPath string) error {
		if calls.Add(1) == 1 {
			close(fetching)
			<-ctx.Done()
			return ctx.Err()
		}
		return os.WriteFile(zipPath, z, 0o644)
	}
	ctx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := c.Dir(ctx, digestOf(z), maxUnzipped, fetch)
		leaderErr <- err
	}()
	<-fetching
	waiter := make(chan error, 1)
	go func() {
		_, err := c.Dir(context.Background(), digestOf(z), maxUnzipped, fetch)
		waiter <- err
	}()
	cancel()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Errorf("leader: %v, want context.Canceled", err)
	}
	if err := <-waiter; err != nil {
		t.Errorf("waiter: %v", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}

	// A waiter whose own context ends stops waiting.
	z2 := makeZip(t, file("b", "b"))
	release := make(chan struct{})
	started := make(chan struct{})
	go func() {
		_, err := c.Dir(context.Background(), digestOf(z2), maxUnzipped, func(ctx context.Context, p string) error {
			close(started)
			<-release
			return os.WriteFile(p, z2, 0o644)
		})
		leaderErr <- err
	}()
	<-started
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := c.Dir(ctx, digestOf(z2), maxUnzipped, fetch); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter: %v, want context.DeadlineExceeded", err)
	}
	close(release)
	if err := <-leaderErr; err != nil {
		t.Errorf("leader: %v", err)
	}
}

func TestNewRemovesLeftovers(t *testing.T) {
	c, root := newCache(t)
	z := makeZip(t, file("a", "a"))
	if _, err := c.Dir(context.Background(), digestOf(z), maxUnzipped, (&fetcher{zip: z}).fetch); err != nil {
		t.Fatal(err)
	}
	// What a crash during an extraction leaves.
	left := filepath.Join(c.dir, tmpPrefix+"0123456789ab-42", "tree", "lib")
	if err := os.MkdirAll(left, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(left, "half"), []byte("x"), 0o444); err != nil {
		t.Fatal(err)
	}
	c2, err := New(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	checkOnly(t, c2, root, digestOf(z))
}
