// Package tune owns power tuning: it invokes a function through ember's
// Lambda API at each of several memory sizes, once cold and a number of
// times warm, reads the figures of each REPORT line, and turns them into
// statistics, a bill per million invocations, a recommendation, a text
// table and an SVG chart.
package tune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/emberfn/ember/internal/billing"
	"github.com/emberfn/ember/internal/client"
)

// Client is the part of ember's Lambda API that tuning uses.
type Client interface {
	GetFunctionConfiguration(ctx context.Context, name, qualifier string) (client.FunctionConfiguration, error)
	UpdateFunctionConfiguration(ctx context.Context, in client.UpdateFunctionConfigurationInput) (client.FunctionConfiguration, error)
	Invoke(ctx context.Context, in client.InvokeInput) (client.InvokeOutput, error)
}

var _ Client = (*client.Client)(nil)

// Memory sizes that Lambda accepts, in MB.
const (
	MinMemoryMB = 128
	MaxMemoryMB = 10240
)

// restoreTimeout bounds the restoring of the function's memory, which
// runs also after the run's context is done.
const restoreTimeout = 10 * time.Second

// Options say what to measure.
type Options struct {
	Function    string
	MemorySizes []int  // MB, measured in this order
	Payload     []byte // the event of every invocation
	Runs        int    // warm invocations at each size, after its cold start
	Prices      billing.Prices
	Progress    func(Step) // told before each invocation; nil: not told
}

// Step is where a run stands, given before each invocation.
type Step struct {
	MemoryMB    int
	Size, Sizes int // which memory size (from 1), of how many
	Run, Runs   int // 0 for the cold start, then the warm runs from 1 to Runs
	Done, Total int // invocations done before this one, and in all
}

// Sample is one invocation.
type Sample struct {
	Latency   time.Duration // from request to response, as the client saw it
	Report    Report        // its REPORT line; zero without one
	HasReport bool
	Failure   string // the error type, e.g. Runtime.OutOfMemory; "" when it succeeded
}

// Result is a tuning run: the function as it was, and the sizes measured
// in full (all of them, unless Run returned an error).
type Result struct {
	Function         string
	OriginalMemoryMB int
	Arch             string // e.g. x86_64, for the bill
	EphemeralMB      int    // the size of /tmp, for the bill
	Prices           billing.Prices
	Runs             int
	Sizes            []Size
	Pick             Recommendation
	Restored         bool // the original memory was set back
}

// LimitsNotEnforced tells whether any invocation ran without a sandbox's
// limits, so that memory gave it neither a limit nor a CPU share.
func (r *Result) LimitsNotEnforced() bool {
	for _, s := range r.Sizes {
		for _, smp := range append([]Sample{s.Cold}, s.Warm...) {
			if smp.Report.LimitsNotEnforced {
				return true
			}
		}
	}
	return false
}

// Run measures o.Function at each of o.MemorySizes: it sets the memory
// (which makes the next invocation a cold start in a new environment),
// invokes the function once cold and o.Runs times warm, and summarizes.
// At the end, and also on an error or when ctx is done, it sets the
// function's memory back to what it was (best effort, within
// restoreTimeout). The result holds what was measured, also with an error,
// and recommends among the sizes measured.
func Run(ctx context.Context, c Client, o Options) (*Result, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	cfg, err := c.GetFunctionConfiguration(ctx, o.Function, "")
	if err != nil {
		return nil, err
	}
	res := &Result{
		Function:         o.Function,
		OriginalMemoryMB: cfg.MemorySize,
		Arch:             "x86_64",
		EphemeralMB:      billing.FreeEphemeralMB,
		Prices:           o.Prices,
		Runs:             o.Runs,
	}
	if len(cfg.Architectures) > 0 {
		res.Arch = cfg.Architectures[0]
	}
	if cfg.EphemeralStorage != nil {
		res.EphemeralMB = cfg.EphemeralStorage.Size
	}
	err = res.measure(ctx, c, o)
	if rerr := restore(ctx, c, o.Function, res.OriginalMemoryMB); rerr != nil {
		err = errors.Join(err, rerr)
	} else {
		res.Restored = true
	}
	res.Pick = Recommend(res.Sizes)
	return res, err
}

