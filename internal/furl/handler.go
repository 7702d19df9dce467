package furl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/sigv4"
)

// Target is what a function URL serves: its function and qualifier, and
// how.
type Target struct {
	URLID        string
	FunctionName string
	// Qualifier is an alias name, or empty for $LATEST.
	Qualifier  string
	AuthType   string
	InvokeMode string
	// Cors is nil for a URL without a CORS configuration.
	Cors *Cors
}

// Options configure a Handler.
type Options struct {
	// Lookup finds the URL of an id; an error of class
	// invocation.ErrNotFound means there is none.
	Lookup func(ctx context.Context, urlID string) (Target, error)
	// Invoke runs the function synchronously.
	Invoke func(ctx context.Context, name, qualifier string, req invocation.Request) (invocation.Response, error)
	// Keys are the access keys whose signatures an AWS_IAM URL accepts.
	// With none, an AWS_IAM URL accepts any request that carries a
	// well-formed SigV4 signature, unchecked: a server without keys
	// serves only this machine and has no secrets to check against.
	Keys sigv4.Keys
	// Region and AccountID go into the events.
	Region, AccountID string
	// Limit, when set, wraps the writer of a streamed response's body
	// with the server's bandwidth rule.
	Limit func(io.Writer) io.Writer
	Log   *slog.Logger
	Now   func() time.Time
}

// Handler serves function URL requests.
type Handler struct {
	opts Options
	log  *slog.Logger
}

// NewHandler returns a handler of function URL requests.
func NewHandler(opts Options) *Handler {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Handler{opts: opts, log: opts.Log}
}

// Match reports whether r is a request to a function URL, and which: its
// Host is <url-id>.lambda-url.<region>.<domain>[:port], or its path is
// /lambda-url/<url-id>/... for a client that cannot set the Host. path is
// the URL's own path, "/" and what follows.
func Match(r *http.Request) (urlID, path string, ok bool) {
	host := strings.ToLower(r.Host)
	if id, rest, found := strings.Cut(host, hostMarker); found && validID(id) && rest != "" {
		return id, r.URL.EscapedPath(), true
	}
	p := r.URL.EscapedPath()
	if rest, found := strings.CutPrefix(p, PathPrefix); found {
		id, sub, _ := strings.Cut(rest, "/")
		if validID(id) {
			return id, "/" + sub, true
		}
	}
	return "", "", false
}

// validID reports whether s is a URL id: 32 lower-case letters and digits.
func validID(s string) bool {
	if len(s) != idLength {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// ServeHTTP serves one request to a function URL: a CORS preflight is
// answered here, an AWS_IAM URL's request must be signed, and any other
// request becomes a payload format 2.0 event whose function's answer is
// the response. Requests that Match refuses are answered 403.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	urlID, path, ok := Match(r)
	if !ok {
		Forbidden.Write(w)
		return
	}
	ctx := r.Context()
	t, err := h.opts.Lookup(ctx, urlID)
	if err != nil {
		if errors.Is(err, invocation.ErrNotFound) {
			Forbidden.Write(w)
			return
		}
		h.log.Error("function URL lookup failed", "url_id", urlID, "err", err)
		Unavailable.Write(w)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, invocation.MaxSyncRequest+1))
	if err != nil {
		return // the client went away
	}
	if len(body) > invocation.MaxSyncRequest {
		TooLarge.Write(w)
		return
	}
	if t.Cors != nil && IsPreflight(r) {
		t.Cors.WritePreflight(w, r)
		return
	}
	var caller *Caller
	if t.AuthType == AuthIAM {
		if caller, err = h.authorize(r, body); err != nil {
			h.log.Debug("function URL request refused", "url_id", urlID, "err", err)
			Forbidden.Write(w)
			return
		}
	}
	requestID := invocation.NewRequestID()
	w.Header().Set("X-Amzn-Requestid", requestID)
	if t.Cors != nil {
		w = &corsWriter{ResponseWriter: w, cors: t.Cors, r: r}
	}
	u := *r.URL
	u.Path, u.RawPath = path, ""
	if p, perr := url.PathUnescape(path); perr == nil {
		u.Path = p
		u.RawPath = path
	}
	inner := r.Clone(ctx)
	inner.URL = &u
	now := h.opts.Now()
	payload, err := buildEvent(inner, body, urlID, h.opts.Region, h.opts.AccountID, now, requestID, caller)
	if err != nil {
		h.log.Error("function URL event", "url_id", urlID, "err", err)
		Unavailable.Write(w)
		return
	}
	streaming := t.InvokeMode == Streamed
	resp, err := h.opts.Invoke(ctx, t.FunctionName, t.Qualifier, invocation.Request{
		ID:          requestID,
		Payload:     payload,
		ContentType: invocation.ContentTypeJSON,
		TraceID:     invocation.NewTraceID(now),
		Streaming:   streaming,
	})
	if err != nil {
		h.invokeFailed(w, t, err)
		return
	}
	if resp.Stream != nil && !streaming {
		// A BUFFERED URL answers once the whole response is in, as
		// Lambda's does even for a function that streams.
		resp = buffered(resp)
	}
	switch {
	case resp.Stream != nil:
		defer resp.Stream.Close()
		if h.opts.Limit != nil {
			w = limited{w, h.opts.Limit(w)}
		}
		if err := WriteStream(w, resp.ContentType, resp.Stream); err != nil {
			h.log.Info("function URL stream", "function", t.FunctionName, "request_id", requestID, "err", err)
		}
		if fe := resp.Stream.Err(); fe != nil {
			h.log.Info("function URL stream ended with an error", "function", t.FunctionName, "request_id", requestID, "error_type", fe.Type)
		}
	case resp.FunctionError == "" && resp.ContentType == StreamContentType:
		// A response with the HTTP prelude that the runtime sent whole.
		if err := WriteStream(w, resp.ContentType, bytes.NewReader(resp.Payload)); err != nil {
			h.log.Info("function URL response", "function", t.FunctionName, "request_id", requestID, "err", err)
		}
	case resp.FunctionError != "":
		if resp.ErrorType == "Sandbox.Timedout" {
			TimedOut.Write(w)
			return
		}
		BadGateway.Write(w)
	default:
		if err := WriteResponse(w, resp.Payload); err != nil {
			h.log.Info("function URL response", "function", t.FunctionName, "request_id", requestID, "err", err)
		}
	}
}

