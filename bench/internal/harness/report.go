package harness

import (
	"bytes"
	"fmt"
	"io"
)

// Report is what the results of every benchmark hold besides their
// figures: where and when the run ran, its notes and the paragraph that
// ends its output.
type Report struct {
	Machine
	Notes []string `json:"notes,omitempty"`
	// Summary says where the time goes, in words computed from the
	// figures.
	Summary string `json:"summary,omitempty"`
}

// NewReport is the report of a run on this machine, now.
func NewReport() Report { return Report{Machine: ThisMachine()} }

// Note adds a note.
func (r *Report) Note(format string, a ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, a...))
}

// Print writes what printTo writes to out, each line without the spaces
// at its end (a tabwriter pads the cell before an empty last one).
func Print(out io.Writer, printTo func(w io.Writer)) error {
	var w bytes.Buffer
	printTo(&w)
	for line := range bytes.Lines(w.Bytes()) {
		if _, err := fmt.Fprintf(out, "%s\n", bytes.TrimRight(line, " \n")); err != nil {
			return err
		}
	}
	return nil
}

// Target bounds a figure: a ratio to a baseline, or a value in the
// figure's unit.
type Target struct {
	// Op is "<=" or ">=".
	Op    string  `json:"op"`
	Value float64 `json:"value"`
}

// Met says whether v is within the target.
func (t Target) Met(v float64) bool {
	if t.Op == ">=" {
		return v >= t.Value
	}
	return v <= t.Value
}

// Symbol is the target's operator as printed: "≤" or "≥".
func (t Target) Symbol() string {
	if t.Op == ">=" {
		return "≥"
	}
	return "≤"
}

// Verdict is "met" or "MISSED", as the tables show it.
func Verdict(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}
