package environment

import "fmt"

// State is where one execution environment stands. Every change goes
// through Environment.transitionLocked, which refuses the moves that the
// lifecycle does not allow; the pool reads the state to know which
// environments are idle, busy or finishing.
type State int32

const (
	// StateCold: no runtime runs; the next invocation starts one. A new
	// environment is cold, and so is one whose runtime failed and was
	// reset.
	StateCold State = iota
	// StatePrepared: no runtime runs, and its sandbox is built ahead.
	StatePrepared
	// StateClaimed: taken for an invocation that has not begun.
	StateClaimed
	// StateInitializing: the runtime is starting for the invocation that
	// claimed the environment.
	StateInitializing
	// StateBusy: an invocation runs.
	StateBusy
	// StateFinishing: the runtime answered; the invocation ends when it
	// asks for its next event, fails or times out.
	StateFinishing
	// StateReady: the runtime waits for an event.
	StateReady
	// StatePaused: the runtime waits for an event, frozen.
	StatePaused
	// StateShuttingDown: the environment is being torn down.
	StateShuttingDown
	// StateGone: nothing of the environment is left.
	StateGone
)

func (s State) String() string {
	switch s {
	case StateCold:
		return "Cold"
	case StatePrepared:
		return "Prepared"
	case StateClaimed:
		return "Claimed"
	case StateInitializing:
		return "Initializing"
	case StateBusy:
		return "Busy"
	case StateFinishing:
		return "Finishing"
	case StateReady:
		return "Ready"
	case StatePaused:
		return "Paused"
	case StateShuttingDown:
		return "ShuttingDown"
	case StateGone:
		return "Gone"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// Idle reports whether an environment in s can be claimed for an
// invocation.
func (s State) Idle() bool {
	switch s {
	case StateCold, StatePrepared, StateReady, StatePaused:
		return true
	}
	return false
}

// Warm reports whether an environment in s has a runtime waiting for an
// event.
func (s State) Warm() bool { return s == StateReady || s == StatePaused }

// InFlight reports whether an invocation holds an environment in s.
func (s State) InFlight() bool { return s >= StateClaimed && s <= StateFinishing }

// transitions lists the legal moves. ShuttingDown is legal from every state
// but itself and Gone; Gone only from ShuttingDown.
var transitions = [...][]State{
	StateCold:         {StatePrepared, StateClaimed},
	StatePrepared:     {StateClaimed},
	StateClaimed:      {StateInitializing, StateBusy, StateCold},
	StateInitializing: {StateBusy, StateCold},
	StateBusy:         {StateFinishing, StateCold},
	StateFinishing:    {StateReady, StatePaused, StateCold},
	StateReady:        {StateClaimed, StatePaused},
	StatePaused:       {StateClaimed},
	StateShuttingDown: {StateGone},
	StateGone:         nil,
}

// canMoveTo reports whether the lifecycle allows the move from s to to.
func (s State) canMoveTo(to State) bool {
	if to == StateShuttingDown {
		return s != StateShuttingDown && s != StateGone
	}
	if int(s) >= len(transitions) {
		return false
	}
	for _, t := range transitions[s] {
		if t == to {
			return true
		}
	}
	return false
}

// TransitionError is a move the lifecycle does not allow.
type TransitionError struct{ From, To State }

func (e *TransitionError) Error() string {
	return fmt.Sprintf("environment cannot move from %s to %s", e.From, e.To)
}
