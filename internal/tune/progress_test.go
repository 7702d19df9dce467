package tune

import (
	"strings"
	"testing"
)

func TestTuneProgressPlainLines(t *testing.T) {
	var b strings.Builder
	p := NewProgress(&b, false)
	p.Step(Step{MemoryMB: 512, Size: 2, Sizes: 3, Run: 0, Runs: 10, Done: 11, Total: 33})
	p.Step(Step{MemoryMB: 512, Size: 2, Sizes: 3, Run: 3, Runs: 10, Done: 14, Total: 33})
	p.Done()
	if want := "tune: 512 MB: cold start\ntune: 512 MB: run 3/10\n"; b.String() != want {
		t.Errorf("wrote %q; want %q", b.String(), want)
	}
}

func TestTuneProgressBar(t *testing.T) {
	var b strings.Builder
	p := NewProgress(&b, true)
	p.Step(Step{MemoryMB: 1769, Size: 4, Sizes: 4, Run: 0, Runs: 3, Done: 14, Total: 16})
	first := b.String()
	if !strings.HasPrefix(first, "\rtune [") || strings.Contains(first, "\n") ||
		!strings.Contains(first, strings.Repeat("#", 14*barWidth/16)+strings.Repeat(".", barWidth-14*barWidth/16)+"]  87%") ||
		!strings.HasSuffix(first, "1769 MB (4/4): cold start") {
		t.Errorf("bar %q", first)
	}
	// A shorter line blanks out what is left of the longer one.
	p.Step(Step{MemoryMB: 128, Size: 1, Sizes: 4, Run: 1, Runs: 3, Done: 1, Total: 16})
	second := strings.TrimPrefix(b.String(), first)
	if len(second) != len(first) || !strings.HasSuffix(second, "128 MB (1/4): run 1/3    ") {
		t.Errorf("second bar %q does not cover the first %q", second, first)
	}
	p.Done()
	if end := strings.TrimPrefix(b.String(), first+second); end != "\r"+strings.Repeat(" ", len(first)-1)+"\r" {
		t.Errorf("Done wrote %q", end)
	}
}
