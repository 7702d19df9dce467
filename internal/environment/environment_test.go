package environment

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/testfunc"
)

var update = flag.Bool("update", false, "rewrite golden files")

// syncBuffer collects log lines from the environment's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newEnv starts an environment for the named test function.
func newEnv(t *testing.T, name string, edit func(*Options)) (*Environment, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	opts := Options{
		Function: function.Config{
			Name:     name,
			CodeDir:  testfunc.Build(t, name),
			Timeout:  3 * time.Second,
			MemoryMB: 256,
		},
		Logs: logs,
	}
	if edit != nil {
		edit(&opts)
	}
	e, err := New(opts)
	if err != nil {
		t.Fatalf("new environment: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return e, logs
}

// start begins an invocation; its report arrives on the channel.
func start(e *Environment, req invocation.Request) (invocation.Response, <-chan invocation.Report, error) {
	done := make(chan invocation.Report, 1)
	resp, err := e.Invoke(req, func(r invocation.Report) { done <- r })
	if err != nil {
		return resp, nil, err
	}
	return resp, done, nil
}

// invoke runs one invocation and waits for its report.
func invoke(t *testing.T, e *Environment, payload string) (invocation.Response, invocation.Report) {
	t.Helper()
	req := invocation.Request{ID: invocation.NewRequestID(), Payload: []byte(payload), InvokedARN: e.fn.ARN()}
	resp, done, err := start(e, req)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	select {
	case rep := <-done:
		if rep.RequestID != req.ID {
			t.Fatalf("report for %s, want %s", rep.RequestID, req.ID)
		}
		return resp, rep
	case <-time.After(30 * time.Second):
		t.Fatal("no report within 30 s")
	}
	return resp, invocation.Report{}
}

// errorBody decodes a function error payload.
func errorBody(t *testing.T, resp invocation.Response) invocation.ErrorBody {
	t.Helper()
	if resp.FunctionError != invocation.FunctionErrorUnhandled {
		t.Fatalf("FunctionError = %q, want Unhandled; payload %s", resp.FunctionError, resp.Payload)
	}
	var b invocation.ErrorBody
	if err := json.Unmarshal(resp.Payload, &b); err != nil {
		t.Fatalf("error body %s: %v", resp.Payload, err)
	}
	return b
}

var (
	uuidRE     = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	decimalRE  = regexp.MustCompile(`(Duration|Init Duration): [0-9]+\.[0-9]{2} ms`)
	billedRE   = regexp.MustCompile(`Billed Duration: [0-9]+ ms`)
	memoryRE   = regexp.MustCompile(`Max Memory Used: [0-9]+ MB`)
	goLogTSRE  = regexp.MustCompile(`(?m)^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9:]{8} `)
	stackTrace = regexp.MustCompile(`,"stackTrace":\[.*\]`)
)

// normalize replaces what changes from run to run in log lines.
func normalize(s string) string {
	s = uuidRE.ReplaceAllString(s, "<request-id>")
	s = decimalRE.ReplaceAllString(s, "$1: <ms> ms")
	s = billedRE.ReplaceAllString(s, "Billed Duration: <ms> ms")
	s = memoryRE.ReplaceAllString(s, "Max Memory Used: <mb> MB")
	s = goLogTSRE.ReplaceAllString(s, "<time> ")
	return stackTrace.ReplaceAllString(s, `,"stackTrace":[…]`)
}

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestEchoColdThenWarm(t *testing.T) {
	e, logs := newEnv(t, "echo", nil)
	resp, rep := invoke(t, e, `{"hello":"world"}`)
	if string(resp.Payload) != `{"hello":"world"}` || resp.FunctionError != "" {
		t.Fatalf("response %q (error %q)", resp.Payload, resp.FunctionError)
	}
	if rep.InitDuration <= 0 {
		t.Errorf("cold start without Init Duration: %+v", rep)
	}
	if rep.MaxMemoryUsed <= 0 || rep.MaxMemoryUsed >= 256<<20 {
		t.Errorf("Max Memory Used %d bytes: want a measured figure, not 0 or the configured size", rep.MaxMemoryUsed)
	}
	if rep.BilledDuration != billed(rep.Duration, rep.InitDuration) || rep.BilledDuration%time.Millisecond != 0 {
		t.Errorf("billed %v for duration %v + init %v", rep.BilledDuration, rep.Duration, rep.InitDuration)
	}
	_, rep2 := invoke(t, e, `{}`)
	if rep2.InitDuration != 0 {
		t.Errorf("warm start reports Init Duration %v", rep2.InitDuration)
	}
	golden(t, "echo.log", normalize(logs.String()))
}

func TestLogLinesInOrder(t *testing.T) {
	e, logs := newEnv(t, "logs", nil)
	resp, _ := invoke(t, e, `{}`)
	if string(resp.Payload) != `"ok"` {
		t.Fatalf("response %s", resp.Payload)
	}
	golden(t, "logs.log", normalize(logs.String()))
}

func TestFunctionErrorAndPanic(t *testing.T) {
	e, logs := newEnv(t, "error", nil)
	resp, rep := invoke(t, e, `{}`)
	if b := errorBody(t, resp); b.ErrorType != "errorString" || b.ErrorMessage != "something failed" {
		t.Errorf("error body %s", resp.Payload)
	}
	if rep.Status != invocation.StatusSuccess {
		t.Errorf("a handled function error is no platform failure: status %q", rep.Status)
	}
	golden(t, "error.log", normalize(logs.String()))

	p, plogs := newEnv(t, "panic", nil)
	resp, rep = invoke(t, p, `{}`)
	if b := errorBody(t, resp); b.ErrorMessage != "boom" {
		t.Errorf("panic body %s", resp.Payload)
	}
	if rep.Status != invocation.StatusError || rep.ErrorType != "Runtime.ExitError" {
		t.Errorf("runtime exited after the panic: report %+v", rep)
	}
	golden(t, "panic.log", normalize(plogs.String()))
	// The environment recovers: the next invocation starts a new runtime.
	resp, rep = invoke(t, p, `{}`)
	if b := errorBody(t, resp); b.ErrorMessage != "boom" || rep.InitDuration == 0 {
		t.Errorf("after a crash: body %s, init %v", resp.Payload, rep.InitDuration)
	}
}

func TestTimeout(t *testing.T) {
	e, logs := newEnv(t, "sleep", func(o *Options) { o.Function.Timeout = time.Second })
	start := time.Now()
	resp, rep := invoke(t, e, `{"ms":5000}`)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("timed-out invocation took %v", took)
	}
	b := errorBody(t, resp)
	if b.ErrorType != "Sandbox.Timedout" || !regexp.MustCompile(`^RequestId: \S+ Error: Task timed out after 1\.00 seconds$`).MatchString(b.ErrorMessage) {
		t.Errorf("timeout body %s", resp.Payload)
	}
	if rep.Status != invocation.StatusTimeout || rep.Duration != time.Second {
		t.Errorf("report %+v", rep)
	}
	golden(t, "timeout.log", normalize(logs.String()))
	// The environment was reset: the next invocation works, from a cold start.
	resp, rep = invoke(t, e, `{"ms":1}`)
	if resp.FunctionError != "" || rep.InitDuration == 0 {
		t.Errorf("after timeout: %s, init %v", resp.Payload, rep.InitDuration)
	}
}

func TestRuntimeExit(t *testing.T) {
	e, _ := newEnv(t, "exit", nil)
	resp, rep := invoke(t, e, `{"code":7}`)
	b := errorBody(t, resp)
	if b.ErrorType != "Runtime.ExitError" || !strings.HasSuffix(b.ErrorMessage, "Error: Runtime exited with error: exit status 7") {
		t.Errorf("exit body %s", resp.Payload)
	}
	if rep.Status != invocation.StatusError || rep.ErrorType != "Runtime.ExitError" {
		t.Errorf("report %+v", rep)
	}
	resp, _ = invoke(t, e, `{"signal":"KILL"}`)
	if b := errorBody(t, resp); !strings.HasSuffix(b.ErrorMessage, "Runtime exited with error: signal: killed") {
		t.Errorf("killed body %s", resp.Payload)
	}
}

func TestInitFailures(t *testing.T) {
	t.Run("exit", func(t *testing.T) {
		e, logs := newEnv(t, "failinit", nil)
		for range 2 { // init is retried on the next invocation
			resp, rep := invoke(t, e, `{}`)
			if b := errorBody(t, resp); b.ErrorType != "Runtime.ExitError" || !strings.HasSuffix(b.ErrorMessage, "exit status 2") {
				t.Errorf("body %s", resp.Payload)
			}
			if rep.Status != invocation.StatusError {
				t.Errorf("report %+v", rep)
			}
		}
		if n := strings.Count(logs.String(), "failing init"); n != 2 {
			t.Errorf("init ran %d times, want 2", n)
		}
		golden(t, "failinit.log", normalize(logs.String()))
	})
	t.Run("posted", func(t *testing.T) {
		e, logs := newEnv(t, "initerror", nil)
		resp, _ := invoke(t, e, `{}`)
		if resp.ErrorType != "Runtime.InitTestError" || string(resp.Payload) != `{"errorMessage":"init went wrong","errorType":"InitTestError"}` {
			t.Errorf("init error: type %q body %s", resp.ErrorType, resp.Payload)
		}
		if !strings.Contains(logs.String(), "INIT_REPORT Init Duration: ") || !strings.Contains(logs.String(), "\tPhase: init\tStatus: error\tError Type: Runtime.InitTestError") {
			t.Errorf("logs:\n%s", logs)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		e, logs := newEnv(t, "slowinit", func(o *Options) {
			o.InitTimeout = 300 * time.Millisecond
			o.Function.Env = map[string]string{"SLOW_INIT_MS": "5000"}
		})
		resp, rep := invoke(t, e, `{}`)
		if b := errorBody(t, resp); b.ErrorType != "Sandbox.Timedout" {
			t.Errorf("body %s", resp.Payload)
		}
		if rep.Status != invocation.StatusTimeout {
			t.Errorf("report %+v", rep)
		}
		if !strings.Contains(logs.String(), "\tPhase: init\tStatus: timeout\n") {
			t.Errorf("logs:\n%s", logs)
		}
	})
}

func TestInitDuration(t *testing.T) {
	e, logs := newEnv(t, "slowinit", func(o *Options) { o.Function.Env = map[string]string{"SLOW_INIT_MS": "600"} })
	resp, rep := invoke(t, e, `{"x":1}`)
	if string(resp.Payload) != `{"x":1}` {
		t.Fatalf("response %s", resp.Payload)
	}
	if rep.InitDuration < 600*time.Millisecond || rep.InitDuration > 5*time.Second {
		t.Errorf("Init Duration %v, want ≥ 600ms", rep.InitDuration)
	}
	if rep.Duration >= 600*time.Millisecond {
		t.Errorf("Duration %v counts the init", rep.Duration)
	}
	if !strings.Contains(logs.String(), "init done") {
		t.Errorf("init output missing:\n%s", logs)
	}
}

func TestMemoryIsMeasured(t *testing.T) {
	e, _ := newEnv(t, "memory", nil)
	_, small := invoke(t, e, `{"mb":1}`)
	_, big := invoke(t, e, `{"mb":100}`)
	_, after := invoke(t, e, `{"mb":1}`)
	if big.MaxMemoryUsed < 100<<20 || big.MaxMemoryUsed > 200<<20 {
		t.Errorf("100 MiB allocation: Max Memory Used %d MB", megabytes(big.MaxMemoryUsed))
	}
	if small.MaxMemoryUsed >= big.MaxMemoryUsed {
		t.Errorf("small %d ≥ big %d", small.MaxMemoryUsed, big.MaxMemoryUsed)
	}
	// The peak is reset for each invocation (the Go heap may keep some).
	if after.MaxMemoryUsed >= big.MaxMemoryUsed {
		t.Errorf("peak not reset: after %d MB, big %d MB", megabytes(after.MaxMemoryUsed), megabytes(big.MaxMemoryUsed))
	}
}

func TestVariables(t *testing.T) {
	t.Setenv("EMBER_TEST_CANARY", "leaked")
	e, _ := newEnv(t, "envdump", func(o *Options) {
		o.Function.Name = "envdump-fn"
		o.Function.Handler = "my.handler"
		o.Function.Env = map[string]string{"MY_VAR": "mine", "LANG": "C.UTF-8", "AWS_LAMBDA_FUNCTION_NAME": "spoofed"}
	})
	resp, _ := invoke(t, e, `{}`)
	var vars map[string]string
	if err := json.Unmarshal(resp.Payload, &vars); err != nil {
		t.Fatalf("envdump %s: %v", resp.Payload, err)
	}
	want := map[string]string{
		"_HANDLER":                        "my.handler",
		"AWS_LAMBDA_FUNCTION_NAME":        "envdump-fn",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/envdump-fn",
		"AWS_LAMBDA_RUNTIME_API":          e.RuntimeAPI(),
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_REGION":                      "us-east-1",
		"AWS_DEFAULT_REGION":              "us-east-1",
		"LAMBDA_TASK_ROOT":                e.fn.CodeDir,
		"LAMBDA_RUNTIME_DIR":              "/var/runtime",
		"TZ":                              ":UTC",
		"LANG":                            "C.UTF-8",
		"PATH":                            "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH":                 "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
		"MY_VAR":                          "mine",
		"_cwd":                            e.fn.CodeDir,
	}
	for k, v := range want {
		if vars[k] != v {
			t.Errorf("%s = %q, want %q", k, vars[k], v)
		}
	}
	if !regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$`).MatchString(vars["AWS_LAMBDA_LOG_STREAM_NAME"]) {
		t.Errorf("AWS_LAMBDA_LOG_STREAM_NAME = %q", vars["AWS_LAMBDA_LOG_STREAM_NAME"])
	}
	if _, ok := vars["AWS_EXECUTION_ENV"]; ok {
		t.Errorf("AWS_EXECUTION_ENV set for a provided runtime")
	}
	// Only Lambda's variables, the function's own, and what the runtime
	// itself adds: nothing of ember's own environment.
	allowed := map[string]bool{"AWS_LAMBDA_LOG_STREAM_NAME": true, "_X_AMZN_TRACE_ID": true}
	for k := range vars {
		if _, ok := want[k]; !ok && !allowed[k] {
			t.Errorf("unexpected variable %s=%q", k, vars[k])
		}
	}
}

func TestManagedRuntimeSetsExecutionEnv(t *testing.T) {
	e, _ := newEnv(t, "envdump", func(o *Options) {
		o.Function.Runtime = "python3.12"
		o.BaseEnv = map[string]string{"FROM_IMAGE": "yes", "PATH": "/image/bin", "AWS_LAMBDA_RUNTIME_API": "overridden"}
	})
	resp, _ := invoke(t, e, `{}`)
	var vars map[string]string
	if err := json.Unmarshal(resp.Payload, &vars); err != nil {
		t.Fatal(err)
	}
	if vars["AWS_EXECUTION_ENV"] != "AWS_Lambda_python3.12" {
		t.Errorf("AWS_EXECUTION_ENV = %q", vars["AWS_EXECUTION_ENV"])
	}
	// A passed-through base keeps its own values below the reserved ones.
	if vars["FROM_IMAGE"] != "yes" || vars["PATH"] != "/image/bin" || vars["AWS_LAMBDA_RUNTIME_API"] != e.RuntimeAPI() {
		t.Errorf("base variables: FROM_IMAGE=%q PATH=%q AWS_LAMBDA_RUNTIME_API=%q", vars["FROM_IMAGE"], vars["PATH"], vars["AWS_LAMBDA_RUNTIME_API"])
	}
}

func TestContextReachesRuntime(t *testing.T) {
	e, _ := newEnv(t, "context", nil)
	req := invocation.Request{
		ID:              invocation.NewRequestID(),
		Payload:         []byte(`{}`),
		InvokedARN:      e.fn.QualifiedARN("live"),
		TraceID:         "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
		ClientContext:   `{"custom":{"k":"v"}}`,
		CognitoIdentity: `{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}`,
	}
	before := time.Now()
	resp, done, err := start(e, req)
	if err != nil {
		t.Fatal(err)
	}
	<-done
	var got struct {
		RequestID          string `json:"requestId"`
		InvokedFunctionArn string `json:"invokedFunctionArn"`
		DeadlineMs         int64  `json:"deadlineMs"`
		TraceID            string `json:"traceId"`
		EnvTraceID         string `json:"envTraceId"`
		ClientContext      struct {
			Custom map[string]string `json:"custom"`
		} `json:"clientContext"`
		Identity struct {
			CognitoIdentityID     string
			CognitoIdentityPoolID string
		} `json:"identity"`
	}
	if err := json.Unmarshal(resp.Payload, &got); err != nil {
		t.Fatalf("%s: %v", resp.Payload, err)
	}
	if got.RequestID != req.ID || got.InvokedFunctionArn != "arn:aws:lambda:us-east-1:123456789012:function:context:live" {
		t.Errorf("id %q arn %q", got.RequestID, got.InvokedFunctionArn)
	}
	deadline := before.Add(3 * time.Second).UnixMilli()
	if got.DeadlineMs < deadline-50 || got.DeadlineMs > deadline+1000 {
		t.Errorf("deadline %d, want about %d", got.DeadlineMs, deadline)
	}
	if got.TraceID != req.TraceID || got.EnvTraceID != req.TraceID {
		t.Errorf("trace %q env %q", got.TraceID, got.EnvTraceID)
	}
	if got.ClientContext.Custom["k"] != "v" || got.Identity.CognitoIdentityID != "id-1" || got.Identity.CognitoIdentityPoolID != "pool-1" {
		t.Errorf("client context / identity: %s", resp.Payload)
	}
}

func TestMissingBootstrap(t *testing.T) {
	dir := t.TempDir()
	e, err := New(Options{Function: function.Config{Name: "none", CodeDir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	resp, _ := invoke(t, e, `{}`)
	if b := errorBody(t, resp); b.ErrorType != "Runtime.InvalidEntrypoint" || !strings.Contains(b.ErrorMessage, "Couldn't find valid bootstrap(s)") {
		t.Errorf("body %s", resp.Payload)
	}
}

func TestBusyEnvironmentRefusesSecondInvocation(t *testing.T) {
	e, _ := newEnv(t, "sleep", nil)
	first := make(chan (<-chan invocation.Report), 1)
	go func() {
		_, done, err := start(e, invocation.Request{ID: invocation.NewRequestID(), Payload: []byte(`{"ms":500}`)})
		if err != nil {
			t.Error(err)
		}
		first <- done
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !e.State().InFlight() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if _, _, err := start(e, invocation.Request{ID: invocation.NewRequestID(), Payload: []byte(`{}`)}); err != ErrBusy {
		t.Errorf("second invocation: err %v, want ErrBusy", err)
	}
	if done := <-first; done != nil {
		<-done
	}
}

func TestShutdownKillsProcessGroup(t *testing.T) {
	e, _ := newEnv(t, "raw", func(o *Options) { o.ShutdownGrace = 100 * time.Millisecond })
	resp, _ := invoke(t, e, `{"action":"spawn"}`)
	var got struct{ Child int }
	if err := json.Unmarshal(resp.Payload, &got); err != nil || got.Child == 0 {
		t.Fatalf("spawn: %s %v", resp.Payload, err)
	}
	if !alive(got.Child) {
		t.Fatalf("child %d not running", got.Child)
	}
	began := time.Now()
	if err := e.Close(context.Background()); err != nil {
		t.Errorf("close: %v", err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("shutdown took %v", took)
	}
	deadline := time.Now().Add(2 * time.Second)
	for alive(got.Child) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(got.Child) {
		t.Errorf("child %d survived the shutdown", got.Child)
	}
	if got := e.State(); got != StateGone {
		t.Errorf("state after close: %v, want Gone", got)
	}
	if _, _, err := start(e, invocation.Request{ID: "x"}); err != ErrShutdown {
		t.Errorf("invoke after shutdown: %v", err)
	}
}

// alive reports whether pid runs (and is no zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}
