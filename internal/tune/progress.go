package tune

import (
	"fmt"
	"io"
	"strings"
)

// barWidth is the number of cells of the progress bar.
const barWidth = 30

// Progress shows a run's steps on w: on a terminal, one bar redrawn in
// place with carriage returns; elsewhere one plain line per step, such as
// "tune: 512 MB: run 3/10". Its Step method is an Options.Progress.
type Progress struct {
	w        io.Writer
	terminal bool
	drawn    int // how much of the line the bar covers, to blank it out
}

// NewProgress returns a Progress writing on w, which is a terminal or not.
func NewProgress(w io.Writer, terminal bool) *Progress {
	return &Progress{w: w, terminal: terminal}
}

// Step shows s. Errors writing progress are not the run's: they are
// ignored, as a closed standard error would be.
func (p *Progress) Step(s Step) {
	what := fmt.Sprintf("run %d/%d", s.Run, s.Runs)
	if s.Run == 0 {
		what = "cold start"
	}
	if !p.terminal {
		fmt.Fprintf(p.w, "tune: %d MB: %s\n", s.MemoryMB, what)
		return
	}
	filled := 0
	if s.Total > 0 {
		filled = s.Done * barWidth / s.Total
	}
	line := fmt.Sprintf("tune [%s%s] %3d%%  %d MB (%d/%d): %s", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled),
		s.Done*100/max(s.Total, 1), s.MemoryMB, s.Size, s.Sizes, what)
	pad := max(p.drawn-len(line), 0)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.drawn = len(line) + pad
}

// Done blanks the bar out, on a terminal, so that what follows starts on
// a clean line.
func (p *Progress) Done() {
	if p.terminal && p.drawn > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.drawn))
		p.drawn = 0
	}
}
