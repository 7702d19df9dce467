package invokewire

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/emberfn/ember/internal/invocation"
)

// ErrorBody is the body of an AWS Lambda API error. Lambda spells the
// message member "message" for most errors and "Message" for a few.
type ErrorBody struct {
	Reason  string `json:"Reason,omitempty"`
	Type    string `json:"Type"`
	Message string `json:"message"`
}

// awsError is one error as the wire carries it.
type awsError struct {
	status int
	code   string
	body   any
}

// Error is an AWS error without a class of ember's, such as a failed
// signature check: the edge gives its code, status and message as AWS does.
type Error struct {
	Status  int
	Code    string
	Message string
	// CapitalMessage spells the body's member "Message", as a few of
	// AWS's errors do.
	CapitalMessage bool
	// Bare leaves "Type" out of the body, as AWS's front end does for a
	// request it could not authenticate.
	Bare bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// translate maps an error of ember's classes to its AWS shape.
func translate(err error) awsError {
	msg := err.Error()
	var ce *invocation.ClientError
	if errors.As(err, &ce) {
		msg = ce.Message
	}
	var te *invocation.ThrottleError
	var ae *Error
	switch {
	case errors.As(err, &te):
		return awsError{http.StatusTooManyRequests, "TooManyRequestsException",
			ErrorBody{Reason: te.Reason, Type: "User", Message: "Rate Exceeded."}}
	case errors.Is(err, invocation.ErrTooLarge):
		return awsError{http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", ErrorBody{Type: "User", Message: msg}}
	case errors.Is(err, invocation.ErrInvalidContent):
		return awsError{http.StatusBadRequest, "InvalidRequestContentException", ErrorBody{Type: "User", Message: msg}}
	case errors.As(err, &ae):
		if ae.Bare {
			return awsError{ae.Status, ae.Code, struct {
				Message string `json:"message"`
			}{ae.Message}}
		}
		if ae.CapitalMessage {
			return awsError{ae.Status, ae.Code, struct {
				Type    string `json:"Type"`
				Message string `json:"Message"`
			}{"User", ae.Message}}
		}
		return awsError{ae.Status, ae.Code, ErrorBody{Type: "User", Message: ae.Message}}
	case errors.Is(err, invocation.ErrValidation):
		return awsError{http.StatusBadRequest, "ValidationException", ErrorBody{Type: "User", Message: msg}}
	case errors.Is(err, invocation.ErrPrecondition):
		return awsError{http.StatusPreconditionFailed, "PreconditionFailedException", ErrorBody{Type: "User", Message: msg}}
	case errors.Is(err, invocation.ErrUnsupportedMedia):
		return awsError{http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException", ErrorBody{Type: "User", Message: msg}}
	case errors.Is(err, invocation.ErrUnavailable):
		return awsError{http.StatusServiceUnavailable, "ServiceException",
			struct {
				Type    string `json:"Type"`
				Message string `json:"Message"`
			}{"Service", msg}}
	case errors.Is(err, invocation.ErrInvalid):
		return awsError{http.StatusBadRequest, "InvalidParameterValueException", ErrorBody{Type: "User", Message: msg}}
	case errors.Is(err, invocation.ErrConflict):
		return awsError{http.StatusConflict, "ResourceConflictException", ErrorBody{Type: "User", Message: msg}}
	case errors.Is(err, invocation.ErrNotFound):
		return awsError{http.StatusNotFound, "ResourceNotFoundException",
			struct {
				Type    string `json:"Type"`
				Message string `json:"Message"`
			}{"User", msg}}
	}
	return awsError{http.StatusInternalServerError, "ServiceException",
		struct {
			Type    string `json:"Type"`
			Message string `json:"Message"`
		}{"Service", "An internal error occurred: " + msg}}
}

// WriteError answers a request with err in AWS's error shape: its status,
// the x-amzn-ErrorType header and the JSON body.
func WriteError(w http.ResponseWriter, err error) {
	e := translate(err)
	b, mErr := json.Marshal(e.body)
	if mErr != nil {
		b = []byte(`{"Type":"Service","Message":"An internal error occurred"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", e.code)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	if e.status == http.StatusTooManyRequests {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(e.status)
	w.Write(b)
}
