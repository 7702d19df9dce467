package tune

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/billing"
	"github.com/emberfn/ember/internal/client"
)

// fakeLambda stands in for ember serve where a real one can't be made to
// fail at will: it answers each invocation with what answer says for the
// memory set, and records every memory it was given and the context of
// each update. The tests of cmd/ember run the real server.
type fakeLambda struct {
	memory  int
	ephem   int
	arch    string
	answer  func(ctx context.Context, memory, n int) (client.InvokeOutput, error) // n counts the invocations since the memory changed
	n       int
	updates []int
	live    []bool // whether each update's context was still live
}

var _ Client = (*fakeLambda)(nil)

func (f *fakeLambda) GetFunctionConfiguration(_ context.Context, name, _ string) (client.FunctionConfiguration, error) {
	cfg := client.FunctionConfiguration{FunctionName: name, MemorySize: f.memory}
	if f.ephem != 0 {
		cfg.EphemeralStorage = &client.EphemeralStorage{Size: f.ephem}
	}
	if f.arch != "" {
		cfg.Architectures = []string{f.arch}
	}
	return cfg, nil
}

func (f *fakeLambda) UpdateFunctionConfiguration(ctx context.Context, in client.UpdateFunctionConfigurationInput) (client.FunctionConfiguration, error) {
	f.updates = append(f.updates, *in.MemorySize)
	f.live = append(f.live, ctx.Err() == nil)
	if err := ctx.Err(); err != nil {
		return client.FunctionConfiguration{}, err
	}
	f.memory, f.n = *in.MemorySize, 0
	return client.FunctionConfiguration{FunctionName: in.FunctionName, MemorySize: f.memory}, nil
}

func (f *fakeLambda) Invoke(ctx context.Context, in client.InvokeInput) (client.InvokeOutput, error) {
	if !in.LogTail {
		return client.InvokeOutput{}, errors.New("invoked without the log tail")
	}
	f.n++
	return f.answer(ctx, f.memory, f.n)
}

// reportTail is a log tail ending in a REPORT line with these figures.
func reportTail(d time.Duration, memory, used int, cold bool, extra string) string {
	line := fmt.Sprintf("REPORT RequestId: r\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t",
		float64(d)/1e6, (d+time.Millisecond-1)/time.Millisecond, memory, used)
	if cold {
		line += "Init Duration: 7.50 ms\t"
	}
	return "START RequestId: r Version: $LATEST\nEND RequestId: r\n" + line + extra + "\n"
}

// cpuBase is 50 ms of one vCPU at memory MB, to REPORT's precision.
func cpuBase(memory int) time.Duration {
	return (50 * time.Millisecond * 1769 / time.Duration(min(memory, 1769))).Round(10 * time.Microsecond)
}

// cpuBound answers as a single-threaded function that needs 50 ms of one
// vCPU would: slower in proportion below 1769 MB, flat above.
func cpuBound(_ context.Context, memory, n int) (client.InvokeOutput, error) {
	d := cpuBase(memory) + time.Duration(n)*10*time.Microsecond // runs differ a little
	return client.InvokeOutput{StatusCode: 200, Payload: []byte(`{}`), LogResult: reportTail(d, memory, 20+n, n == 1, "")}, nil
}

