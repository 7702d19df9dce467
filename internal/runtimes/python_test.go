package runtimes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/environment"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/testenv"
)

// The Python client's tests run real functions from testdata/python in real
// execution environments (plain processes), once for every Python runtime
// this machine has an interpreter for.

// pyEach runs test once for every Python runtime with an interpreter here:
// in the registry's directories, and first in those listed in
// EMBER_TEST_PYTHON_DIRS (a PATH-style list), for machines that keep other
// Python versions elsewhere.
func pyEach(t *testing.T, test func(t *testing.T, rt Runtime)) {
	t.Helper()
	reg := NewRegistry()
	if dirs := os.Getenv("EMBER_TEST_PYTHON_DIRS"); dirs != "" {
		reg.Dirs = append(filepath.SplitList(dirs), reg.Dirs...)
	}
	var found []Runtime
	for _, rt := range reg.List() {
		if rt.Family == Python && !rt.Deprecated && rt.Interpreter != "" {
			found = append(found, rt)
		}
	}
	if len(found) == 0 {
		_, err := reg.Lookup("python3.11")
		testenv.Missing(t, "no Python interpreter for the Python client's tests: %v", err)
	}
	for _, rt := range found {
		t.Run(rt.Name, func(t *testing.T) { test(t, rt) })
	}
}

// pyMinor is the minor version of a Python runtime: 11 for python3.11.
func pyMinor(rt Runtime) int {
	var major, minor int
	fmt.Sscanf(rt.Version, "%d.%d", &major, &minor)
	return minor
}

// pyOptions shape one test function.
type pyOptions struct {
	handler string
	timeout time.Duration
	env     map[string]string
	// opt is a directory of testdata/python copied to the layers' directory.
	opt string
	// sitePackages is a directory of testdata/python copied to the layers'
	// python/lib/pythonX.Y/site-packages.
	sitePackages string
}

// pyFunction is a test function in its execution environment.
type pyFunction struct {
	env        *environment.Environment
	cfg        function.Config
	logs       *syncLogs
	codeDir    string // what the function sees as /var/task
	optDir     string // what it sees as /opt
	runtimeDir string // what it sees as /var/runtime
}

// pyStart starts an environment for the function in testdata/python/code.
func pyStart(t *testing.T, rt Runtime, code string, o pyOptions) *pyFunction {
	t.Helper()
	f := &pyFunction{
		logs:       &syncLogs{},
		codeDir:    filepath.Join(t.TempDir(), "task"),
		optDir:     filepath.Join(t.TempDir(), "opt"),
		runtimeDir: filepath.Join(t.TempDir(), "runtime"),
	}
	copyTree(t, filepath.Join("testdata", "python", code), f.codeDir)
	if err := os.MkdirAll(f.optDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if o.opt != "" {
		copyTree(t, filepath.Join("testdata", "python", o.opt), f.optDir)
	}
	if o.sitePackages != "" {
		copyTree(t, filepath.Join("testdata", "python", o.sitePackages),
			filepath.Join(f.optDir, "python", "lib", "python"+rt.Version, "site-packages"))
	}
	if err := Install(f.runtimeDir); err != nil {
		t.Fatalf("install the clients: %v", err)
	}
	if o.handler == "" {
		o.handler = "app.handler"
	}
	if o.timeout == 0 {
		o.timeout = 3 * time.Second
	}
	f.cfg = function.Config{
		Name:     "py-" + strings.ReplaceAll(code, "/", "-"),
		Runtime:  rt.Name,
		Handler:  o.handler,
		CodeDir:  f.codeDir,
		Command:  []string{rt.Interpreter, filepath.Join(f.runtimeDir, "python", "bootstrap.py"), f.optDir},
		MemoryMB: 256,
		Timeout:  o.timeout,
		Env:      o.env,
	}.WithDefaults()
	env, err := environment.New(environment.Options{Function: f.cfg, Logs: f.logs})
	if err != nil {
		t.Fatalf("new environment: %v", err)
	}
	t.Cleanup(func() { env.Close(context.Background()) })
	f.env = env
	return f
}

// invoke runs req and waits for its report.
func (f *pyFunction) invoke(t *testing.T, req invocation.Request) (invocation.Response, invocation.Report) {
	t.Helper()
	if req.ID == "" {
		req.ID = invocation.NewRequestID()
	}
	if req.InvokedARN == "" {
		req.InvokedARN = f.cfg.ARN()
	}
	done := make(chan invocation.Report, 1)
	resp, err := f.env.Invoke(req, func(r invocation.Report) { done <- r })
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
		t.Fatalf("no report within 30 s; logs:\n%s", f.logs)
	}
	return resp, invocation.Report{}
}

