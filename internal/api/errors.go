// Package api owns ember's HTTP edge: the Lambda API's routes, the decoding
// of its requests (JSON, query, headers), their signatures, the encoding
// of its answers, and the one place where ember's error classes become
// AWS's error responses. The rules of functions, versions, aliases, layers
// and concurrency are the control plane's.
package api

import (
	"errors"
	"net/http"

	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/invokewire"
	"github.com/emberfn/ember/internal/sigv4"
)

// writeError answers a request with err in AWS's error shape, and logs an
// error that is ember's rather than its caller's.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var se *sigv4.Error
	if errors.As(err, &se) {
		err = &invokewire.Error{Status: se.Status, Code: se.Code, Message: se.Message, Bare: true}
	}
	var ce *invocation.ClientError
	var ae *invokewire.Error
	var te *invocation.ThrottleError
	if !errors.As(err, &ce) && !errors.As(err, &ae) && !errors.As(err, &te) {
		s.log.Error("API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	invokewire.WriteError(w, err)
}
