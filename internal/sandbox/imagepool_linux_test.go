package sandbox

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/testenv"
)

func TestImagePoolKeepsSpares(t *testing.T) {
	testenv.Root(t, "images are made with mkfs.ext4, as root")
	if _, err := findMkfs(); err != nil {
		testenv.Missing(t, "no mkfs.ext4 here: %v", err)
	}
	dir := t.TempDir()
	p := NewImagePool(dir, 1)
	// The first of a size is made at once; a spare follows.
	first := filepath.Join(dir, "a.img")
	if err := p.Take(first, 64); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		n := len(p.ready[64])
		p.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no spare made")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	second := filepath.Join(dir, "b.img")
	if err := p.Take(second, 64); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Millisecond {
		t.Errorf("taking a spare took %v", took)
	}
	for _, img := range []string{first, second} {
		if fi, err := os.Stat(img); err != nil || fi.Size() != 64<<20 {
			t.Errorf("%s: %v %v", img, fi, err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("after Close the spares should be gone: %v", entries)
	}
}