// call invokes with payload.
func (f *pyFunction) call(t *testing.T, payload string) (invocation.Response, invocation.Report) {
	t.Helper()
	return f.invoke(t, invocation.Request{Payload: []byte(payload)})
}

// callOK invokes with payload and fails on a function error.
func (f *pyFunction) callOK(t *testing.T, payload string) []byte {
	t.Helper()
	resp, _ := f.call(t, payload)
	if resp.FunctionError != "" {
		t.Fatalf("function error %s: %s\nlogs:\n%s", resp.ErrorType, resp.Payload, f.logs)
	}
	return resp.Payload
}

var (
	pyUUID      = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	pyTimestamp = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z`)
	pyDuration  = regexp.MustCompile(`(Duration|Init Duration): [0-9]+\.[0-9]{2} ms`)
	pyBilled    = regexp.MustCompile(`Billed Duration: [0-9]+ ms`)
	pyMemory    = regexp.MustCompile(`Max Memory Used: [0-9]+ MB`)
)

// normalize replaces what changes from run to run: this machine's paths
// become the ones the function sees on Lambda, and ids, times and figures
// become placeholders.
func (f *pyFunction) normalize(s string) string {
	s = strings.ReplaceAll(s, f.codeDir, "/var/task")
	s = strings.ReplaceAll(s, f.optDir, "/opt")
	s = strings.ReplaceAll(s, f.runtimeDir, "/var/runtime")
	s = pyUUID.ReplaceAllString(s, "<request-id>")
	s = pyTimestamp.ReplaceAllString(s, "<timestamp>")
	s = pyDuration.ReplaceAllString(s, "$1: <ms> ms")
	s = pyBilled.ReplaceAllString(s, "Billed Duration: <ms> ms")
	return pyMemory.ReplaceAllString(s, "Max Memory Used: <mb> MB")
}

// pyGolden compares got with testdata/python/golden/name, or rewrites the
// file with -update. JSON is compared field by field, then byte for byte,
// for Lambda's spacing and member order.
func pyGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "python", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (run with -update to create it)", err)
	}
	want := string(b)
	if strings.HasSuffix(name, ".json") {
		var g, w map[string]any
		if err := json.Unmarshal([]byte(got), &g); err != nil {
			t.Fatalf("%s: got no JSON object: %v\n%s", name, err, got)
		}
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for k, wv := range w {
			if gv, ok := g[k]; !ok {
				t.Errorf("%s: %s missing", name, k)
			} else if !reflect.DeepEqual(gv, wv) {
				t.Errorf("%s: %s = %#v, want %#v", name, k, gv, wv)
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				t.Errorf("%s: unexpected member %s = %#v", name, k, g[k])
			}
		}
	}
	if got != want {
		t.Errorf("%s differs:\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

// pyErrorBody is the error body of Lambda's Python runtime.
type pyErrorBody struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	RequestID    *string  `json:"requestId"`
	StackTrace   []string `json:"stackTrace"`
}

func pyDecodeError(t *testing.T, resp invocation.Response) pyErrorBody {
	t.Helper()
	if resp.FunctionError != invocation.FunctionErrorUnhandled {
		t.Fatalf("FunctionError = %q, want Unhandled; payload %s", resp.FunctionError, resp.Payload)
	}
	var b pyErrorBody
	if err := json.Unmarshal(resp.Payload, &b); err != nil {
		t.Fatalf("error body %s: %v", resp.Payload, err)
	}
	return b
}

func TestPythonInstall(t *testing.T) {
	dir := t.TempDir()
	if err := Install(dir); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "python", "bootstrap.py"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("python", "bootstrap.py"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("installed bootstrap.py differs from the source")
	}
}

// TestPythonHandlerExamples runs the examples of AWS's python-handler and
// python-context pages.
func TestPythonHandlerExamples(t *testing.T) {
	pyEach(t, func(t *testing.T, rt Runtime) {
		t.Run("message", func(t *testing.T) {
			f := pyStart(t, rt, "examples", pyOptions{handler: "message.lambda_handler"})
			got := f.callOK(t, `{"first_name": "John", "last_name": "Smith"}`)
			if string(got) != `{"message": "Hello John Smith!"}` {
				t.Errorf("response %s", got)
			}
		})
		t.Run("region", func(t *testing.T) {
			f := pyStart(t, rt, "examples", pyOptions{handler: "region.lambda_handler"})
			got := f.callOK(t, `{"key1": "value1", "key2": "value2", "key3": "value3"}`)
			want := `{"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{\"Region \": \"us-east-1\"}"}`
			if string(got) != want {
				t.Errorf("response %s\nwant %s", got, want)
			}
		})
		t.Run("calculation", func(t *testing.T) {
			f := pyStart(t, rt, "examples", pyOptions{handler: "calc.lambda_handler"})
			req := invocation.Request{ID: invocation.NewRequestID(), Payload: []byte(`{"action": "increment", "number": 3}`)}
			resp, _ := f.invoke(t, req)
			if string(resp.Payload) != `{"result": 4}` {
				t.Errorf("response %s", resp.Payload)
			}
			if got := f.callOK(t, `{"action": "decrement"}`); string(got) != `{"result": null}` {
				t.Errorf("response %s", got)
			}
			logs := f.logs.String()
			line := regexp.MustCompile(`(?m)^\[INFO\]\t(\S+)\t` + req.ID + `\tCalculated result of 4$`).FindStringSubmatch(logs)
			if line == nil {
				t.Fatalf("no INFO line for the first invocation:\n%s", logs)
			}
			ts, err := time.Parse("2006-01-02T15:04:05.000Z", line[1])
			if err != nil || time.Since(ts).Abs() > time.Minute {
				t.Errorf("timestamp %s: want the UTC time of the log line (%v)", line[1], err)
			}
			if !regexp.MustCompile(`(?m)^\[ERROR\]\t\S+\t` + pyUUID.String() + `\tdecrement is not a valid action\.$`).MatchString(logs) {
				t.Errorf("no ERROR line for the second invocation:\n%s", logs)
			}
		})
		t.Run("context", func(t *testing.T) {
			f := pyStart(t, rt, "examples", pyOptions{handler: "handler.lambda_handler"})
			req := invocation.Request{ID: invocation.NewRequestID(), Payload: []byte(`{}`), InvokedARN: f.cfg.QualifiedARN("live")}
			resp, _ := f.invoke(t, req)
			if string(resp.Payload) != "null" {
				t.Errorf("response %s, want null", resp.Payload)
			}
			logs := f.logs.String()
			for _, want := range []string{
				"\nLambda function ARN: " + f.cfg.ARN() + ":live\n",
				"\nCloudWatch log stream name: " + f.env.LogStream() + "\n",
				"\nCloudWatch log group name: /aws/lambda/" + f.cfg.Name + "\n",
				"\nLambda Request ID: " + req.ID + "\n",
				"\nLambda function memory limits in MB: 256\n",
			} {
				if !strings.Contains(logs, want) {
					t.Errorf("logs lack %q:\n%s", want, logs)
				}
			}
			m := regexp.MustCompile(`\nLambda time remaining in MS: (\d+)\n`).FindStringSubmatch(logs)
			var ms int
			if m != nil {
				fmt.Sscan(m[1], &ms)
			}
			if m == nil || ms <= 0 || ms > 2000 {
				t.Errorf("remaining time after a 1 s sleep of a 3 s timeout: %v\n%s", m, logs)
			}
		})
	})
}

// pyContext is what testdata/python/context returns.
type pyContext struct {
	AWSRequestID        string  `json:"aws_request_id"`
	FunctionName        string  `json:"function_name"`
	FunctionVersion     string  `json:"function_version"`
	InvokedFunctionArn  string  `json:"invoked_function_arn"`
	MemoryLimitInMB     any     `json:"memory_limit_in_mb"`
	MemoryLimitInMBType string  `json:"memory_limit_in_mb_type"`
	LogGroupName        string  `json:"log_group_name"`
	LogStreamName       string  `json:"log_stream_name"`
	Identity            any     `json:"identity"`
	ClientContext       any     `json:"client_context"`
	TenantID            *string `json:"tenant_id"`
	Remaining           []int64 `json:"remaining"`
	TraceID             *string `json:"trace_id"`
	ContextType         string  `json:"context_type"`
}

func TestPythonContext(t *testing.T) {
	pyEach(t, func(t *testing.T, rt Runtime) {
		f := pyStart(t, rt, "context", pyOptions{})
		const clientContext = `{"client":{"installation_id":"inst-1","app_title":"Title","app_version_name":"1.0","app_version_code":"100","app_package_name":"com.example.app"},"custom":{"k":"v"},"env":{"platform":"Android","locale":"en_US"}}`
		req := invocation.Request{
			ID:              invocation.NewRequestID(),
			Payload:         []byte(`{}`),
			InvokedARN:      f.cfg.QualifiedARN("live"),
			TraceID:         "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
			ClientContext:   clientContext,
			CognitoIdentity: `{"cognitoIdentityId":"us-east-1:id-1","cognitoIdentityPoolId":"us-east-1:pool-1"}`,
			TenantID:        "tenant-7",
		}
		resp, _ := f.invoke(t, req)
		var got pyContext
		if err := json.Unmarshal(resp.Payload, &got); err != nil {
			t.Fatalf("%s: %v", resp.Payload, err)
		}
		want := pyContext{
			AWSRequestID:       req.ID,
			FunctionName:       f.cfg.Name,
			FunctionVersion:    "$LATEST",
			InvokedFunctionArn: f.cfg.ARN() + ":live",
			// A string, as Lambda's Python runtime gives it.
			MemoryLimitInMB:     "256",
			MemoryLimitInMBType: "str",
			LogGroupName:        "/aws/lambda/" + f.cfg.Name,
			LogStreamName:       f.env.LogStream(),
			Identity:            map[string]any{"cognito_identity_id": "us-east-1:id-1", "cognito_identity_pool_id": "us-east-1:pool-1"},
			ClientContext: map[string]any{
				"client": map[string]any{"installation_id": "inst-1", "app_title": "Title", "app_version_name": "1.0",
					"app_version_code": "100", "app_package_name": "com.example.app"},
				"custom": map[string]any{"k": "v"},
				"env":    map[string]any{"platform": "Android", "locale": "en_US"},
			},
			TenantID:    &req.TenantID,
			Remaining:   got.Remaining,
			TraceID:     &req.TraceID,
			ContextType: "LambdaContext",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("context:\n got %+v\nwant %+v", got, want)
		}
		if len(got.Remaining) != 2 || got.Remaining[0] > 3000 || got.Remaining[0] < 2000 ||
			got.Remaining[0]-got.Remaining[1] < 50 || got.Remaining[1] <= 0 {
			t.Errorf("remaining %v: want below the 3 s timeout and 50 ms less after a 50 ms sleep", got.Remaining)
		}

		// Without the optional headers: no trace id, no client context, an
		// identity without values.
		resp, _ = f.call(t, `{}`)
		got = pyContext{}
		if err := json.Unmarshal(resp.Payload, &got); err != nil {
			t.Fatalf("%s: %v", resp.Payload, err)
		}
		if got.TraceID != nil || got.ClientContext != nil || got.TenantID != nil ||
			!reflect.DeepEqual(got.Identity, map[string]any{"cognito_identity_id": nil, "cognito_identity_pool_id": nil}) {
			t.Errorf("without the optional headers: %s", resp.Payload)
		}
		if got.InvokedFunctionArn != f.cfg.ARN() {
			t.Errorf("invoked_function_arn %q, want %q", got.InvokedFunctionArn, f.cfg.ARN())
		}

		// A client context without a client.
		resp, _ = f.invoke(t, invocation.Request{Payload: []byte(`{}`), ClientContext: `{"custom":{"a":"b"}}`})
		got = pyContext{}
		if err := json.Unmarshal(resp.Payload, &got); err != nil {
			t.Fatalf("%s: %v", resp.Payload, err)
		}
		if !reflect.DeepEqual(got.ClientContext, map[string]any{"client": nil, "custom": map[string]any{"a": "b"}, "env": nil}) {
			t.Errorf("client context %#v", got.ClientContext)
		}
	})
}

func TestPythonFunctionErrors(t *testing.T) {
	pyEach(t, func(t *testing.T, rt Runtime) {
		f := pyStart(t, rt, "errors", pyOptions{})
		for _, c := range []struct{ name, payload, errorType string }{
			{"exception", `{"case": "exception"}`, "Exception"},
			{"custom", `{"case": "custom", "order": 42}`, "OrderError"},
			{"marshal", `{"case": "marshal"}`, "Runtime.MarshalError"},
		} {
			req := invocation.Request{ID: invocation.NewRequestID(), Payload: []byte(c.payload)}
			resp, rep := f.invoke(t, req)
			b := pyDecodeError(t, resp)
			if resp.ErrorType != c.errorType || b.RequestID == nil || *b.RequestID != req.ID {
				t.Errorf("%s: type %q, body %s", c.name, resp.ErrorType, resp.Payload)
			}
			if rep.Status != invocation.StatusSuccess {
				t.Errorf("%s: a function error is no platform failure: status %q", c.name, rep.Status)
			}
			pyGolden(t, "error_"+c.name+".json", f.normalize(string(resp.Payload)))
			if c.name == "exception" {
				pyGolden(t, "error_exception.log", f.normalize(f.logs.String()))
			}
		}

		// The example of AWS's python-exceptions page.
		resp, _ := f.call(t, `{"case": "keyerror", "number": 3}`)
		b := pyDecodeError(t, resp)
		if b.ErrorMessage != "'action'" || b.ErrorType != "KeyError" || len(b.StackTrace) != 1 ||
			!strings.HasPrefix(f.normalize(b.StackTrace[0]),
				"  File \"/var/task/app.py\", line 13, in handler\n    return ACTIONS[event['action']](event['number'])\n") {
			t.Errorf("KeyError body %s", resp.Payload)
		}

		// Non-ASCII text in the message: escaped before Python 3.12, as is
		// from 3.12 on, as Lambda's runtimes write it.
		resp, _ = f.call(t, `{"case": "unicode"}`)
		want := `"errorMessage": "caf\u00e9 \u2615"`
		if pyMinor(rt) >= 12 {
			want = `"errorMessage": "café ☕"`
		}
		if b := pyDecodeError(t, resp); b.ErrorMessage != "café ☕" || !bytes.Contains(resp.Payload, []byte(want)) {
			t.Errorf("unicode body %s, want %s", resp.Payload, want)
		}

		// A payload that is no JSON.
		resp, _ = f.call(t, `{"case": `)
		b = pyDecodeError(t, resp)
		if b.ErrorType != "Runtime.UnmarshalError" || !strings.HasPrefix(b.ErrorMessage, "Unable to unmarshal input: Expecting value: line 1 column 10") {
			t.Errorf("unmarshal body %s", resp.Payload)
		}

		// The runtime goes on after errors.
		if got := f.callOK(t, `{"case": "fine"}`); string(got) != `{"case": "fine"}` {
			t.Errorf("after the errors: %s", got)
		}
	})
}

func TestPythonInitErrors(t *testing.T) {
	pyEach(t, func(t *testing.T, rt Runtime) {
		for _, c := range []struct{ name, handler, errorType, message string }{
			{"import", "missing.handler", "Runtime.ImportModuleError", "Unable to import module 'missing': No module named 'missing'"},
			{"nested_import", "nested.handler", "Runtime.ImportModuleError", "Unable to import module 'nested': No module named 'not_installed_anywhere'"},
			{"handler_not_found", "notfound.handler", "Runtime.HandlerNotFound", "Handler 'handler' missing on module 'notfound'"},
			{"syntax", "syntax.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'syntax': invalid syntax (syntax.py, line 2)"},
			{"malformed", "app", "Runtime.MalformedHandlerName", "Bad handler 'app': not enough values to unpack (expected 2, got 1)"},
			{"builtin", "sys.handler", "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module"},
		} {
			t.Run(c.name, func(t *testing.T) {
				f := pyStart(t, rt, "initerrors", pyOptions{handler: c.handler})
				for i := range 2 { // init runs again on the next invocation
					resp, rep := f.call(t, `{}`)
					b := pyDecodeError(t, resp)
					if resp.ErrorType != c.errorType || b.ErrorType != c.errorType || b.ErrorMessage != c.message {
						t.Errorf("invocation %d: type %q, body %s", i, resp.ErrorType, resp.Payload)
					}
					if rep.Status != invocation.StatusError || rep.ErrorType != c.errorType || rep.InitDuration <= 0 {
						t.Errorf("invocation %d: report %+v", i, rep)
					}
					pyGolden(t, "init_"+c.name+".json", f.normalize(string(resp.Payload)))
				}
				logs := f.logs.String()
				line := "[ERROR] " + c.errorType + ": " + c.message + "\nTraceback (most recent call last):\n"
				if n := strings.Count(logs, line); n != 2 {
					t.Errorf("%d error lines %q, want 2:\n%s", n, line, logs)
				}
				if n := strings.Count(logs, "\tPhase: init\tStatus: error\tError Type: "+c.errorType+"\n"); n != 2 {
					t.Errorf("%d INIT_REPORT lines, want 2:\n%s", n, logs)
				}
				if c.name == "import" {
					pyGolden(t, "init_import.log", f.normalize(logs))
				}
			})
		}

		// An exception of the module's own code: its type, its message,
		// its stack from the import on, and no request id.
		t.Run("module_raises", func(t *testing.T) {
			f := pyStart(t, rt, "initerrors", pyOptions{handler: "raises.handler"})
			resp, rep := f.call(t, `{}`)
			b := pyDecodeError(t, resp)
			if resp.ErrorType != "KeyError" || b.ErrorType != "KeyError" || b.ErrorMessage != "'table'" ||
				b.RequestID == nil || *b.RequestID != "" || rep.Status != invocation.StatusError {
				t.Fatalf("type %q body %s report %+v", resp.ErrorType, resp.Payload, rep)
			}
			n := len(b.StackTrace)
			if n < 3 {
				t.Fatalf("stack trace %q", b.StackTrace)
			}
			if !regexp.MustCompile(`^  File "[^"]*/importlib/__init__\.py", line \d+, in import_module\n`).MatchString(b.StackTrace[0]) {
				t.Errorf("the stack starts at %q, want importlib.import_module", b.StackTrace[0])
			}
			last := []string{
				"  File \"/var/task/raises.py\", line 8, in <module>\n    TABLE = load()\n",
				"  File \"/var/task/raises.py\", line 5, in load\n    return CONFIG[\"table\"]\n",
			}
			for i, want := range last {
				if got := f.normalize(b.StackTrace[n-2+i]); !strings.HasPrefix(got, want) {
					t.Errorf("frame %d: %q, want %q", n-2+i, got, want)
				}
			}
			for _, frame := range b.StackTrace {
				if strings.Contains(frame, "bootstrap.py") {
					t.Errorf("the client's own frame in the stack: %q", frame)
				}
			}
			if !strings.Contains(f.logs.String(), "[ERROR] KeyError: 'table'\nTraceback (most recent call last):\n  File ") {
				t.Errorf("logs:\n%s", f.logs)
			}
		})
	})
}