func TestTuneRunMeasuresEachSizeColdAndWarm(t *testing.T) {
	f := &fakeLambda{memory: 256, ephem: 1024, arch: "arm64", answer: cpuBound}
	var steps []Step
	res, err := Run(context.Background(), f, Options{
		Function: "fn", MemorySizes: []int{128, 1769, 3008}, Payload: []byte(`{}`), Runs: 4,
		Prices: billing.Default(), Progress: func(s Step) { steps = append(steps, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{128, 1769, 3008, 256}; !slices.Equal(f.updates, want) {
		t.Errorf("memory set to %v; want %v (the last restoring it)", f.updates, want)
	}
	if !res.Restored || res.OriginalMemoryMB != 256 || res.Arch != "arm64" || res.EphemeralMB != 1024 || len(res.Sizes) != 3 {
		t.Fatalf("result %+v", res)
	}
	if len(steps) != 15 || steps[0] != (Step{MemoryMB: 128, Size: 1, Sizes: 3, Run: 0, Runs: 4, Done: 0, Total: 15}) ||
		steps[14] != (Step{MemoryMB: 3008, Size: 3, Sizes: 3, Run: 4, Runs: 4, Done: 14, Total: 15}) {
		t.Errorf("steps %+v", steps)
	}
	for _, s := range res.Sizes {
		if s.Cold.Report.InitDuration != 7500*time.Microsecond || s.Cold.Latency <= 0 || len(s.Warm) != 4 || s.WarmOK != 4 || s.Failed != 0 {
			t.Errorf("%d MB: %+v", s.MemoryMB, s)
		}
		// Warm runs n = 2…5 took base + 10n µs: p50 of four is the second, p90 the fourth.
		base := cpuBase(s.MemoryMB)
		if s.WarmP50 != base+30*time.Microsecond || s.WarmP90 != base+50*time.Microsecond || s.MaxMemoryUsedMB != 25 {
			t.Errorf("%d MB: p50 %v, p90 %v, max memory %d", s.MemoryMB, s.WarmP50, s.WarmP90, s.MaxMemoryUsedMB)
		}
		want := billing.Default().PerMillion(billing.Invocation{Duration: s.WarmP50, MemoryMB: s.MemoryMB, EphemeralMB: 1024, Arch: "arm64"})
		if s.CostPerMillion != want || want <= 0 {
			t.Errorf("%d MB: cost %v per million; want %v", s.MemoryMB, s.CostPerMillion, want)
		}
	}
	// CPU-bound work costs about the same up to one vCPU, and 128 MB
	// rounds up least; 1769 MB is as fast as 3008 and cheaper.
	if res.Pick != (Recommendation{Cheapest: 0, Fastest: 1, Balanced: 1}) {
		t.Errorf("picks %+v", res.Pick)
	}
}

func TestTuneRunCountsFailuresByType(t *testing.T) {
	f := &fakeLambda{memory: 128, answer: func(_ context.Context, memory, n int) (client.InvokeOutput, error) {
		switch {
		case memory == 128:
			return client.InvokeOutput{StatusCode: 200, FunctionError: "Unhandled",
				Payload:   []byte(`{"errorType":"Runtime.OutOfMemory","errorMessage":"Runtime exited"}`),
				LogResult: reportTail(80*time.Millisecond, memory, 128, n == 1, "Status: error\tError Type: Runtime.OutOfMemory\t")}, nil
		case memory == 256 && n == 3:
			return client.InvokeOutput{StatusCode: 200, FunctionError: "Unhandled",
				Payload:   []byte(`{"errorType":"Sandbox.Timedout"}`),
				LogResult: reportTail(3*time.Second, memory, 100, false, "Status: timeout\t")}, nil
		case memory == 256 && n == 4:
			// An init that fails leaves no REPORT in the tail.
			return client.InvokeOutput{StatusCode: 200, FunctionError: "Unhandled",
				Payload:   []byte(`{"errorType":"Runtime.ExitError"}`),
				LogResult: "INIT_REPORT Init Duration: 3.00 ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError\n"}, nil
		case memory == 256 && n == 5:
			return client.InvokeOutput{StatusCode: 200, FunctionError: "Unhandled", Payload: []byte(`not json`),
				LogResult: reportTail(2*time.Millisecond, memory, 100, false, "Status: error\t")}, nil
		}
		return client.InvokeOutput{StatusCode: 200, LogResult: reportTail(20*time.Millisecond, memory, 150, n == 1, "")}, nil
	}}
	res, err := Run(context.Background(), f, Options{Function: "mem", MemorySizes: []int{128, 256, 512}, Runs: 4, Prices: billing.Default()})
	if err != nil {
		t.Fatal(err)
	}
	oom, mixed, fine := res.Sizes[0], res.Sizes[1], res.Sizes[2]
	if oom.Failed != 5 || !slices.Equal(oom.Failures, []Failure{{"Runtime.OutOfMemory", 5}}) || oom.Measured() || oom.MaxMemoryUsedMB != 128 {
		t.Errorf("128 MB: %+v", oom)
	}
	want := []Failure{{"Runtime.ExitError", 1}, {"Sandbox.Timedout", 1}, {"Unhandled", 1}}
	if mixed.Failed != 3 || !slices.Equal(mixed.Failures, want) || mixed.WarmOK != 1 || mixed.WarmP50 != 20*time.Millisecond {
		t.Errorf("256 MB: %+v; want failures %v", mixed, want)
	}
	if fine.Failed != 0 || fine.WarmOK != 4 {
		t.Errorf("512 MB: %+v", fine)
	}
	// Only a size without failures is recommended.
	if res.Pick != (Recommendation{Cheapest: 2, Fastest: 2, Balanced: 2}) {
		t.Errorf("picks %+v", res.Pick)
	}
	var b strings.Builder
	if err := res.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"5/5 Runtime.OutOfMemory", "3/5 Runtime.ExitError (1), Sandbox.Timedout (1), Unhandled (1)"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, b.String())
		}
	}
}

func TestTuneRunRestoresMemoryOnError(t *testing.T) {
	boom := errors.New("connection reset")
	f := &fakeLambda{memory: 512, answer: func(ctx context.Context, memory, n int) (client.InvokeOutput, error) {
		if memory == 1024 && n == 2 {
			return client.InvokeOutput{}, boom
		}
		return cpuBound(ctx, memory, n)
	}}
	res, err := Run(context.Background(), f, Options{Function: "fn", MemorySizes: []int{256, 1024, 2048}, Runs: 3, Prices: billing.Default()})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "1024 MB") {
		t.Errorf("error %v; want the invocation's, naming 1024 MB", err)
	}
	if want := []int{256, 1024, 512}; !slices.Equal(f.updates, want) || !res.Restored || len(res.Sizes) != 1 {
		t.Errorf("memory set to %v, restored %v, %d sizes kept; want %v, true, 1", f.updates, res.Restored, len(res.Sizes), want)
	}
}

func TestTuneRunRestoresMemoryWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fakeLambda{memory: 128, answer: func(ctx context.Context, memory, n int) (client.InvokeOutput, error) {
		if memory == 512 {
			cancel() // Ctrl-C during an invocation
			return client.InvokeOutput{}, ctx.Err()
		}
		return cpuBound(ctx, memory, n)
	}}
	res, err := Run(ctx, f, Options{Function: "fn", MemorySizes: []int{256, 512, 1024}, Runs: 2, Prices: billing.Default()})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v; want context.Canceled", err)
	}
	if want := []int{256, 512, 128}; !slices.Equal(f.updates, want) || !f.live[2] || !res.Restored {
		t.Errorf("memory set to %v (contexts live %v), restored %v; want %v with a live context for the restore", f.updates, f.live, res.Restored, want)
	}
}

func TestTuneRunReportsAFailedRestore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakeLambda{memory: 128, answer: cpuBound}
	res, err := Run(ctx, f, Options{Function: "fn", MemorySizes: []int{256}, Runs: 1, Prices: billing.Default(),
		Progress: func(Step) {}})
	if err != nil || !res.Restored {
		t.Fatalf("%v, restored %v", err, res.Restored)
	}
	cancel()
	// An API that refuses the restore: its error is returned with the run's.
	g := &refusingRestore{fakeLambda{memory: 128, answer: cpuBound}}
	res, err = Run(context.Background(), g, Options{Function: "fn", MemorySizes: []int{256}, Runs: 1, Prices: billing.Default()})
	if err == nil || !strings.Contains(err.Error(), "restore memory to 128 MB") || res.Restored {
		t.Errorf("error %v, restored %v; want the restore's error", err, res.Restored)
	}
}

// refusingRestore accepts the first memory update and refuses the rest.
type refusingRestore struct{ fakeLambda }

func (r *refusingRestore) UpdateFunctionConfiguration(ctx context.Context, in client.UpdateFunctionConfigurationInput) (client.FunctionConfiguration, error) {
	if len(r.updates) > 0 {
		return client.FunctionConfiguration{}, errors.New("ServiceException")
	}
	return r.fakeLambda.UpdateFunctionConfiguration(ctx, in)
}

func TestTuneRunChecksOptions(t *testing.T) {
	f := &fakeLambda{memory: 128, answer: cpuBound}
	for _, o := range []Options{
		{MemorySizes: []int{128}, Runs: 1},
		{Function: "fn", Runs: 1},
		{Function: "fn", MemorySizes: []int{64}, Runs: 1},
		{Function: "fn", MemorySizes: []int{10241}, Runs: 1},
		{Function: "fn", MemorySizes: []int{128}, Runs: 0},
	} {
		if _, err := Run(context.Background(), f, o); err == nil {
			t.Errorf("Run(%+v) succeeded", o)
		}
	}
	if len(f.updates) != 0 {
		t.Errorf("bad options changed the memory: %v", f.updates)
	}
}

func TestTuneRunNeedsAReport(t *testing.T) {
	f := &fakeLambda{memory: 128, answer: func(context.Context, int, int) (client.InvokeOutput, error) {
		return client.InvokeOutput{StatusCode: 200, RequestID: "r1", LogResult: "START RequestId: r1\n"}, nil
	}}
	_, err := Run(context.Background(), f, Options{Function: "fn", MemorySizes: []int{128}, Runs: 1, Prices: billing.Default()})
	if err == nil || !strings.Contains(err.Error(), "no REPORT line") {
		t.Errorf("a successful invocation without REPORT: %v", err)
	}
}
