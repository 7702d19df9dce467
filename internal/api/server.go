package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/emberfn/ember/internal/billing"
	"github.com/emberfn/ember/internal/control"
	"github.com/emberfn/ember/internal/furl"
	"github.com/emberfn/ember/internal/image"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/invoke"
	"github.com/emberfn/ember/internal/invokewire"
	"github.com/emberfn/ember/internal/logstore"
	"github.com/emberfn/ember/internal/metrics"
	"github.com/emberfn/ember/internal/runtimes"
	"github.com/emberfn/ember/internal/sigv4"
	"github.com/emberfn/ember/internal/store"
	"github.com/emberfn/ember/internal/usage"
)

// Limits of the Lambda API's requests.
const (
	// maxControlBody is CreateFunction's limit: a 50 MB zip, base64'd in
	// JSON.
	maxControlBody = 70167211
)

// Options configure the Lambda API server.
type Options struct {
	Store  *store.Store
	Invoke *invoke.Service
	Logs   *logstore.Store
	// Usage and Metrics are the invocations' records and counters, priced
	// with Prices; nil for none.
	Usage   *usage.Store
	Metrics *metrics.Registry
	Prices  billing.Prices
	// Runtimes tells which managed runtimes can run here.
	Runtimes *runtimes.Registry
	// Region and AccountID make the ARNs.
	Region    string
	AccountID string
	// Keys, when set, are the access keys whose SigV4 signatures are
	// accepted; every request must then be signed.
	Keys sigv4.Keys
	// Images are the container images functions may run; nil refuses
	// functions of PackageType Image.
	Images *image.Store
	// AllowLocalCode accepts code (and images) from a path on this
	// machine (see control.LocalCodeBucket); only for a server that
	// listens on loopback.
	AllowLocalCode bool
	// AccountConcurrency is the server-wide limit GetAccountSettings
	// reports.
	AccountConcurrency int
	// StreamBandwidth is how fast streamed responses are sent; the zero
	// value is Lambda's cap.
	StreamBandwidth invokewire.Bandwidth
	// URLPort is the port function URLs are served at, for their
	// addresses.
	URLPort string
	Log     *slog.Logger
	Now     func() time.Time
}

// Server serves the Lambda API 2015-03-31 and ember's own endpoints
// beside it.
type Server struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	// ctl applies the rules of functions, versions, aliases, layers and
	// concurrency; the handlers decode, call it and encode.
	ctl *control.Plane
	// urls serves requests to function URLs, which are not the API's.
	urls *furl.Handler
}

// New returns the server.
func New(opts Options) *Server {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AccountConcurrency <= 0 {
		opts.AccountConcurrency = invoke.DefaultAccountConcurrency
	}
	if opts.Prices.Duration == nil {
		opts.Prices = billing.Default()
	}
	s := &Server{opts: opts, log: opts.Log, mux: http.NewServeMux(), ctl: control.New(control.Options{
		Store:              opts.Store,
		Runtimes:           opts.Runtimes,
		Images:             opts.Images,
		Region:             opts.Region,
		AccountID:          opts.AccountID,
		AllowLocalCode:     opts.AllowLocalCode,
		AccountConcurrency: opts.AccountConcurrency,
		URLPort:            opts.URLPort,
		Log:                opts.Log,
		Now:                opts.Now,
	})}
	s.urls = s.newURLHandler(opts.Now)
	s.routes()
	return s
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, body []byte) error