func TestPythonInitRunsOnce(t *testing.T) {
	pyEach(t, func(t *testing.T, rt Runtime) {
		f := pyStart(t, rt, "initcount", pyOptions{})
		var pid float64
		for i := 1; i <= 3; i++ {
			resp, rep := f.call(t, `{}`)
			var got struct{ Inits, Invocations, Pid float64 }
			if err := json.Unmarshal(resp.Payload, &got); err != nil {
				t.Fatalf("%s: %v", resp.Payload, err)
			}
			if got.Inits != 1 || got.Invocations != float64(i) || (pid != 0 && got.Pid != pid) {
				t.Errorf("invocation %d: %s", i, resp.Payload)
			}
			pid = got.Pid
			if i == 1 {
				// The module's code runs in the init phase, before the
				// runtime asks for its first event.
				if rep.InitDuration < 300*time.Millisecond || rep.Duration >= 300*time.Millisecond {
					t.Errorf("cold start: init %v, duration %v; want the module's 300 ms sleep in the init", rep.InitDuration, rep.Duration)
				}
			} else if rep.InitDuration != 0 {
				t.Errorf("warm invocation %d reports init %v", i, rep.InitDuration)
			}
		}
		logs := f.logs.String()
		loaded := strings.Index(logs, "init: module loaded")
		if strings.Count(logs, "init: module loaded") != 1 || loaded > strings.Index(logs, "START RequestId:") {
			t.Errorf("module code ran other than once before the first START:\n%s", logs)
		}
		// Logged in the init phase: no request id yet.
		if !regexp.MustCompile(`(?m)^\[WARNING\]\t` + pyTimestamp.String() + `\t\tinit warning$`).MatchString(logs) {
			t.Errorf("init warning:\n%s", logs)
		}
	})
}

