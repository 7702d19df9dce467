package store

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// TestReopen closes a store and opens its directory again: everything is
// still there.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	base := runtime.NumGoroutine()
	s, err := Open(ctx, Options{DataDir: dir, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.CreateFunction(ctx, testFunction("f"))
	if err != nil {
		t.Fatal(err)
	}
	v := f.Latest
	v.Version = "1"
	if err := s.CreateVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAlias(ctx, Alias{FunctionName: "f", Name: "live", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	code := bytes.Repeat([]byte("zip bytes "), 100_000)
	c, err := s.PutCode(ctx, bytes.NewReader(code))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"e1", "e2"} {
		if err := s.Enqueue(ctx, Event{ID: id, FunctionName: "f", Payload: []byte(id)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkGoroutines(t, base)

	s = openStore(t, Options{DataDir: dir})
	got, err := s.GetFunction(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != f.Revision || got.Latest.Runtime != f.Latest.Runtime {
		t.Errorf("function after reopening: %+v", got)
	}
	if _, err := s.GetVersion(ctx, "f", "1"); err != nil {
		t.Error(err)
	}
	if _, err := s.GetAlias(ctx, "f", "live"); err != nil {
		t.Error(err)
	}
	path := filepath.Join(t.TempDir(), "code.zip")
	if err := s.CodeFile(ctx, c.Digest, path); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, code) {
		t.Errorf("code after reopening: %d bytes, %v", len(b), err)
	}
	if n := depth(t, s); n != 2 {
		t.Fatalf("depth %d after reopening, want 2", n)
	}
	var rec recorder
	consume(t, s, 2, func(_ context.Context, e Event) error {
		rec.add(e)
		return nil
	})
	waitFor(t, 10*time.Second, "both events handled", func() bool { return rec.len() >= 2 && depth(t, s) == 0 })
}

// startHelper runs this test binary as a program that writes to the store in
// dir (see runHelper) and returns it with its output.
func startHelper(t *testing.T, mode, dir string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperDirEnv+"="+dir)
	cmd.Stderr = testWriter{t}
	stdin, err := cmd.StdinPipe() // held open: the helper waits on it
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		stdin.Close()
	})
	return cmd, bufio.NewReader(stdout)
}

// kill9 ends the helper with SIGKILL and waits for it.
func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("the helper exited cleanly before it was killed")
	}
}

// TestKill9 kills a process right after its writes returned: the function
// and the accepted event are there when the directory is opened again.
func TestKill9(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	cmd, out := startHelper(t, "write", dir)
	if line := readLine(t, out, 30*time.Second); line != "ready" {
		t.Fatalf("helper said %q", line)
	}
	kill9(t, cmd)

	s := openStore(t, Options{DataDir: dir})
	f, err := s.GetFunction(ctx, "survivor")
	if err != nil {
		t.Fatal(err)
	}
	if f.Latest.Handler != "bootstrap" {
		t.Errorf("function after kill -9: %+v", f)
	}
	var rec recorder
	consume(t, s, 1, func(_ context.Context, e Event) error {
		rec.add(e)
		return nil
	})
	waitFor(t, 10*time.Second, "the event handled", func() bool { return rec.len() >= 1 && depth(t, s) == 0 })
	if events, _ := rec.get(); events[0].ID != "ev-write" || string(events[0].Payload) != `{"n":1}` {
		t.Fatalf("event after kill -9: %+v", events[0])
	}
}

// TestKill9WhileHandling kills a process while its handler runs: the event
// is delivered again after restart, without waiting out the (30 s)
// acknowledgement wait.
func TestKill9WhileHandling(t *testing.T) {
	dir := t.TempDir()
	cmd, out := startHelper(t, "handle", dir)
	if line := readLine(t, out, 30*time.Second); line != "handling ev-handle" {
		t.Fatalf("helper said %q", line)
	}
	kill9(t, cmd)

	s := openStore(t, Options{DataDir: dir})
	var rec recorder
	consume(t, s, 1, func(_ context.Context, e Event) error {
		rec.add(e)
		return nil
	})
	waitFor(t, 10*time.Second, "the event delivered again", func() bool { return rec.len() >= 1 && depth(t, s) == 0 })
	if events, _ := rec.get(); events[0].ID != "ev-handle" {
		t.Fatalf("event after kill -9: %+v", events[0])
	}
}

// TestExternalServer uses a NATS server that listens on a port, as a
// cluster's would be.
func TestExternalServer(t *testing.T) {
	ctx := t.Context()
	base := runtime.NumGoroutine()
	srv, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoSigs:    true,
		NoLog:     true,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
		checkGoroutines(t, base)
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("test server not ready")
	}

	s := openStore(t, Options{URL: srv.ClientURL(), MaxCodeBytes: 64 << 20})
	if _, err := s.CreateFunction(ctx, testFunction("f")); err != nil {
		t.Fatal(err)
	}
	if f, err := s.GetFunction(ctx, "f"); err != nil || f.Latest.Handler != "bootstrap" {
		t.Fatalf("get: %+v, %v", f, err)
	}
	c, err := s.PutCode(ctx, bytes.NewReader([]byte("zip")))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CodeFile(ctx, c.Digest, filepath.Join(t.TempDir(), "z")); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, Event{ID: "x", FunctionName: "f"}); err != nil {
		t.Fatal(err)
	}
	var rec recorder
	consume(t, s, 1, func(_ context.Context, e Event) error {
		rec.add(e)
		return nil
	})
	waitFor(t, 10*time.Second, "the event handled", func() bool { return rec.len() >= 1 && depth(t, s) == 0 })
}
