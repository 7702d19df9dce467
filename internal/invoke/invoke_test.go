package invoke

import (
	"errors"
	"testing"

	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
)

func TestPickVersion(t *testing.T) {
	a := store.Alias{FunctionVersion: "1", Weights: map[string]float64{"2": 0.25}}
	for _, tc := range []struct {
		roll float64
		want string
	}{{0, "2"}, {0.2499, "2"}, {0.25, "1"}, {0.99, "1"}} {
		if got := pickVersion(a, tc.roll); got != tc.want {
			t.Errorf("roll %v picked %s; want %s", tc.roll, got, tc.want)
		}
	}
	if got := pickVersion(store.Alias{FunctionVersion: "3"}, 0.1); got != "3" {
		t.Errorf("an alias without weights picked %s", got)
	}
}

func fn(name string, reserved *int) store.Function {
	return store.Function{Latest: store.Version{FunctionName: name}, ReservedConcurrency: reserved}
}

func throttleReason(err error) string {
	var te *invocation.ThrottleError
	if errors.As(err, &te) {
		return te.Reason
	}
	return ""
}

func TestConcurrencyLimits(t *testing.T) {
	s := New(Options{AccountConcurrency: 5})
	two := 2
	reserved := fn("reserved", &two)
	plain := fn("plain", nil)
	for range 2 {
		if err := s.acquire(reserved, poolKey{"reserved", "$LATEST"}); err != nil {
			t.Fatal(err)
		}
	}
	if r := throttleReason(s.acquire(reserved, poolKey{"reserved", "$LATEST"})); r != invocation.ReasonReservedConcurrentLimit {
		t.Errorf("a third invocation of a function reserving 2: %q", r)
	}
	// The other functions share 5 - 2 = 3.
	for range 3 {
		if err := s.acquire(plain, poolKey{"plain", "$LATEST"}); err != nil {
			t.Fatal(err)
		}
	}
	if r := throttleReason(s.acquire(fn("other", nil), poolKey{"other", "$LATEST"})); r != invocation.ReasonConcurrentLimit {
		t.Errorf("past the unreserved share: %q", r)
	}
	if running, limit := s.Concurrency(); running != 5 || limit != 3 {
		t.Errorf("Concurrency() = %d, %d; want 5, 3", running, limit)
	}
	s.release(poolKey{"plain", "$LATEST"})
	if err := s.acquire(fn("other", nil), poolKey{"other", "$LATEST"}); err != nil {
		t.Errorf("after a release: %v", err)
	}
	// Dropping the reservation moves its running invocations into the
	// shared count: 2 + 3 running against a share of 5.
	s.SetReserved("reserved", nil)
	if running, limit := s.Concurrency(); running != 5 || limit != 5 {
		t.Errorf("after SetReserved(nil): Concurrency() = %d, %d; want 5, 5", running, limit)
	}
	if r := throttleReason(s.acquire(plain, poolKey{"plain", "$LATEST"})); r != invocation.ReasonConcurrentLimit {
		t.Errorf("with every slot taken: %q", r)
	}
	zero := 0
	if r := throttleReason(s.acquire(fn("zero", &zero), poolKey{"zero", "$LATEST"})); r != invocation.ReasonReservedConcurrentLimit {
		t.Errorf("reserved concurrency 0: %q", r)
	}
}
