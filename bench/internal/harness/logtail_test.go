package harness

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// LogTail gives whole lines only, each once, and Await stops when done
// says so.
func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("one\ntw"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := &LogTail{Path: path}
	if b, err := l.Lines(); err != nil || string(b) != "one\n" {
		t.Fatalf("first read %q, %v; want the whole line", b, err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	go func() {
		time.Sleep(30 * time.Millisecond)
		f.WriteString("o\nthree\n")
	}()
	var got string
	err = l.Await(context.Background(), 5*time.Second, func(b []byte) error { got += string(b); return nil }, func() bool { return got == "two\nthree\n" })
	if err != nil || got != "two\nthree\n" {
		t.Errorf("Await read %q, %v", got, err)
	}
	if b, err := l.Lines(); err != nil || len(b) != 0 {
		t.Errorf("a read with nothing new gave %q, %v", b, err)
	}
}
