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

func throttleReason(err error) string {
	var te *invocation.ThrottleError
	if errors.As(err, &te) {
		return te.Reason
	}
	return ""
}