func TestPythonLogs(t *testing.T) {
	pyEach(t, func(t *testing.T, rt Runtime) {
		f := pyStart(t, rt, "logs", pyOptions{})
		if got := f.callOK(t, `{}`); string(got) != `"ok"` {
			t.Errorf("response %s", got)
		}
		pyGolden(t, "logs.log", f.normalize(f.logs.String()))

		// The root logger's level: Python's default, or the function's
		// AWS_LAMBDA_LOG_LEVEL.
		for _, c := range []struct {
			level string
			shown []string
		}{
			{"", []string{"WARNING", "ERROR"}},
			{"DEBUG", []string{"DEBUG", "INFO", "WARNING", "ERROR"}},
			{"WARN", []string{"WARNING", "ERROR"}},
			{"ERROR", []string{"ERROR"}},
		} {
			var env map[string]string
			if c.level != "" {
				env = map[string]string{"AWS_LAMBDA_LOG_LEVEL": c.level}
			}
			f := pyStart(t, rt, "logs", pyOptions{handler: "levels.handler", env: env})
			f.callOK(t, `{}`)
			var shown []string
			for _, m := range regexp.MustCompile(`(?m)^\[(\w+)\]\t\S+\t\S+\t(\w+)$`).FindAllStringSubmatch(f.logs.String(), -1) {
				if strings.ToLower(m[1]) != m[2] {
					t.Errorf("level %s: line of %s says %s", c.level, m[1], m[2])
				}
				shown = append(shown, m[1])
			}
			if !reflect.DeepEqual(shown, c.shown) {
				t.Errorf("AWS_LAMBDA_LOG_LEVEL=%q: lines of %v, want %v\n%s", c.level, shown, c.shown, f.logs)
			}
		}
	})
}

