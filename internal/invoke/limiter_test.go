package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/environment"
	"github.com/emberfn/ember/internal/envpool"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/testfunc"
)

func TestLimiterReservedAndUnreserved(t *testing.T) {
	ctx := context.Background()
	l := NewLimiter(LimiterOptions{Account: 5})
	two := 2
	l.SetReserved("reserved", &two)
	for range 2 {
		if err := l.Acquire(ctx, "reserved"); err != nil {
			t.Fatal(err)
		}
	}
	if r := throttleReason(l.Acquire(ctx, "reserved")); r != invocation.ReasonReservedConcurrentLimit {
		t.Errorf("a third invocation of a function reserving 2: %q", r)
	}
	// The other functions share 5 - 2 = 3.
	for range 3 {
		if err := l.Acquire(ctx, "plain"); err != nil {
			t.Fatal(err)
		}
	}
	err := l.Acquire(ctx, "other")
	var te *invocation.ThrottleError
	if !errors.As(err, &te) || te.Reason != invocation.ReasonConcurrentLimit || te.Limit != 5 || !errors.Is(err, invocation.ErrThrottled) {
		t.Errorf("past the unreserved share: %v", err)
	}
	if running, limit := l.Concurrency(); running != 5 || limit != 3 {
		t.Errorf("Concurrency() = %d, %d; want 5, 3", running, limit)
	}
	l.Release("plain")
	if err := l.Acquire(ctx, "other"); err != nil {
		t.Errorf("after a release: %v", err)
	}
	// Dropping the reservation moves its running invocations into the
	// shared count: 2 + 3 running against a share of 5.
	l.SetReserved("reserved", nil)
	if running, limit := l.Concurrency(); running != 5 || limit != 5 {
		t.Errorf("after SetReserved(nil): Concurrency() = %d, %d; want 5, 5", running, limit)
	}
	if r := throttleReason(l.Acquire(ctx, "plain")); r != invocation.ReasonConcurrentLimit {
		t.Errorf("with every slot taken: %q", r)
	}
	// ReplaceReserved drops the reservations it does not name.
	one := 1
	l.SetReserved("gone", &one)
	l.ReplaceReserved(map[string]int{"reserved": 2})
	if _, limit := l.Concurrency(); limit != 3 {
		t.Errorf("after ReplaceReserved: unreserved limit %d, want 3", limit)
	}
}

func TestLimiterZeroReservedThrottlesAll(t *testing.T) {
	l := NewLimiter(LimiterOptions{QueueTimeout: 20 * time.Millisecond})
	zero := 0
	l.SetReserved("stopped", &zero)
	err := l.Acquire(context.Background(), "stopped")
	var te *invocation.ThrottleError
	if !errors.As(err, &te) || te.Reason != invocation.ReasonReservedConcurrentLimit || te.Limit != 0 {
		t.Errorf("reserved concurrency 0: %v", err)
	}
	if err := l.Acquire(context.Background(), "other"); err != nil {
		t.Errorf("another function: %v", err)
	}
	if _, limit := l.Concurrency(); limit != DefaultAccountConcurrency {
		t.Errorf("unreserved limit %d, want %d", limit, DefaultAccountConcurrency)
	}
}

func TestLimiterQueueWait(t *testing.T) {
	l := NewLimiter(LimiterOptions{Account: 1, QueueTimeout: 5 * time.Second})
	ctx := context.Background()
	if err := l.Acquire(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- l.Acquire(ctx, "f") }()
	select {
	case err := <-got:
		t.Fatalf("a second invocation did not wait: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	l.Release("f")
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("after a release: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a release did not wake the queued invocation")
	}
	// The wait ends with the caller's context.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := l.Acquire(cctx, "f"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with the context done: %v", err)
	}
}

func TestLimiterQueueTimeoutThrottles(t *testing.T) {
	l := NewLimiter(LimiterOptions{Account: 1, QueueTimeout: 50 * time.Millisecond})
	if err := l.Acquire(context.Background(), "f"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := l.Acquire(context.Background(), "f")
	if r := throttleReason(err); r != invocation.ReasonConcurrentLimit {
		t.Errorf("err %v, want a throttle", err)
	}
	if took := time.Since(start); took < 50*time.Millisecond || took > 2*time.Second {
		t.Errorf("waited %v, want about 50ms", took)
	}
}

// slept is what the sleep test function returns.
type slept struct {
	PID int `json:"pid"`
}

func newSleepPool(t *testing.T) *envpool.Pool {
	t.Helper()
	p := envpool.New(envpool.Options{
		Environment: environment.Options{Function: function.Config{
			Name: "sleep", CodeDir: testfunc.Build(t, "sleep"), Timeout: 10 * time.Second,
		}},
		IdleTimeout: time.Minute,
	})
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func sleepOn(ctx context.Context, x *Limited, ms int) (slept, error) {
	req := invocation.Request{ID: invocation.NewRequestID(), Payload: []byte(fmt.Sprintf(`{"ms":%d}`, ms))}
	resp, reports, err := x.Invoke(ctx, req)
	if err != nil {
		return slept{}, err
	}
	<-reports
	var s slept
	if err := json.Unmarshal(resp.Payload, &s); err != nil {
		return slept{}, fmt.Errorf("response %s: %w", resp.Payload, err)
	}
	return s, nil
}

// Queued invocations of a function limited to one run, one after the
// other, in the one environment that frees.
func TestLimitedQueueGetsTheEnvironmentThatFrees(t *testing.T) {
	x := NewLimited(NewLimiter(LimiterOptions{Account: 1, QueueTimeout: 5 * time.Second}), "sleep", newSleepPool(t))
	defer x.Wait()
	var wg sync.WaitGroup
	pids := make([]int, 3)
	for i := range 3 {
		wg.Go(func() {
			s, err := sleepOn(context.Background(), x, 100)
			if err != nil {
				t.Error(err)
			}
			pids[i] = s.PID
		})
	}
	wg.Wait()
	if pids[0] == 0 || pids[0] != pids[1] || pids[1] != pids[2] {
		t.Errorf("one environment should have served all three: %v", pids)
	}
}

func TestLimitedThrottlesAtTheLimit(t *testing.T) {
	p := newSleepPool(t)
	x := NewLimited(NewLimiter(LimiterOptions{Account: 1}), "sleep", p)
	defer x.Wait()
	first := make(chan error, 1)
	go func() {
		_, err := sleepOn(context.Background(), x, 500)
		first <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Busy != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the first invocation did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r := throttleReason(func() error { _, err := sleepOn(context.Background(), x, 1); return err }()); r != invocation.ReasonConcurrentLimit {
		t.Errorf("second invocation: %q, want a throttle", r)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Total != 1 {
		t.Errorf("the pool holds %d environments, want 1", s.Total)
	}
}
