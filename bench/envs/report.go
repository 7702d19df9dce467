package main

import (
	"fmt"
	"io"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

// results are the run's figures.
type results struct {
	N        int         `json:"n"`
	MemoryMB int         `json:"memory_mb"`
	Ember    emberResult `json:"ember"`
	Plain    plainResult `json:"plain"`
	// EmberBin is the binary measured.
	EmberBin string `json:"ember_bin"`
}

func (r results) print(w io.Writer) error {
	mb := func(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }
	// Each invocation, held or failed, has an environment of its own.
	held := max(r.Ember.Held+r.Ember.Failed, 1)
	per := func(busy, idle int64) string {
		return fmt.Sprintf("%.1f", float64(busy-idle)/float64(held))
	}
	fmt.Fprintf(w, "%d concurrent invocations of a %d MB function, each in an environment of its own: %d busy\n", r.N, r.MemoryMB, r.Ember.Held)
	b, i := r.Ember.Busy, r.Ember.Idle
	harness.WriteTable(w, []string{"ember serve", "idle", "all busy", "per environment"}, [][]string{
		{"threads", fmt.Sprint(i.Threads), fmt.Sprint(b.Threads), per(int64(b.Threads), int64(i.Threads))},
		{"open files", fmt.Sprint(i.FDs), fmt.Sprint(b.FDs), per(int64(b.FDs), int64(i.FDs))},
		{"VmRSS", mb(i.RSS), mb(b.RSS), fmt.Sprintf("%.0f KB", float64(b.RSS-i.RSS)/float64(held)/1024)},
		{"VmHWM", mb(i.HWM), mb(b.HWM), ""},
	})
	rows := [][]string{{"ember serve: Invokes sent until every handler runs (or failed)", fmtDur(r.Ember.Up)}}
	if r.Plain.Up > 0 {
		rows = append(rows,
			[]string{"plain fork/exec of the bootstrap: until every handler runs", fmtDur(r.Plain.Up)},
			[]string{"plain fork/exec: the fork/execs alone", fmtDur(r.Plain.Start)},
			[]string{"ember / plain", fmt.Sprintf("%.1f×", float64(r.Ember.Up)/float64(r.Plain.Up))},
		)
	}
	harness.WriteTable(w, []string{"bring-up of all " + fmt.Sprint(r.N), "time"}, rows)
	if r.Ember.Failed > 0 {
		fmt.Fprintf(w, "\n%d invocations failed; the first: %s\n", r.Ember.Failed, r.Ember.FirstError)
	}
	return nil
}

func fmtDur(d time.Duration) string {
	return d.Round(time.Millisecond).String()
}
