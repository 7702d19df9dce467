package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test binary doubles as a program that writes to a store and is then
// killed with SIGKILL (see persist_test.go): with helperEnv set to a mode and
// helperDirEnv to a data directory, it runs that mode instead of the tests.
const (
	helperEnv    = "EMBER_STORE_TEST_HELPER"
	helperDirEnv = "EMBER_STORE_TEST_DIR"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := runHelper(mode, os.Getenv(helperDirEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runHelper opens the store in dir and writes to it; it prints a line when
// the writes have returned and then waits to be killed, for as long as its
// standard input stays open.
func runHelper(mode, dir string) error {
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		return err
	}
	switch mode {
	case "write":
		if _, err := s.CreateFunction(ctx, testFunction("survivor")); err != nil {
			return err
		}
		if err := s.Enqueue(ctx, Event{ID: "ev-write", FunctionName: "survivor", Payload: []byte(`{"n":1}`)}); err != nil {
			return err
		}
		fmt.Println("ready")
	case "handle":
		if err := s.Enqueue(ctx, Event{ID: "ev-handle", FunctionName: "survivor", Payload: []byte(`{"n":2}`)}); err != nil {
			return err
		}
		// The server records a delivery in the consumer's state file within
		// about 100 ms; until it has, a restart would deliver the event as
		// a new one. Say "handling" once it has.
		state := filepath.Join(dir, "jetstream", "$G", "streams", eventsStream, "obs", eventsConsumer, "o.dat")
		before, err := os.ReadFile(state)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		go func() {
			err := s.ConsumeEvents(ctx, 1, func(ctx context.Context, e Event) error {
				deadline := time.Now().Add(10 * time.Second)
				for {
					now, err := os.ReadFile(state)
					if err == nil && !bytes.Equal(now, before) {
						fmt.Println("handling", e.ID)
						break
					}
					if time.Now().After(deadline) {
						fmt.Println("the delivery was not written to", state, err)
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				<-ctx.Done() // never: the process is killed first
				return ctx.Err()
			})
			fmt.Fprintln(os.Stderr, "ConsumeEvents returned:", err)
		}()
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

// openStore opens a store for one test and closes it when the test ends,
// then checks that Close left no goroutine behind. (With an external server,
// whose streams keep goroutines of their own, the test checks after
// stopping the server.)
func openStore(t *testing.T, opts Options) *Store {
	t.Helper()
	base := runtime.NumGoroutine()
	if opts.DataDir == "" && opts.URL == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Log == nil {
		opts.Log = testLogger(t)
	}
	s, err := Open(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if opts.URL == "" {
			checkGoroutines(t, base)
		}
	})
	return s
}

// checkGoroutines waits for the number of goroutines to come back to base.
func checkGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("%d goroutines after Close, %d before Open:\n%s", runtime.NumGoroutine(), base, buf)
			return
		}
		<-tick.C
	}
}

// waitFor polls cond until it holds, or fails the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// consume runs ConsumeEvents until the returned stop is called (or the test
// ends) and checks that it returned nil.
func consume(t *testing.T, s *Store, workers int, handle func(context.Context, Event) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ConsumeEvents(ctx, workers, handle) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ConsumeEvents: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// testLogger writes the store's log to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func testFunction(name string) Function {
	reserved := 5
	return Function{
		Latest: Version{
			FunctionName:     name,
			Description:      "a test function",
			Runtime:          "provided.al2023",
			Handler:          "bootstrap",
			Role:             "arn:aws:iam::123456789012:role/test",
			MemorySize:       128,
			Timeout:          3,
			EphemeralStorage: 512,
			Environment:      map[string]string{"A": "1"},
			Architectures:    []string{"x86_64"},
			PackageType:      "Zip",
			Network:          "none",
			CodeDigest:       strings.Repeat("ab", 32),
			CodeSha256:       "q6ur",
			CodeSize:         42,
			LastModified:     time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
			RevisionID:       "r1",
			State:            "Active",
			LastUpdateStatus: "Successful",
		},
		ReservedConcurrency: &reserved,
		Tags:                map[string]string{"team": "x"},
		Created:             time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

// readLine returns the next line that r prints, or fails after timeout.
func readLine(t *testing.T, r *bufio.Reader, timeout time.Duration) string {
	t.Helper()
	line := make(chan string, 1)
	go func() {
		s, err := r.ReadString('\n')
		if err != nil {
			s += " (" + err.Error() + ")"
		}
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		return s
	case <-time.After(timeout):
		t.Fatalf("no line from the helper after %s", timeout)
		return ""
	}
}
