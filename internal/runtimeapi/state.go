package runtimeapi

import "fmt"

// State is where the runtime of one environment stands in the Runtime API's
// protocol. Every change goes through Server.transitionLocked.
type State int

const (
	// StateInit: the runtime process is starting and has not yet asked for
	// an event.
	StateInit State = iota
	// StateIdle: the runtime has asked for an event and none is in flight.
	StateIdle
	// StateInvoking: an event was handed over (or is waiting for the
	// runtime's /next) and the runtime has not answered.
	StateInvoking
	// StateStreaming: the runtime is streaming its response.
	StateStreaming
	// StateAnswered: the runtime answered; the invocation ends when it asks
	// for its next event.
	StateAnswered
	// StateInitFailed: the runtime reported an init error.
	StateInitFailed
	// StateClosed: the environment is gone; every call fails.
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateInit:
		return "Init"
	case StateIdle:
		return "Idle"
	case StateInvoking:
		return "Invoking"
	case StateStreaming:
		return "Streaming"
	case StateAnswered:
		return "Answered"
	case StateInitFailed:
		return "InitFailed"
	case StateClosed:
		return "Closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// allowed lists the legal transitions. Reset (to StateInit) and Close (to
// StateClosed) are legal from every state but StateClosed, which is final.
var allowed = map[State][]State{
	StateInit:      {StateIdle, StateInitFailed},
	StateIdle:      {StateInvoking},
	StateInvoking:  {StateStreaming, StateAnswered},
	StateStreaming: {StateAnswered},
	StateAnswered:  {StateIdle},
}

func (s State) canMoveTo(to State) bool {
	if s == StateClosed {
		return false
	}
	if to == StateInit || to == StateClosed {
		return true
	}
	for _, t := range allowed[s] {
		if t == to {
			return true
		}
	}
	return false
}

// transitionError is a move the protocol does not allow.
type transitionError struct{ from, to State }

func (e *transitionError) Error() string {
	return fmt.Sprintf("State transition from %s to %s failed for runtime. Error: State transition is not allowed", e.from, e.to)
}