func (s *Server) routes() {
	const fns = "/2015-03-31/functions"
	s.handle("POST "+fns, s.createFunction)
	s.handle("GET "+fns, s.listFunctions)
	s.handle("GET "+fns+"/", s.listFunctions)
	s.handle("GET "+fns+"/{name}", s.getFunction)
	s.handle("DELETE "+fns+"/{name}", s.deleteFunction)
	s.handle("GET "+fns+"/{name}/configuration", s.getFunctionConfiguration)
	s.handle("PUT "+fns+"/{name}/configuration", s.updateFunctionConfiguration)
	s.handle("PUT "+fns+"/{name}/code", s.updateFunctionCode)
	s.handle("POST "+fns+"/{name}/invocations", s.invoke)
	s.handle("POST /2021-11-15/functions/{name}/response-streaming-invocations", s.invokeStream)
	s.handle("POST "+fns+"/{name}/versions", s.publishVersion)
	s.handle("GET "+fns+"/{name}/versions", s.listVersions)
	s.handle("POST "+fns+"/{name}/aliases", s.createAlias)
	s.handle("GET "+fns+"/{name}/aliases", s.listAliases)
	s.handle("GET "+fns+"/{name}/aliases/{alias}", s.getAlias)
	s.handle("PUT "+fns+"/{name}/aliases/{alias}", s.updateAlias)
	s.handle("DELETE "+fns+"/{name}/aliases/{alias}", s.deleteAlias)
	const urls = "/2021-10-31/functions/{name}"
	s.handle("POST "+urls+"/url", s.createURL)
	s.handle("GET "+urls+"/url", s.getURL)
	s.handle("PUT "+urls+"/url", s.updateURL)
	s.handle("DELETE "+urls+"/url", s.deleteURL)
	s.handle("GET "+urls+"/urls", s.listURLs)
	s.handle("PUT /2017-10-31/functions/{name}/concurrency", s.putConcurrency)
	s.handle("DELETE /2017-10-31/functions/{name}/concurrency", s.deleteConcurrency)
	s.handle("GET /2019-09-30/functions/{name}/concurrency", s.getConcurrency)
	s.handle("POST /2018-10-31/layers/{layer}/versions", s.publishLayerVersion)
	s.handle("GET /2018-10-31/layers/{layer}/versions", s.listLayerVersions)
	s.handle("GET /2018-10-31/layers/{layer}/versions/{version}", s.getLayerVersion)
	s.handle("DELETE /2018-10-31/layers/{layer}/versions/{version}", s.deleteLayerVersion)
	s.handle("GET /2018-10-31/layers", s.layers)
	s.handle("GET /2016-08-19/account-settings", s.accountSettings)
	s.handle("GET /2016-08-19/account-settings/", s.accountSettings)
	s.handle("GET /ember/v1/functions/{name}/logs", s.functionLogs)
	s.handle("GET /ember/v1/code/{digest}", s.code)
	s.handle("GET /ember/v1/invocations", s.invocations)
	s.handle("GET /ember/v1/cost", s.cost)
	s.handle("GET /ember/v1/images", s.listImages)
	s.handle("DELETE /ember/v1/images", s.removeImage)
	s.handle("POST /ember/v1/images/load", s.loadImages)
	s.handle("POST /ember/v1/images/pull", s.pullImage)
	s.handle("POST /ember/v1/images/prune", s.pruneImages)
	s.handle("GET /metrics", s.metrics)
	s.handle("/", func(w http.ResponseWriter, r *http.Request, _ []byte) error {
		return &invokewire.Error{Status: http.StatusNotFound, Code: "UnknownOperationException", Message: "Unknown operation " + r.Method + " " + r.URL.Path}
	})
}

// handle registers h, which returns its error instead of writing it.
func (s *Server) handle(pattern string, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		body, _ := r.Context().Value(bodyKey{}).([]byte)
		if err := h(w, r, body); err != nil {
			s.writeError(w, r, err)
		}
	})
}

type bodyKey struct{}

// ServeHTTP reads the request body within its operation's limit,
// verifies its signature when keys are set, and routes it. A request to a
// function URL (by its Host, or by the /lambda-url/<id>/ path) is the
// function URL handler's, which checks signatures by the URL's own auth
// type. No panic reaches the client: it becomes a ServiceException.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	invokewire.SetRequestID(w)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("API handler panicked", "panic", v, "method", r.Method, "path", r.URL.Path)
			invokewire.WriteError(w, fmt.Errorf("panic: %v", v))
		}
	}()
	if _, _, ok := furl.Match(r); ok {
		s.urls.ServeHTTP(w, r)
		return
	}
	limit := int64(maxControlBody)
	if strings.HasSuffix(r.URL.Path, "/invocations") || strings.HasSuffix(r.URL.Path, "/response-streaming-invocations") {
		limit = invocation.MaxSyncRequest
	}
	body, err := invokewire.ReadBody(r, limit, operationName(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.opts.Keys != nil {
		if _, err := sigv4.Verify(r, body, s.opts.Keys, "lambda", s.opts.Now()); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	r = r.WithContext(contextWithBody(r, body))
	s.mux.ServeHTTP(w, r)
}

// operationName names the operation of a request for the limit's message.
func operationName(r *http.Request) string {
	switch {
	case strings.HasSuffix(r.URL.Path, "/response-streaming-invocations"):
		return "InvokeWithResponseStream"
	case strings.HasSuffix(r.URL.Path, "/invocations"):
		return "InvokeFunction"
	case strings.HasSuffix(r.URL.Path, "/code"):
		return "UpdateFunctionCode"
	}
	return "CreateFunction"
}

// decodeJSON reads a request's JSON body into v. An empty body is an
// empty object.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return invocation.Errorf(invocation.ErrInvalidContent,
				"Could not parse request body into json: Could not deserialize value of type %s for field %s", te.Value, te.Field)
		}
		return invocation.Errorf(invocation.ErrInvalidContent, "Could not parse request body into json: %v", err)
	}
	return nil
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
	return nil
}

func contextWithBody(r *http.Request, body []byte) context.Context {
	return context.WithValue(r.Context(), bodyKey{}, body)
}