// limited is a response writer whose body goes through w, a writer of
// the bandwidth rule over it; Flush and the rest reach the writer below
// through Unwrap.
type limited struct {
	http.ResponseWriter
	w io.Writer
}

func (l limited) Write(p []byte) (int, error) { return l.w.Write(p) }

func (l limited) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// buffered reads a streamed response whole, up to the limit of a
// buffered one; a stream that fails or passes the limit is a function
// error.
func buffered(resp invocation.Response) invocation.Response {
	defer resp.Stream.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Stream, invocation.MaxSyncResponse+1))
	out := invocation.Response{ContentType: resp.ContentType, Payload: body}
	switch fe := resp.Stream.Err(); {
	case fe != nil:
		out.FunctionError, out.ErrorType, out.Payload = invocation.FunctionErrorUnhandled, fe.Type, fe.Body
	case err != nil || len(body) > invocation.MaxSyncResponse:
		out.FunctionError, out.ErrorType = invocation.FunctionErrorUnhandled, "Function.ResponseSizeTooLarge"
	}
	return out
}

// invokeFailed answers an invocation that did not run.
func (h *Handler) invokeFailed(w http.ResponseWriter, t Target, err error) {
	switch {
	case errors.Is(err, invocation.ErrThrottled):
		w.Header().Set("Retry-After", "1")
		Throttled.Write(w)
	case errors.Is(err, invocation.ErrTooLarge):
		TooLarge.Write(w)
	case errors.Is(err, invocation.ErrNotFound):
		Forbidden.Write(w)
	default:
		var ce *invocation.ClientError
		if !errors.As(err, &ce) {
			h.log.Error("function URL invocation failed", "function", t.FunctionName, "err", err)
		}
		Unavailable.Write(w)
	}
}

// authorize checks the signature of a request to an AWS_IAM URL and
// returns its caller.
func (h *Handler) authorize(r *http.Request, body []byte) (*Caller, error) {
	var keyID string
	if h.opts.Keys != nil {
		creds, err := sigv4.Verify(r, body, h.opts.Keys, "lambda", h.opts.Now())
		if err != nil {
			return nil, fmt.Errorf("verify the signature: %w", err)
		}
		keyID = creds.AccessKeyID
	} else {
		var err error
		if keyID, err = signedBy(r); err != nil {
			return nil, err
		}
	}
	return &Caller{
		AccessKey: keyID,
		AccountID: h.opts.AccountID,
		CallerID:  keyID,
		UserARN:   "arn:aws:iam::" + h.opts.AccountID + ":user/" + keyID,
		UserID:    keyID,
	}, nil
}

// signedBy checks that r carries a well-formed SigV4 signature, in its
// Authorization header or its query, and returns its access key id. It
// does not check the signature itself.
func signedBy(r *http.Request) (string, error) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		alg, params, _ := strings.Cut(strings.TrimSpace(auth), " ")
		if alg != sigv4.Algorithm {
			return "", fmt.Errorf("authorization algorithm %q", alg)
		}
		fields := map[string]string{}
		for _, p := range strings.Split(params, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			fields[k] = v
		}
		if r.Header.Get("X-Amz-Date") == "" && r.Header.Get("Date") == "" {
			return "", errors.New("no X-Amz-Date")
		}
		return checkScope(fields["Credential"], fields["SignedHeaders"], fields["Signature"])
	}
	q := r.URL.Query()
	if q.Get("X-Amz-Algorithm") != sigv4.Algorithm || q.Get("X-Amz-Date") == "" {
		return "", errors.New("no signature")
	}
	return checkScope(q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature"))
}

// checkScope checks a credential scope (key/date/region/lambda/aws4_request),
// its signed headers (host among them) and a signature of 64 hex digits.
func checkScope(credential, signedHeaders, signature string) (string, error) {
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[0] == "" || scope[3] != "lambda" || scope[4] != "aws4_request" {
		return "", fmt.Errorf("credential %q", credential)
	}
	if !contains(strings.Split(signedHeaders, ";"), "host") {
		return "", errors.New("host is not signed")
	}
	if len(signature) != 64 || strings.Trim(signature, "0123456789abcdef") != "" {
		return "", errors.New("malformed signature")
	}
	return scope[0], nil
}

// corsWriter sets a URL's CORS headers on the response as its status is
// written, over any the function set.
type corsWriter struct {
	http.ResponseWriter
	cors    *Cors
	r       *http.Request
	written bool
}

func (c *corsWriter) WriteHeader(status int) {
	if !c.written {
		c.written = true
		c.cors.Apply(c.ResponseWriter.Header(), c.r)
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *corsWriter) Write(b []byte) (int, error) {
	if !c.written {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController flush the response underneath.
func (c *corsWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
