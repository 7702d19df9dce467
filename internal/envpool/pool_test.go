package envpool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/environment"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/testfunc"
)

// slept is what the sleep test function returns.
type slept struct {
	PID   int   `json:"pid"`
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

func newPool(t *testing.T, edit func(*Options)) *Pool {
	t.Helper()
	opts := Options{
		Environment: environment.Options{Function: function.Config{
			Name:    "sleep",
			CodeDir: testfunc.Build(t, "sleep"),
			Timeout: 10 * time.Second,
		}},
		IdleTimeout: time.Minute,
	}
	if edit != nil {
		edit(&opts)
	}
	p := New(opts)
	t.Cleanup(func() { p.Close() })
	return p
}

// sleep invokes the sleep function for ms and returns what it reported.
func sleep(ctx context.Context, p *Pool, ms int) (slept, error) {
	req := invocation.Request{ID: invocation.NewRequestID(), Payload: []byte(fmt.Sprintf(`{"ms":%d}`, ms))}
	resp, reports, err := p.Invoke(ctx, req)
	if err != nil {
		return slept{}, err
	}
	<-reports
	if resp.FunctionError != "" {
		return slept{}, fmt.Errorf("function error: %s", resp.Payload)
	}
	var s slept
	if err := json.Unmarshal(resp.Payload, &s); err != nil {
		return slept{}, fmt.Errorf("response %s: %w", resp.Payload, err)
	}
	return s, nil
}

func TestParallelInvocationsNeverShareAnEnvironment(t *testing.T) {
	p := newPool(t, nil)
	const n = 16
	results := make([]slept, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = sleep(context.Background(), p, 50)
		}()
	}
	// While they run, the pool holds no more environments than
	// invocations.
	stop := make(chan struct{})
	var maxTotal int
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				if s := p.Stats(); s.Total > maxTotal {
					maxTotal = s.Total
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	watch.Wait()

	byPID := map[int][]slept{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("invocation %d: %v", i, errs[i])
		}
		byPID[results[i].PID] = append(byPID[results[i].PID], results[i])
	}
	if len(byPID) > n || maxTotal > n {
		t.Errorf("%d runtimes, pool held up to %d environments for %d invocations", len(byPID), maxTotal, n)
	}
	// No runtime ran two invocations at once.
	for pid, runs := range byPID {
		for i, a := range runs {
			for _, b := range runs[i+1:] {
				if a.Start < b.End && b.Start < a.End {
					t.Errorf("runtime %d ran two invocations at once: %+v and %+v", pid, a, b)
				}
			}
		}
	}
}

func TestMostRecentlyUsedFirst(t *testing.T) {
	p := newPool(t, nil)
	var wg sync.WaitGroup
	var short, long slept
	wg.Add(2)
	go func() { defer wg.Done(); short, _ = sleep(context.Background(), p, 50) }()
	go func() { defer wg.Done(); long, _ = sleep(context.Background(), p, 400) }()
	wg.Wait()
	if short.PID == 0 || short.PID == long.PID {
		t.Fatalf("want two environments: %d and %d", short.PID, long.PID)
	}
	for range 3 {
		s, err := sleep(context.Background(), p, 1)
		if err != nil {
			t.Fatal(err)
		}
		if s.PID != long.PID {
			t.Errorf("invocation went to %d, want the most recently used %d", s.PID, long.PID)
		}
	}
	if st := p.Stats(); st.Total != 2 || st.Idle != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestIdleEnvironmentsAreReaped(t *testing.T) {
	p := newPool(t, func(o *Options) { o.IdleTimeout = 100 * time.Millisecond })
	if _, err := sleep(context.Background(), p, 1); err != nil {
		t.Fatal(err)
	}
	if p.Stats().Total != 1 {
		t.Fatalf("stats %+v", p.Stats())
	}
	waitFor(t, func() bool { return p.Stats().Total == 0 })
	// A new invocation starts a new environment.
	if _, err := sleep(context.Background(), p, 1); err != nil {
		t.Fatal(err)
	}
}

func TestClosedPoolRefuses(t *testing.T) {
	p := newPool(t, nil)
	if _, err := sleep(context.Background(), p, 1); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sleep(context.Background(), p, 1); !errors.Is(err, ErrClosed) || !errors.Is(err, invocation.ErrUnavailable) {
		t.Errorf("after close: %v", err)
	}
	if s := p.Stats(); s.Total != 0 {
		t.Errorf("environments left after close: %+v", s)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNoGoroutineLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	p := New(Options{
		Environment: environment.Options{Function: function.Config{
			Name: "sleep", CodeDir: testfunc.Build(t, "sleep"), Timeout: time.Second,
		}},
		IdleTimeout: 50 * time.Millisecond,
	})
	var wg sync.WaitGroup
	for _, ms := range []int{1, 10, 2000} { // the last one times out
		wg.Add(1)
		go func() {
			defer wg.Done()
			sleep(context.Background(), p, ms)
		}()
	}
	wg.Wait()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Under contention, environments handed from one invocation to one waiting
// for it are never lost: the pool keeps them all and closes.
func TestHandoffUnderContention(t *testing.T) {
	p := newPool(t, nil)
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Second)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				sleep(context.Background(), p, 0)
			}
		}()
	}
	wg.Wait()
	waitFor(t, func() bool { s := p.Stats(); return s.Idle == s.Total && s.Total <= 8 })
	// Every environment is still there: as many overlapping invocations
	// run on them without a new one.
	total := p.Stats().Total
	var both sync.WaitGroup
	for range total {
		both.Add(1)
		go func() {
			defer both.Done()
			if _, err := sleep(context.Background(), p, 200); err != nil {
				t.Errorf("capacity lost: %v", err)
			}
		}()
	}
	both.Wait()
	if s := p.Stats(); s.Total != total {
		t.Errorf("%d environments after %d overlapping invocations on %d idle ones", s.Total, total, total)
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs: an environment was lost in a handoff")
	}
}

func TestSparesAreKeptAndUsed(t *testing.T) {
	p := newPool(t, func(o *Options) { o.Spares = 1 })
	waitFor(t, func() bool { return p.Stats().Spare == 1 })
	if _, err := sleep(context.Background(), p, 1); err != nil {
		t.Fatal(err)
	}
	// The spare became the environment; another is prepared.
	waitFor(t, func() bool { s := p.Stats(); return s.Spare == 1 && s.Total == 1 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Spare != 0 || s.Total != 0 {
		t.Errorf("after close: %+v", s)
	}
}
