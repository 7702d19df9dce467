// Package furl owns function URLs' HTTP: payload format 2.0 events from
// requests, responses from functions' answers, CORS, and the handler that
// serves a function URL with them. Which function a URL names, and
// running it, are its caller's: the handler is given both as functions.
package furl

import (
	"net/http"
	"strconv"
)

// Auth types and invoke modes of a function URL, as the API names them.
const (
	AuthNone   = "NONE"
	AuthIAM    = "AWS_IAM"
	Buffered   = "BUFFERED"
	Streamed   = "RESPONSE_STREAM"
	idLength   = 32
	hostMarker = ".lambda-url."
	// PathPrefix is the fallback route for clients that cannot set a
	// Host: /lambda-url/<url-id>/<path>.
	PathPrefix = "/lambda-url/"
	// StreamContentType marks a streamed response that begins with the
	// HTTP prelude (aws-lambda-go's lambdaurl, Node's
	// HttpResponseStream.from).
	StreamContentType = "application/vnd.awslambda.http-integration-response"
)

// Cors is a function URL's cross-origin resource sharing configuration.
type Cors struct {
	AllowCredentials bool     `json:"AllowCredentials,omitempty"`
	AllowHeaders     []string `json:"AllowHeaders,omitempty"`
	AllowMethods     []string `json:"AllowMethods,omitempty"`
	AllowOrigins     []string `json:"AllowOrigins,omitempty"`
	ExposeHeaders    []string `json:"ExposeHeaders,omitempty"`
	MaxAge           int      `json:"MaxAge,omitempty"`
}

// The answers a function URL gives when it does not relay a function's
// response. Lambda's front end answers these with a JSON body of one
// member, Message, or (for a function's failure) with a bare text.
var (
	// Forbidden answers an AWS_IAM URL's request without a valid
	// signature, and a URL that does not exist.
	Forbidden = Answer{http.StatusForbidden, "AccessDeniedException", `{"Message":"Forbidden"}`}
	// BadGateway answers a function that failed or gave a response that
	// cannot be mapped to HTTP.
	BadGateway = Answer{http.StatusBadGateway, "", "Internal Server Error"}
	// TooLarge answers a request body over the 6 MB limit.
	TooLarge = Answer{http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", `{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}`}
	// Throttled answers an invocation refused at the function's or the
	// account's concurrency limit.
	Throttled = Answer{http.StatusTooManyRequests, "TooManyRequestsException", `{"Message":"Rate Exceeded."}`}
	// TimedOut answers a function that ran out of its time.
	TimedOut = Answer{http.StatusGatewayTimeout, "", `{"Message":"Endpoint request timed out"}`}
	// Unavailable answers a request that ember could not serve for a
	// reason of its own.
	Unavailable = Answer{http.StatusInternalServerError, "ServiceException", `{"Message":"Internal Server Error"}`}
)

// Answer is one of the front end's own responses.
type Answer struct {
	Status int
	// ErrorType goes in X-Amzn-ErrorType when set.
	ErrorType string
	Body      string
}

// Write sends the answer.
func (a Answer) Write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(a.Body)))
	if a.ErrorType != "" {
		h.Set("X-Amzn-ErrorType", a.ErrorType)
	}
	w.WriteHeader(a.Status)
	w.Write([]byte(a.Body))
}