func TestPythonTimeout(t *testing.T) {
	pyEach(t, func(t *testing.T, rt Runtime) {
		f := pyStart(t, rt, "timeout", pyOptions{timeout: time.Second})
		var first struct{ Pid, Started float64 }
		if err := json.Unmarshal(f.callOK(t, `{}`), &first); err != nil {
			t.Fatal(err)
		}
		resp, rep := f.call(t, `{"seconds": 5}`)
		b := pyDecodeError(t, resp)
		if b.ErrorType != "Sandbox.Timedout" || !strings.HasSuffix(b.ErrorMessage, "Task timed out after 1.00 seconds") {
			t.Errorf("timeout body %s", resp.Payload)
		}
		if rep.Status != invocation.StatusTimeout {
			t.Errorf("report %+v", rep)
		}
		// The next invocation starts a new runtime, which runs the
		// module's code again.
		resp, rep = f.call(t, `{}`)
		var after struct{ Pid, Started float64 }
		if err := json.Unmarshal(resp.Payload, &after); err != nil {
			t.Fatalf("after the timeout: %s: %v", resp.Payload, err)
		}
		if rep.InitDuration <= 0 || after.Pid == first.Pid || after.Started == first.Started {
			t.Errorf("after the timeout: init %v, pid %v then %v", rep.InitDuration, first.Pid, after.Pid)
		}
	})
}

