package api

import (
	"net/http"
	"time"

	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/metrics"
	"github.com/emberfn/ember/internal/usage"
)

// sinceQuery reads ?since=, an RFC 3339 time or a duration back from now.
func (s *Server) sinceQuery(r *http.Request) (time.Time, error) {
	v := r.URL.Query().Get("since")
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return s.opts.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invocation.Errorf(invocation.ErrInvalid, "since %q is neither an RFC 3339 time nor a duration such as 1h", v)
	}
	return t, nil
}

type invocationsResponse struct {
	Invocations []usage.Record `json:"invocations"`
}

// invocations serves ember's per-invocation records: GET
// /ember/v1/invocations?function=NAME&since=…
func (s *Server) invocations(w http.ResponseWriter, r *http.Request, _ []byte) error {
	since, err := s.sinceQuery(r)
	if err != nil {
		return err
	}
	resp := invocationsResponse{Invocations: []usage.Record{}}
	if s.opts.Usage != nil {
		resp.Invocations = append(resp.Invocations, s.opts.Usage.Records(r.URL.Query().Get("function"), since)...)
	}
	return writeJSON(w, http.StatusOK, resp)
}

type costResponse struct {
	Since     *time.Time      `json:"since,omitempty"`
	PricesOn  string          `json:"prices_taken_on"`
	Region    string          `json:"prices_region"`
	Functions []usage.Summary `json:"functions"`
}

// cost serves the invocations, GB-seconds and cost of each function and
// version: GET /ember/v1/cost?function=NAME&since=…
func (s *Server) cost(w http.ResponseWriter, r *http.Request, _ []byte) error {
	since, err := s.sinceQuery(r)
	if err != nil {
		return err
	}
	resp := costResponse{PricesOn: s.opts.Prices.TakenOn, Region: s.opts.Prices.Region, Functions: []usage.Summary{}}
	if !since.IsZero() {
		resp.Since = &since
	}
	if s.opts.Usage != nil {
		resp.Functions = append(resp.Functions, s.opts.Usage.Summaries(r.URL.Query().Get("function"), since)...)
	}
	return writeJSON(w, http.StatusOK, resp)
}

// metrics serves the Prometheus text exposition of Lambda's metric set.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request, _ []byte) error {
	if s.opts.Metrics == nil {
		return invocation.Errorf(invocation.ErrNotFound, "metrics are off")
	}
	s.opts.Metrics.Handler(func() metrics.Gauges { return s.gauges(r) }).ServeHTTP(w, r)
	return nil
}

func (s *Server) gauges(r *http.Request) metrics.Gauges {
	g := metrics.Gauges{ConcurrentExecutions: s.opts.Invoke.Running()}
	ctx := r.Context()
	if n, err := s.opts.Store.QueueDepth(ctx); err == nil {
		g.AsyncQueued = n
	}
	if t, err := s.opts.Store.QueueOldest(ctx); err == nil && !t.IsZero() {
		g.AsyncOldestAge = s.opts.Now().Sub(t)
	}
	return g
}
