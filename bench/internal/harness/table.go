package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// Machine says where and when a run ran; a benchmark's results embed it
// first, so that its fields open the JSON.
type Machine struct {
	Time time.Time `json:"time"`
	Go   string    `json:"go"`
	OS   string    `json:"os"`
	Arch string    `json:"arch"`
	CPUs int       `json:"cpus"`
}

// ThisMachine is this machine, now.
func ThisMachine() Machine {
	return Machine{Time: time.Now().UTC(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU()}
}

// Units of a figure.
const (
	UnitMillis    = "ms"
	UnitPerSecond = "1/s"
	UnitMicros    = "µs"
)

// Millis is d in milliseconds.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Ratio is a / b, 0 when b is.
func Ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// FormatMillis shows a latency in milliseconds with three significant
// digits or more.
func FormatMillis(v float64) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.3f ms", v)
	case v < 100:
		return fmt.Sprintf("%.2f ms", v)
	default:
		return fmt.Sprintf("%.1f ms", v)
	}
}

// FormatMicros shows a CPU time in microseconds, in milliseconds from 10
// ms.
func FormatMicros(v float64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.1f ms", v/1000)
	}
	return fmt.Sprintf("%.0f µs", v)
}

// FormatValue shows v in unit.
func FormatValue(unit string, v float64) string {
	switch unit {
	case UnitPerSecond:
		return fmt.Sprintf("%.0f/s", v)
	case UnitMicros:
		return FormatMicros(v)
	}
	return FormatMillis(v)
}

// FormatRatio shows the ratio of a figure in unit to a baseline figure:
// a latency's as a multiple, a rate's as a percentage, the way targets
// are stated; "-" when there is no ratio or baseline.
func FormatRatio(unit string, baseline float64, ratio *float64) string {
	if baseline <= 0 || ratio == nil {
		return "-"
	}
	if unit == UnitPerSecond {
		return fmt.Sprintf("%.1f%%", 100**ratio)
	}
	return fmt.Sprintf("%.2f×", *ratio)
}

// Signed shows v with format and its sign, "+" or "−".
func Signed(v float64, format func(float64) string) string {
	if v < 0 {
		return "−" + format(-v)
	}
	return "+" + format(v)
}

// NewTable returns the writer of a table's columns, three spaces apart;
// its Flush writes the table.
func NewTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
}

// WriteTable writes a blank line, and then rows under header, each a line
// of cells in columns.
func WriteTable(w io.Writer, header []string, rows [][]string) {
	fmt.Fprintln(w)
	tw := NewTable(w)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, cells := range rows {
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
}

// WriteNotes writes the notes, each after "note: ", and the summary
// after "where the time goes: ", wrapped at 80 columns as Wrap does with
// isUnit, each part after a blank line; the notes are wrapped only with
// wrapNotes.
func WriteNotes(w io.Writer, notes []string, summary string, wrapNotes bool, isUnit func(word string) bool) {
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			if wrapNotes {
				fmt.Fprintln(w, Wrap("note: "+n, 80, isUnit))
			} else {
				fmt.Fprintln(w, "note:", n)
			}
		}
	}
	if summary != "" {
		fmt.Fprintf(w, "\n%s\n", Wrap("where the time goes: "+summary, 80, isUnit))
	}
}

// Wrap breaks s into lines of at most width characters between words,
// keeping a word that isUnit says is a unit on the line of the number
// before it.
func Wrap(s string, width int, isUnit func(word string) bool) string {
	var words []string
	for _, w := range strings.Fields(s) {
		if len(words) > 0 && isUnit(w) {
			words[len(words)-1] += " " + w
			continue
		}
		words = append(words, w)
	}
	var b strings.Builder
	n := 0
	for i, w := range words {
		l := utf8.RuneCountInString(w)
		switch {
		case i == 0:
		case n+1+l > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += l
	}
	return b.String()
}

// WriteJSON writes v to path as indented JSON, with <, > and & as they
// are.
func WriteJSON(path string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