func TestPythonHandlerPaths(t *testing.T) {
	pyEach(t, func(t *testing.T, rt Runtime) {
		for _, c := range []struct{ handler, want string }{
			{"sub/dir/file.handler", `{"module": "sub.dir.file"}`},
			{"pkg.mod.handler", `{"module": "pkg.mod", "package": "pkg"}`},
		} {
			f := pyStart(t, rt, "layout", pyOptions{handler: c.handler})
			if got := f.callOK(t, `{}`); string(got) != c.want {
				t.Errorf("%s: %s, want %s", c.handler, got, c.want)
			}
		}
	})
}

func TestPythonLayers(t *testing.T) {
	pyEach(t, func(t *testing.T, rt Runtime) {
		f := pyStart(t, rt, "layers/code", pyOptions{opt: "layers/opt", sitePackages: "layers/site-packages"})
		var got struct {
			Layermod, Sitemod, Shadowed, Taskfirst string
			Path                                   []string
		}
		if err := json.Unmarshal(f.callOK(t, `{}`), &got); err != nil {
			t.Fatal(err)
		}
		if got.Layermod != "opt/python" || got.Sitemod != "site-packages" || got.Shadowed != "site-packages" || got.Taskfirst != "task root" {
			t.Errorf("modules from %+v", got)
		}
		wantPath := []string{
			f.codeDir,
			filepath.Join(f.optDir, "python", "lib", "python"+rt.Version, "site-packages"),
			filepath.Join(f.optDir, "python"),
			filepath.Join(f.runtimeDir, "python"),
		}
		if !reflect.DeepEqual(got.Path, wantPath) {
			t.Errorf("sys.path starts %q, want %q", got.Path, wantPath)
		}
	})
}

