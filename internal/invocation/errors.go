package invocation

import (
	"errors"
	"fmt"
)

// Error classes. Deep packages wrap these; the edges translate them into AWS
// error shapes with errors.Is and errors.As.
var (
	ErrInvalid        = errors.New("invalid parameter value")
	ErrInvalidContent = errors.New("invalid request content")
	ErrTooLarge       = errors.New("request entity too large")
	ErrThrottled      = errors.New("too many requests")
	ErrNotFound       = errors.New("not found")
	ErrConflict       = errors.New("conflict")
	ErrUnavailable    = errors.New("service unavailable")
	// ErrValidation is a request that breaks a constraint of the API's
	// model (a pattern, a range, an enum).
	ErrValidation = errors.New("validation error")
	// ErrPrecondition is a revision id that no longer matches.
	ErrPrecondition = errors.New("precondition failed")
	// ErrUnsupportedMedia is a body of a content type the API refuses.
	ErrUnsupportedMedia = errors.New("unsupported media type")
)

// Reasons given with a throttle, as Lambda's TooManyRequestsException names them.
const (
	ReasonConcurrentLimit         = "ConcurrentInvocationLimitExceeded"
	ReasonReservedConcurrentLimit = "ReservedFunctionConcurrentInvocationLimitExceeded"
)

// ThrottleError is an invocation refused because its function is at its
// concurrency limit.
type ThrottleError struct {
	Reason string
	Limit  int
}

func (e *ThrottleError) Error() string {
	return fmt.Sprintf("rate exceeded: %s (limit %d)", e.Reason, e.Limit)
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottleError) Is(target error) bool { return target == ErrThrottled }

// ClientError is a request refused for a reason its caller can mend. Its
// message is the one the caller reads; Class is one of the Err values.
type ClientError struct {
	Class   error
	Message string
}

// Errorf returns a *ClientError of the given class.
func Errorf(class error, format string, args ...any) error {
	return &ClientError{Class: class, Message: fmt.Sprintf(format, args...)}
}

func (e *ClientError) Error() string { return e.Message }

// Is makes errors.Is(err, e.Class) true.
func (e *ClientError) Is(target error) bool { return target == e.Class }
