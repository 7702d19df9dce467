package client

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// CostSummary is one function version's invocations and what Lambda would
// charge for them, as ember serve reports it.
type CostSummary struct {
	Function      string        `json:"function"`
	Version       string        `json:"version"`
	Invocations   int           `json:"invocations"`
	Errors        int           `json:"errors"`
	Throttles     int           `json:"throttles"`
	ColdStarts    int           `json:"cold_starts"`
	GBSeconds     float64       `json:"gb_seconds"`
	CostUSD       float64       `json:"cost_usd"`
	PerMillionUSD float64       `json:"per_million_usd"`
	AvgDuration   time.Duration `json:"avg_duration_ns"`
}

// Cost is GET /ember/v1/cost.
type Cost struct {
	PricesTakenOn string        `json:"prices_taken_on"`
	PricesRegion  string        `json:"prices_region"`
	Functions     []CostSummary `json:"functions"`
}

// Cost returns the cost of each function's invocations (function "" for
// every function) over the last since (0: every invocation kept).
func (c *Client) Cost(ctx context.Context, function string, since time.Duration) (Cost, error) {
	r := request{method: http.MethodGet, path: "/ember/v1/cost"}
	if function != "" {
		r.query = append(r.query, [2]string{"function", function})
	}
	if since > 0 {
		r.query = append(r.query, [2]string{"since", since.String()})
	}
	var out Cost
	if err := c.doJSON(ctx, r, nil, &out, http.StatusOK); err != nil {
		return Cost{}, fmt.Errorf("cost: %w", err)
	}
	return out, nil
}

// InvocationRecord is one invocation as ember serve recorded it.
type InvocationRecord struct {
	Function        string        `json:"function"`
	Version         string        `json:"version"`
	RequestID       string        `json:"request_id"`
	Start           time.Time     `json:"start"`
	Duration        time.Duration `json:"duration_ns"`
	BilledDuration  time.Duration `json:"billed_duration_ns"`
	InitDuration    time.Duration `json:"init_duration_ns"`
	Cold            bool          `json:"cold"`
	MemoryMB        int           `json:"memory_mb"`
	MaxMemoryUsedMB int           `json:"max_memory_used_mb"`
	Outcome         string        `json:"outcome"`
	ErrorType       string        `json:"error_type"`
	CostUSD         float64       `json:"cost_usd"`
	Async           bool          `json:"async"`
}

// Invocations returns the records of a function's invocations (function
// "" for every function) over the last since (0: every one kept).
func (c *Client) Invocations(ctx context.Context, function string, since time.Duration) ([]InvocationRecord, error) {
	r := request{method: http.MethodGet, path: "/ember/v1/invocations"}
	if function != "" {
		r.query = append(r.query, [2]string{"function", function})
	}
	if since > 0 {
		r.query = append(r.query, [2]string{"since", since.String()})
	}
	var out struct {
		Invocations []InvocationRecord `json:"invocations"`
	}
	if err := c.doJSON(ctx, r, nil, &out, http.StatusOK); err != nil {
		return nil, fmt.Errorf("invocations: %w", err)
	}
	return out.Invocations, nil
}