func TestPythonResults(t *testing.T) {
	pyEach(t, func(t *testing.T, rt Runtime) {
		f := pyStart(t, rt, "results", pyOptions{})
		text := `"caf\u00e9"`
		if pyMinor(rt) >= 12 {
			text = `"café"`
		}
		for _, c := range []struct{ kind, want string }{
			{"none", "null"},
			{"text", text},
			{"decimal", `{"price": 1.50, "count": 5, "nan": NaN}`},
			{"float", `{"nan": NaN, "inf": Infinity, "pi": 3.25}`},
			{"nested", `{"list": [1, "two", null, true], "tuple": [1, 2], "empty": {}}`},
		} {
			resp, _ := f.call(t, `{"kind": "`+c.kind+`"}`)
			if string(resp.Payload) != c.want || resp.ContentType != "application/json" || resp.FunctionError != "" {
				t.Errorf("%s: %s (%s), want %s", c.kind, resp.Payload, resp.ContentType, c.want)
			}
		}
		resp, _ := f.call(t, `{"kind": "bytes"}`)
		if string(resp.Payload) != "\x00raw bytes\xff" || resp.ContentType != "application/unknown" {
			t.Errorf("bytes: %q (%s)", resp.Payload, resp.ContentType)
		}
		// An event of another content type reaches the handler as bytes.
		resp, _ = f.invoke(t, invocation.Request{Payload: []byte("plain text"), ContentType: "text/plain"})
		if string(resp.Payload) != `{"type": "bytes", "event": "plain text"}` {
			t.Errorf("text/plain event: %s", resp.Payload)
		}
	})
}

