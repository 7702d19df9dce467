// Package billing owns the arithmetic of what Lambda would charge for what
// ember's functions used: requests, duration in GB-seconds through the
// monthly tiers of each architecture, billed duration rounded up to the
// millisecond with the init phase included, ephemeral storage beyond the
// free 512 MB, and the monthly free tier. Prices are a table with the date
// they were read, overridable from a JSON file. It imports nothing else of
// ember's.
package billing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"
)

// The architectures Lambda prices, as the Lambda API spells them.
const (
	X86_64 = "x86_64"
	ARM64  = "arm64"
)

// Tier is one band of the monthly duration price of an architecture.
type Tier struct {
	// UpToGBSeconds is the cumulative monthly GB-s this tier ends at; 0 for the last, unbounded tier.
	UpToGBSeconds  float64 `json:"up_to_gb_seconds"`
	USDPerGBSecond float64 `json:"usd_per_gb_second"`
}

// Prices is Lambda's on-demand price list for one region.
type Prices struct {
	TakenOn                 string            `json:"taken_on"` // the date the prices were read, YYYY-MM-DD
	Region                  string            `json:"region"`
	RequestUSDPerMillion    float64           `json:"request_usd_per_million"`
	Duration                map[string][]Tier `json:"duration"`                    // by architecture: "x86_64", "arm64"
	EphemeralUSDPerGBSecond float64           `json:"ephemeral_usd_per_gb_second"` // storage beyond 512 MB
	FreeRequests            int64             `json:"free_requests"`
	FreeGBSeconds           float64           `json:"free_gb_seconds"`
	// InitBilledSince is the date from which on-demand init is billed (2025-08-01).
	InitBilledSince string `json:"init_billed_since"`
}

// Default is the us-east-1 public price list as read on TakenOn. Sources:
// https://aws.amazon.com/lambda/pricing/ for the request price, the free
// tier, the first-tier rates and the ephemeral storage rate (all also in its
// worked examples, which testdata/billing/examples.json checks); the Lambda
// FAQ and the AWS Compute Blog post introducing tiered pricing (2022) for
// the tier boundaries and the x86_64 tier rates; the pricing page's rate
// table, which renders client-side, as transcribed elsewhere, for the arm64
// tier 2 and 3 rates. On-demand init is billed from 2025-08-01 (AWS Compute
// Blog, "AWS Lambda standardizes billing for INIT Phase"). Each call
// returns a fresh table.
func Default() Prices {
	return Prices{
		TakenOn:              "2026-11-22",
		Region:               "us-east-1",
		RequestUSDPerMillion: 0.20,
		Duration: map[string][]Tier{
			X86_64: {
				{UpToGBSeconds: 6e9, USDPerGBSecond: 0.0000166667}, // first 6 B GB-s
				{UpToGBSeconds: 15e9, USDPerGBSecond: 0.000015},    // next 9 B
				{UpToGBSeconds: 0, USDPerGBSecond: 0.0000133334},   // over 15 B
			},
			ARM64: {
				{UpToGBSeconds: 7.5e9, USDPerGBSecond: 0.0000133334},   // first 7.5 B GB-s
				{UpToGBSeconds: 18.75e9, USDPerGBSecond: 0.0000120001}, // next 11.25 B
				{UpToGBSeconds: 0, USDPerGBSecond: 0.0000106667},       // over 18.75 B
			},
		},
		EphemeralUSDPerGBSecond: 0.0000000309,
		FreeRequests:            1_000_000,
		FreeGBSeconds:           400_000,
		InitBilledSince:         "2025-08-01",
	}
}

// Load reads a JSON file whose members override Default's (a partial file keeps the rest).
// A member of "duration" replaces that architecture's whole tier list and
// leaves the other architectures as they are. Unknown members are an error,
// so that a misspelt price is not silently ignored.
func Load(path string) (Prices, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Prices{}, fmt.Errorf("read prices: %w", err)
	}
	p, err := parse(data)
	if err != nil {
		return Prices{}, fmt.Errorf("prices %s: %w", path, err)
	}
	return p, nil
}

// parse overlays data on Default and validates the result.
func parse(data []byte) (Prices, error) {
	p := Default()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Prices{}, fmt.Errorf("decode: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Prices{}, errors.New("decode: trailing data after the object")
	}
	if err := p.Validate(); err != nil {
		return Prices{}, err
	}
	return p, nil
}

// Validate reports the first thing that makes p unusable as a price list:
// a date that is not YYYY-MM-DD, a negative price or allowance, no x86_64
// table, or a tier list that is empty, not ascending, or not closed by one
// unbounded tier.
func (p Prices) Validate() error {
	if _, err := time.Parse(time.DateOnly, p.TakenOn); err != nil {
		return fmt.Errorf("taken_on %q is not a YYYY-MM-DD date", p.TakenOn)
	}
	if _, err := time.Parse(time.DateOnly, p.InitBilledSince); err != nil {
		return fmt.Errorf("init_billed_since %q is not a YYYY-MM-DD date", p.InitBilledSince)
	}
	switch {
	case p.RequestUSDPerMillion < 0:
		return fmt.Errorf("request_usd_per_million %v is negative", p.RequestUSDPerMillion)
	case p.EphemeralUSDPerGBSecond < 0:
		return fmt.Errorf("ephemeral_usd_per_gb_second %v is negative", p.EphemeralUSDPerGBSecond)
	case p.FreeRequests < 0:
		return fmt.Errorf("free_requests %d is negative", p.FreeRequests)
	case p.FreeGBSeconds < 0:
		return fmt.Errorf("free_gb_seconds %v is negative", p.FreeGBSeconds)
	}
	if _, ok := p.Duration[X86_64]; !ok {
		return fmt.Errorf("duration has no %s tiers", X86_64)
	}
	for _, arch := range slices.Sorted(maps.Keys(p.Duration)) {
		if err := validTiers(p.Duration[arch]); err != nil {
			return fmt.Errorf("duration %s: %w", arch, err)
		}
	}
	return nil
}

func validTiers(tiers []Tier) error {
	if len(tiers) == 0 {
		return errors.New("no tiers")
	}
	prev := 0.0
	for i, t := range tiers {
		if t.USDPerGBSecond < 0 {
			return fmt.Errorf("tier %d: price %v is negative", i, t.USDPerGBSecond)
		}
		last := i == len(tiers)-1
		switch {
		case last && t.UpToGBSeconds != 0:
			return fmt.Errorf("tier %d: the last tier must be unbounded (up_to_gb_seconds 0)", i)
		case !last && t.UpToGBSeconds <= prev:
			return fmt.Errorf("tier %d: up_to_gb_seconds %v does not rise above %v", i, t.UpToGBSeconds, prev)
		}
		prev = t.UpToGBSeconds
	}
	return nil
}
