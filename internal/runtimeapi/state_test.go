package runtimeapi

import (
	"errors"
	"log/slog"
	"testing"
)

var allStates = []State{StateInit, StateIdle, StateInvoking, StateStreaming, StateAnswered, StateInitFailed, StateClosed}

// legalMoves is the Runtime API's protocol, written out move by move.
var legalMoves = map[State]map[State]string{
	StateInit: {
		StateInit:       "Reset before the runtime asked for an event",
		StateIdle:       "the runtime's first /next",
		StateInitFailed: "/init/error",
		StateClosed:     "Close",
	},
	StateIdle: {
		StateInvoking: "Invoke",
		StateInit:     "Reset",
		StateClosed:   "Close",
	},
	StateInvoking: {
		StateStreaming: "/response in streaming mode",
		StateAnswered:  "/response or /error",
		StateInit:      "Reset",
		StateClosed:    "Close",
	},
	StateStreaming: {
		StateAnswered: "the end of the stream",
		StateInit:     "Reset",
		StateClosed:   "Close",
	},
	StateAnswered: {
		StateIdle:   "the runtime's next /next",
		StateInit:   "Reset",
		StateClosed: "Close",
	},
	StateInitFailed: {
		StateInit:   "Reset for a new runtime",
		StateClosed: "Close",
	},
	// StateClosed is final: the environment is gone.
	StateClosed: {},
}

func TestCanMoveTo(t *testing.T) {
	t.Parallel()
	for _, from := range allStates {
		for _, to := range allStates {
			why, want := legalMoves[from][to]
			if got := from.canMoveTo(to); got != want {
				if want {
					t.Errorf("%s -> %s refused, want allowed (%s)", from, to, why)
				} else {
					t.Errorf("%s -> %s allowed, want refused", from, to)
				}
			}
		}
	}
}

// TestTransitionLocked checks that the one method that changes the state
// keeps to the same table, and leaves the state alone when it refuses.
func TestTransitionLocked(t *testing.T) {
	t.Parallel()
	for _, from := range allStates {
		for _, to := range allStates {
			s := New(slog.New(slog.DiscardHandler))
			s.mu.Lock()
			s.state = from
			err := s.transitionLocked(to)
			got := s.state
			s.mu.Unlock()

			_, legal := legalMoves[from][to]
			switch {
			case legal && err != nil:
				t.Errorf("%s -> %s: %v", from, to, err)
			case legal && got != to:
				t.Errorf("%s -> %s: state is %s", from, to, got)
			case !legal && err == nil:
				t.Errorf("%s -> %s: allowed, want refused", from, to)
			case !legal:
				var te *transitionError
				if !errors.As(err, &te) || te.from != from || te.to != to {
					t.Errorf("%s -> %s: error %v, want a *transitionError", from, to, err)
				}
				want := "State transition from " + from.String() + " to " + to.String() +
					" failed for runtime. Error: State transition is not allowed"
				if err.Error() != want {
					t.Errorf("%s -> %s: message %q, want %q", from, to, err, want)
				}
				if got != from {
					t.Errorf("%s -> %s refused, yet state is %s", from, to, got)
				}
			}
		}
	}
}

func TestStateString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    State
		want string
	}{
		{StateInit, "Init"},
		{StateIdle, "Idle"},
		{StateInvoking, "Invoking"},
		{StateStreaming, "Streaming"},
		{StateAnswered, "Answered"},
		{StateInitFailed, "InitFailed"},
		{StateClosed, "Closed"},
		{StateClosed + 1, "State(7)"},
		{-1, "State(-1)"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("State(%d).String() = %q, want %q", int(tc.s), got, tc.want)
		}
	}
	if len(allStates) != int(StateClosed)+1 {
		t.Errorf("allStates lists %d states, the package has %d", len(allStates), int(StateClosed)+1)
	}
}