// TestPythonKeepAlive checks that the client keeps one connection to the
// Runtime API for all its calls.
func TestPythonKeepAlive(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd to list the runtime's sockets")
	}
	pyEach(t, func(t *testing.T, rt Runtime) {
		f := pyStart(t, rt, "results", pyOptions{})
		var first []int
		for i := range 3 {
			var ports []int
			if err := json.Unmarshal(f.callOK(t, `{"kind": "sockets"}`), &ports); err != nil {
				t.Fatal(err)
			}
			if len(ports) != 1 || (i > 0 && !reflect.DeepEqual(ports, first)) {
				t.Errorf("invocation %d: connections from ports %v, first %v", i, ports, first)
			}
			if i == 0 {
				first = ports
			}
		}
	})
}

// BenchmarkPythonWarmInvoke measures one warm invocation: ember, the
// Runtime API and the client, with a handler that returns its event.
func BenchmarkPythonWarmInvoke(b *testing.B) {
	rt, err := NewRegistry().Lookup("python3.11")
	if err != nil {
		b.Skipf("no interpreter: %v", err)
	}
	dir := b.TempDir()
	code := filepath.Join(dir, "task")
	if err := os.MkdirAll(code, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(code, "app.py"), []byte("def handler(event, context):\n    return event\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := Install(dir); err != nil {
		b.Fatal(err)
	}
	cfg := function.Config{
		Name: "py-bench", Runtime: rt.Name, Handler: "app.handler", CodeDir: code, MemoryMB: 256, Timeout: 3 * time.Second,
		Command: []string{rt.Interpreter, filepath.Join(dir, "python", "bootstrap.py"), filepath.Join(dir, "opt")},
	}
	env, err := environment.New(environment.Options{Function: cfg})
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close(context.Background())
	payload := []byte(`{"hello": "world"}`)
	for b.Loop() {
		done := make(chan invocation.Report, 1)
		resp, err := env.Invoke(invocation.Request{ID: invocation.NewRequestID(), Payload: payload}, func(r invocation.Report) { done <- r })
		if err != nil {
			b.Fatal(err)
		}
		<-done
		if !bytes.Equal(resp.Payload, payload) {
			b.Fatalf("response %s", resp.Payload)
		}
	}
}

// TestPythonOversizedResponse checks that a response over Lambda's limit
// fails the invocation and leaves the runtime running.
func TestPythonOversizedResponse(t *testing.T) {
	pyEach(t, func(t *testing.T, rt Runtime) {
		f := pyStart(t, rt, "results", pyOptions{})
		resp, rep := f.call(t, fmt.Sprintf(`{"kind": "large", "size": %d}`, 7<<20))
		if b := pyDecodeError(t, resp); b.ErrorType != "Function.ResponseSizeTooLarge" {
			t.Errorf("body %s", resp.Payload)
		}
		if rep.Status != invocation.StatusError || rep.ErrorType != "Function.ResponseSizeTooLarge" {
			t.Errorf("report %+v", rep)
		}
		resp, rep = f.call(t, `{"kind": "none"}`)
		if string(resp.Payload) != "null" || rep.InitDuration != 0 {
			t.Errorf("after the oversized response: %s, init %v\n%s", resp.Payload, rep.InitDuration, f.logs)
		}
		if strings.Contains(f.logs.String(), "ember python runtime:") {
			t.Errorf("the client failed:\n%s", f.logs)
		}
	})
}
