package environment

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/sandbox/cgroup"
)

// thawedSoon reports whether f's cgroup is thawed within a second.
func thawedSoon(f *freezer) bool {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		f.applyMu.Lock()
		frozen := f.frozen
		f.applyMu.Unlock()
		if !frozen {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// TestFreezerNeverLosesAThaw asks for pauses and thaws at gaps around
// pauseDelay, with the writes held up as a busy machine holds them, and
// checks after each thaw that the cgroup does end thawed: an invocation
// must never find its runtime frozen for good.
func TestFreezerNeverLosesAThaw(t *testing.T) {
	iso := isolated(t)
	g, err := iso.Cgroups.NewGroup("freezer-test", cgroup.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Delete() })
	// One write at a time across the freezer, as under many environments.
	f := newFreezer(g, 0, nil, newLimiter(1))
	defer f.stop(true)
	fail := func(err error) { t.Errorf("freezer: %v", err) }
	for i := range 300 {
		f.set(true, fail)
		time.Sleep(time.Duration(rand.N(2*pauseDelay)) + pauseDelay/2)
		f.set(false, fail)
		if i%3 == 0 {
			// A short invocation: paused again at once.
			f.set(true, fail)
			f.set(false, fail)
		}
		if !thawedSoon(f) {
			t.Fatalf("round %d: the cgroup stayed frozen after a thaw was asked", i)
		}
	}
}

// TestFreezerThawsAfterAHeldUpPause holds up the write of a due pause
// while the next invocation begins and ends, so that the pause is made
// after it, and checks that the invocation after that still thaws.
func TestFreezerThawsAfterAHeldUpPause(t *testing.T) {
	iso := isolated(t)
	g, err := iso.Cgroups.NewGroup("freezer-held", cgroup.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Delete() })
	work := newLimiter(1)
	f := newFreezer(g, 0, nil, work)
	defer f.stop(true)
	fail := func(err error) { t.Errorf("freezer: %v", err) }

	work <- struct{}{} // every write waits
	f.set(true, fail)
	time.Sleep(5 * pauseDelay) // the pause is due, and waits to be written
	f.set(false, fail)         // the next invocation begins...
	f.set(true, fail)          // ...and ends
	<-work                     // the held-up pause is written now
	deadline := time.Now().Add(time.Second)
	for {
		f.applyMu.Lock()
		frozen := f.frozen
		f.applyMu.Unlock()
		if frozen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the held-up pause was never written")
		}
		time.Sleep(100 * time.Microsecond)
	}
	f.pending.Wait()   // and the thaw asked while it waited found nothing to do
	f.set(false, fail) // the invocation after it, before its pause is due
	if !thawedSoon(f) {
		t.Fatal("the cgroup stayed frozen after a thaw was asked")
	}
}