func (o Options) check() error {
	if o.Function == "" {
		return errors.New("tune: no function")
	}
	if len(o.MemorySizes) == 0 {
		return errors.New("tune: no memory sizes")
	}
	for _, mb := range o.MemorySizes {
		if mb < MinMemoryMB || mb > MaxMemoryMB {
			return fmt.Errorf("tune: memory %d MB is outside %d–%d MB", mb, MinMemoryMB, MaxMemoryMB)
		}
	}
	if o.Runs < 1 {
		return fmt.Errorf("tune: %d warm runs; at least 1 is needed", o.Runs)
	}
	return nil
}

// measure runs the plan, appending each size to r.Sizes once measured.
func (r *Result) measure(ctx context.Context, c Client, o Options) error {
	total := len(o.MemorySizes) * (1 + o.Runs)
	done := 0
	for i, mb := range o.MemorySizes {
		if _, err := c.UpdateFunctionConfiguration(ctx, client.UpdateFunctionConfigurationInput{
			FunctionName: o.Function, MemorySize: &mb,
		}); err != nil {
			return fmt.Errorf("tune: set memory to %d MB: %w", mb, err)
		}
		var cold Sample
		warm := make([]Sample, 0, o.Runs)
		for run := 0; run <= o.Runs; run++ {
			if o.Progress != nil {
				o.Progress(Step{MemoryMB: mb, Size: i + 1, Sizes: len(o.MemorySizes), Run: run, Runs: o.Runs, Done: done, Total: total})
			}
			s, err := invoke(ctx, c, o.Function, o.Payload)
			if err != nil {
				return fmt.Errorf("tune at %d MB: %w", mb, err)
			}
			done++
			if run == 0 {
				cold = s
			} else {
				warm = append(warm, s)
			}
		}
		r.Sizes = append(r.Sizes, summarize(mb, cold, warm, o.Prices, r.EphemeralMB, r.Arch))
	}
	return nil
}

// restore sets the function's memory back, also when ctx is done.
func restore(ctx context.Context, c Client, name string, mb int) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
	defer cancel()
	if _, err := c.UpdateFunctionConfiguration(ctx, client.UpdateFunctionConfigurationInput{
		FunctionName: name, MemorySize: &mb,
	}); err != nil {
		return fmt.Errorf("tune: restore memory to %d MB: %w", mb, err)
	}
	return nil
}

// invoke invokes the function once, synchronously, with its log tail.
func invoke(ctx context.Context, c Client, name string, payload []byte) (Sample, error) {
	start := time.Now()
	out, err := c.Invoke(ctx, client.InvokeInput{FunctionName: name, Payload: payload, LogTail: true})
	latency := time.Since(start)
	if err != nil {
		return Sample{}, err
	}
	s := Sample{Latency: latency}
	rep, err := LastReport(out.LogResult)
	switch {
	case err == nil:
		s.Report, s.HasReport = rep, true
	case errors.Is(err, errNoReport):
		// A failed init may leave only INIT_REPORT; the failure says why.
		if out.FunctionError == "" {
			return Sample{}, fmt.Errorf("invocation %s: the log tail holds no REPORT line", out.RequestID)
		}
	default:
		return Sample{}, fmt.Errorf("invocation %s: %w", out.RequestID, err)
	}
	s.Failure = failure(out, s.Report)
	return s, nil
}

// failure names what went wrong with an invocation: REPORT's Error Type,
// Sandbox.Timedout for its Status timeout, else the errorType of the
// error payload, else X-Amz-Function-Error; "" when nothing did.
func failure(out client.InvokeOutput, rep Report) string {
	if rep.ErrorType != "" {
		return rep.ErrorType
	}
	if rep.Status == "timeout" {
		return "Sandbox.Timedout"
	}
	if out.FunctionError == "" && (rep.Status == "" || rep.Status == "success") {
		return ""
	}
	var body struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(out.Payload, &body) == nil && body.ErrorType != "" {
		return body.ErrorType
	}
	if out.FunctionError != "" {
		return out.FunctionError
	}
	return "Status: " + rep.Status
}
