package runtimes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/environment"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/testenv"
)

// The Node.js client's tests run it as ember runs it without a sandbox:
// the real environment starts node with the installed client, the handler
// files of testdata/nodejs/<case> as the code and OPT_DIR as the layers.

// nodeRuntime finds node for nodejs20.x, or skips the test.
func nodeRuntime(t testing.TB) Runtime {
	t.Helper()
	rt, err := NewRegistry().Lookup("nodejs20.x")
	if err != nil {
		testenv.Missing(t, "no Node.js 20 on this machine, so the Node.js client cannot run: %v", err)
	}
	return rt
}

// nodeFunction is one function on one environment.
type nodeFunction struct {
	env     *environment.Environment
	cfg     function.Config
	logs    *syncLogs
	code    string // LAMBDA_TASK_ROOT
	runtime string // where the client was installed (/var/runtime)
	opt     string // OPT_DIR
}

type nodeOptions struct {
	handler string
	timeout time.Duration
	env     map[string]string
	// layer copies testdata/nodejs/layers/opt into OPT_DIR.
	layer bool
}

// nodeStart creates an environment for the handler files of
// testdata/nodejs/<name>.
func nodeStart(t testing.TB, name string, o nodeOptions) *nodeFunction {
	t.Helper()
	rt := nodeRuntime(t)
	f := &nodeFunction{logs: &syncLogs{}}
	f.runtime = nodeTempDir(t)
	if err := Install(f.runtime); err != nil {
		t.Fatalf("install the clients: %v", err)
	}
	f.code = nodeTempDir(t)
	copyTree(t, filepath.Join("testdata", "nodejs", name), f.code)
	f.opt = nodeTempDir(t)
	if o.layer {
		copyTree(t, filepath.Join("testdata", "nodejs", "layers", "opt"), f.opt)
	}
	if o.handler == "" {
		o.handler = "index.handler"
	}
	if o.timeout == 0 {
		o.timeout = 3 * time.Second
	}
	vars := rt.Env()
	for k, v := range o.env {
		vars[k] = v
	}
	f.cfg = function.Config{
		Name:     "node-" + name,
		Runtime:  rt.Name,
		Handler:  o.handler,
		CodeDir:  f.code,
		Command:  []string{rt.Interpreter, filepath.Join(f.runtime, "nodejs", "bootstrap.mjs"), f.opt},
		Env:      vars,
		MemoryMB: 256,
		Timeout:  o.timeout,
	}
	env, err := environment.New(environment.Options{Function: f.cfg, Logs: f.logs})
	if err != nil {
		t.Fatalf("new environment: %v", err)
	}
	t.Cleanup(func() { env.Close(context.Background()) })
	f.env = env
	f.cfg = f.cfg.WithDefaults()
	return f
}

// nodeTempDir is a temporary directory by the path node sees (no links).
func nodeTempDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// nodeRequest is an invocation of f with payload.
func (f *nodeFunction) request(payload string) invocation.Request {
	return invocation.Request{ID: invocation.NewRequestID(), Payload: []byte(payload), InvokedARN: f.cfg.ARN()}
}

// invoke runs one invocation and waits for its report.
func (f *nodeFunction) invoke(t testing.TB, payload string) (invocation.Response, invocation.Report) {
	t.Helper()
	return f.invokeRequest(t, f.request(payload))
}

func (f *nodeFunction) invokeRequest(t testing.TB, req invocation.Request) (invocation.Response, invocation.Report) {
	t.Helper()
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

// nodeResult decodes a successful response.
func nodeResult(t testing.TB, f *nodeFunction, resp invocation.Response, v any) {
	t.Helper()
	if resp.FunctionError != "" {
		t.Fatalf("function error %s: %s\nlogs:\n%s", resp.ErrorType, resp.Payload, f.logs)
	}
	if err := json.Unmarshal(resp.Payload, v); err != nil {
		t.Fatalf("response %q: %v", resp.Payload, err)
	}
}

// paths writes the directories of this machine as the function sees them.
func (f *nodeFunction) paths(s string) string {
	s = strings.ReplaceAll(s, f.code, "/var/task")
	s = strings.ReplaceAll(s, f.runtime, "/var/runtime")
	return strings.ReplaceAll(s, f.opt, "/opt")
}

var (
	nodeUUID   = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	nodeISO    = regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z`)
	nodeMillis = regexp.MustCompile(`(Duration|Init Duration): [0-9]+\.[0-9]{2} ms`)
	nodeBilled = regexp.MustCompile(`Billed Duration: [0-9]+ ms`)
	nodeMemory = regexp.MustCompile(`Max Memory Used: [0-9]+ MB`)
	nodeStream = regexp.MustCompile(`[0-9]{4}/[0-9]{2}/[0-9]{2}/\[\$LATEST\][0-9a-f]{32}`)
)

// normalizeLogs replaces what changes from run to run, and writes the
// carriage returns that keep a message one log event as \r.
func (f *nodeFunction) normalizeLogs() string {
	s := f.paths(f.logs.String())
	s = nodeUUID.ReplaceAllString(s, "<request-id>")
	s = nodeISO.ReplaceAllString(s, "<time>")
	s = nodeMillis.ReplaceAllString(s, "$1: <ms> ms")
	s = nodeBilled.ReplaceAllString(s, "Billed Duration: <ms> ms")
	s = nodeMemory.ReplaceAllString(s, "Max Memory Used: <mb> MB")
	s = nodeStream.ReplaceAllString(s, "<log-stream>")
	return strings.ReplaceAll(s, "\r", `\r`)
}

// nodeGolden compares got with testdata/nodejs/golden/NAME, or rewrites
// it with -update.
func nodeGolden(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "nodejs", "golden", name)
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

// nodeErrorBody checks that resp is a function error whose JSON has
// Lambda's members in Lambda's order, and returns it with the paths of
// this machine written as the function sees them and the trace cut to the
// lines that do not depend on where and on which Node.js it ran: the
// message lines and the frames of the function's own code.
func nodeErrorBody(t testing.TB, f *nodeFunction, resp invocation.Response) map[string]any {
	t.Helper()
	if resp.FunctionError != invocation.FunctionErrorUnhandled {
		t.Fatalf("FunctionError = %q, want Unhandled; payload %s\nlogs:\n%s", resp.FunctionError, resp.Payload, f.logs)
	}
	if !bytes.HasPrefix(resp.Payload, []byte(`{"errorType":`)) {
		t.Errorf("error body does not start with errorType: %s", resp.Payload)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(f.paths(string(resp.Payload))), &body); err != nil {
		t.Fatalf("error body %s: %v", resp.Payload, err)
	}
	if typ, _ := body["errorType"].(string); resp.ErrorType != typ {
		t.Errorf("Lambda-Runtime-Function-Error-Type %q, body's errorType %q", resp.ErrorType, typ)
	}
	if trace, ok := body["trace"].([]any); ok {
		kept := []any{}
		for _, line := range trace {
			s, _ := line.(string)
			if strings.HasPrefix(strings.TrimSpace(s), "at ") && !strings.Contains(s, "/var/task/") {
				continue
			}
			kept = append(kept, s)
		}
		body["trace"] = kept
	}
	return body
}

// nodeGoldenBody compares an error body with the golden JSON file NAME,
// member by member.
func nodeGoldenBody(t testing.TB, name string, got map[string]any) {
	t.Helper()
	path := filepath.Join("testdata", "nodejs", "golden", name)
	if *update {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(got); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (run with -update to create it)", err)
	}
	var want map[string]any
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("golden file %s: %v", path, err)
	}
	for _, k := range nodeKeys(want, got) {
		if !reflect.DeepEqual(got[k], want[k]) {
			g, _ := json.MarshalIndent(got[k], "", "  ")
			w, _ := json.MarshalIndent(want[k], "", "  ")
			t.Errorf("%s: %s is\n%s\nwant\n%s", name, k, g, w)
		}
	}
}

func nodeKeys(maps ...map[string]any) []string {
	var keys []string
	for _, m := range maps {
		for k := range m {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// The handler shapes of nodejs-handler.md, its examples as files.
func TestNodeHandlerShapes(t *testing.T) {
	// The examples leave the response unread; the server closes the
	// connection, so that nothing is left on the event loop, as with a
	// server that does not keep connections alive.
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer status.Close()
	event := fmt.Sprintf(`{"url":%q}`, status.URL)

	t.Run("async", func(t *testing.T) {
		f := nodeStart(t, "handler-async", nodeOptions{})
		resp, _ := f.invoke(t, `{"key1":"value1"}`)
		var stream string
		nodeResult(t, f, resp, &stream)
		if stream != f.env.LogStream() {
			t.Errorf("returned %q, want the log stream %q", stream, f.env.LogStream())
		}
		// One console.log of three lines is one log event.
		want := "\tINFO\tEVENT: \r{\r  \"key1\": \"value1\"\r}\n"
		if !strings.Contains(f.logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, f.logs)
		}
	})
	t.Run("promise", func(t *testing.T) {
		f := nodeStart(t, "handler-promise", nodeOptions{})
		resp, _ := f.invoke(t, event)
		var code int
		nodeResult(t, f, resp, &code)
		if code != http.StatusAccepted {
			t.Errorf("status %d, want %d", code, http.StatusAccepted)
		}
	})
	t.Run("callback", func(t *testing.T) {
		f := nodeStart(t, "handler-callback", nodeOptions{})
		for range 2 {
			resp, _ := f.invoke(t, event)
			var code int
			nodeResult(t, f, resp, &code)
			if code != http.StatusAccepted {
				t.Errorf("status %d, want %d", code, http.StatusAccepted)
			}
		}
	})
	t.Run("callback error", func(t *testing.T) {
		f := nodeStart(t, "handler-callback", nodeOptions{})
		resp, _ := f.invoke(t, `{"url":"http://127.0.0.1:1/"}`)
		body := nodeErrorBody(t, f, resp)
		if body["errorType"] != "Error" || !strings.Contains(fmt.Sprint(body["errorMessage"]), "ECONNREFUSED") {
			t.Errorf("body %s", resp.Payload)
		}
	})
}

// callbackWaitsForEmptyEventLoop: with its default, the callback's result
// is sent when the event loop is empty, after the pending timer; set
// false, at once, and the timer runs on after the invocation.
func TestNodeCallbackWaitsForEmptyEventLoop(t *testing.T) {
	const timer = 700 * time.Millisecond
	f := nodeStart(t, "handler-nowait", nodeOptions{})

	start := time.Now()
	resp, _ := f.invoke(t, fmt.Sprintf(`{"wait":true,"timerMs":%d}`, timer.Milliseconds()))
	waited := time.Since(start)
	var got map[string]any
	nodeResult(t, f, resp, &got)
	if waited < timer {
		t.Errorf("waiting for the empty event loop took %v, less than the %v timer", waited, timer)
	}
	if strings.Count(f.logs.String(), "Timeout complete.") != 1 {
		t.Errorf("the timer did not run within the invocation:\n%s", f.logs)
	}

	start = time.Now()
	resp, _ = f.invoke(t, fmt.Sprintf(`{"wait":false,"timerMs":%d}`, timer.Milliseconds()))
	answered := time.Since(start)
	nodeResult(t, f, resp, &got)
	if answered >= timer {
		t.Errorf("callbackWaitsForEmptyEventLoop=false answered after %v, not before the %v timer", answered, timer)
	}
	if fmt.Sprint(got) != "map[Buckets:[]]" {
		t.Errorf("result %s", resp.Payload)
	}
	// The pending timer runs later, outside the invocation (nothing freezes
	// a plain process), with the last request id.
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(f.logs.String(), "Timeout complete.") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Count(f.logs.String(), "Timeout complete.") != 2 {
		t.Errorf("the pending timer never ran:\n%s", f.logs)
	}
}

func TestNodeModuleFormats(t *testing.T) {
	cases := []struct {
		name, dir, handler, want string
	}{
		{"mjs with top-level await", "esm-mjs", "index.handler",
			`{"echo":{"n":1},"ext":"mjs","module":"esm","started":"top-level await done","type":"function"}`},
		{"js with type module", "esm-type", "index.handler",
			`{"config":{"loaded":true},"ext":"js","helper":"from lib.js","isESM":true,"module":"esm"}`},
		{"cjs", "cjs", "index.handler", `{"ext":".cjs","isCJS":true,"module":"cjs"}`},
		{"dir/file.function", "nested", "src/app.main", `{"export":"main","file":"src/app.js"}`},
		{"nested export", "nested", "src/app.api.v1.get", `{"export":"api.v1.get","file":"src/app.js"}`},
		// Lambda's order: FILE.js, FILE.mjs, FILE.cjs.
		{"index.js before index.mjs and index.cjs", "order", "index.handler", `"index.js"`},
		{"second.mjs before second.cjs", "order", "second.handler", `"second.mjs"`},
		{"third.cjs", "order", "third.handler", `"third.cjs"`},
		// No lib/root.*: the module name is looked up in NODE_PATH, whose
		// /var/task has root.js, as on Lambda.
		{"module name through NODE_PATH", "nested", "lib/root.main", `{"file":"root.js"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := nodeStart(t, c.dir, nodeOptions{handler: c.handler})
			resp, _ := f.invoke(t, `{"n":1}`)
			var got any
			nodeResult(t, f, resp, &got)
			b, _ := json.Marshal(got)
			if string(b) != c.want {
				t.Errorf("result %s, want %s", b, c.want)
			}
		})
	}
}

func TestNodeContext(t *testing.T) {
	f := nodeStart(t, "context", nodeOptions{handler: "index.fields"})
	req := f.request(`{}`)
	req.InvokedARN = f.cfg.QualifiedARN("live")
	req.TraceID = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
	req.ClientContext = `{"client":{"installation_id":"inst-1","app_title":"app"},"env":{"platform":"android"},"custom":{"k":"v"}}`
	req.CognitoIdentity = `{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}`
	before := time.Now()
	resp, _ := f.invokeRequest(t, req)
	var got struct {
		JSON                           map[string]any
		AwsRequestID                   string
		FunctionName                   string
		FunctionVersion                string
		InvokedFunctionArn             string
		MemoryLimitInMB                any
		MemoryLimitType                string
		LogGroupName                   string
		LogStreamName                  string
		Identity                       any
		ClientContext                  any
		CallbackWaitsForEmptyEventLoop bool
		Methods                        []string
		Remaining                      int64
		Now                            int64
		TraceID                        string
	}
	nodeResult(t, f, resp, &got)
	want := map[string]any{
		"AwsRequestID":       req.ID,
		"FunctionName":       "node-context",
		"FunctionVersion":    "$LATEST",
		"InvokedFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:node-context:live",
		"MemoryLimitInMB":    "256",
		"MemoryLimitType":    "string",
		"LogGroupName":       "/aws/lambda/node-context",
		"LogStreamName":      f.env.LogStream(),
		"TraceID":            req.TraceID,
	}
	gotV := reflect.ValueOf(got)
	for k, v := range want {
		if g := gotV.FieldByName(k).Interface(); !reflect.DeepEqual(g, v) {
			t.Errorf("%s = %#v, want %#v", k, g, v)
		}
	}
	if id, _ := got.Identity.(map[string]any); id["cognitoIdentityId"] != "id-1" || id["cognitoIdentityPoolId"] != "pool-1" {
		t.Errorf("identity %v", got.Identity)
	}
	if fmt.Sprint(got.ClientContext) != "map[client:map[app_title:app installation_id:inst-1] custom:map[k:v] env:map[platform:android]]" {
		t.Errorf("clientContext %v", got.ClientContext)
	}
	if !got.CallbackWaitsForEmptyEventLoop {
		t.Error("callbackWaitsForEmptyEventLoop is false by default")
	}
	if want := []string{"done:function", "succeed:function", "fail:function", "getRemainingTimeInMillis:function"}; !slices.Equal(got.Methods, want) {
		t.Errorf("methods %v, want %v", got.Methods, want)
	}
	// The deadline is the invocation's start (after the init) plus the
	// timeout.
	after := time.Now()
	if end := got.Now + got.Remaining; got.Remaining > 3000 || end < before.Add(3*time.Second).UnixMilli()-20 || end > after.Add(3*time.Second).UnixMilli()+20 {
		t.Errorf("getRemainingTimeInMillis() = %d at %d: deadline %d, not within the invocation's %d–%d plus 3 s",
			got.Remaining, got.Now, end, before.UnixMilli(), after.UnixMilli())
	}
	// The context as JSON.stringify shows it: Lambda's members in Lambda's
	// order, no functions.
	raw := resp.Payload[bytes.Index(resp.Payload, []byte(`"json":`))+len(`"json":`):]
	raw = raw[:bytes.IndexByte(raw, '}')+1]
	wantJSON := fmt.Sprintf(`{"callbackWaitsForEmptyEventLoop":true,"functionVersion":"$LATEST","functionName":"node-context","memoryLimitInMB":"256","logGroupName":"/aws/lambda/node-context","logStreamName":%q,"clientContext":`, f.env.LogStream())
	if !strings.HasPrefix(string(raw), wantJSON) {
		t.Errorf("JSON.stringify(context) begins\n%s\nwant\n%s", raw, wantJSON)
	}

	// Without the optional headers: no identity, no client context, no
	// trace id.
	resp, _ = f.invoke(t, `{}`)
	nodeResult(t, f, resp, &got)
	if got.Identity != "<undefined>" || got.ClientContext != "<undefined>" || got.TraceID != "<undefined>" {
		t.Errorf("without headers: identity %v, clientContext %v, trace %q; payload %s", got.Identity, got.ClientContext, got.TraceID, resp.Payload)
	}
}

func TestNodeContextExample(t *testing.T) {
	// nodejs-context.md's example.
	f := nodeStart(t, "context", nodeOptions{})
	resp, _ := f.invoke(t, `{}`)
	var stream string
	nodeResult(t, f, resp, &stream)
	if stream != f.env.LogStream() {
		t.Errorf("returned %q", stream)
	}
	logs := f.logs.String()
	if !regexp.MustCompile(`\tINFO\tRemaining time:  2[0-9]{3}\n`).MatchString(logs) || !strings.Contains(logs, "\tINFO\tFunction name:  node-context\n") {
		t.Errorf("logs:\n%s", logs)
	}
}

func TestNodeGetRemainingTimeInMillis(t *testing.T) {
	f := nodeStart(t, "context", nodeOptions{handler: "index.remaining"})
	resp, _ := f.invoke(t, `{"ms":300}`)
	var got struct{ Before, After int64 }
	nodeResult(t, f, resp, &got)
	if got.Before > 3000 || got.Before < 2000 {
		t.Errorf("remaining at the start %d ms of a 3 s timeout", got.Before)
	}
	if d := got.Before - got.After; d < 300 || d > 1000 {
		t.Errorf("remaining went from %d to %d across a 300 ms wait", got.Before, got.After)
	}
}

func TestNodeContextMethods(t *testing.T) {
	cases := []struct {
		handler string
		result  string // a successful result, or
		golden  string // an error body's golden file
	}{
		{handler: "succeed", result: `{"via":"succeed"}`},
		{handler: "doneResult", result: `{"via":"done"}`},
		{handler: "fail", golden: "context-fail.json"},
		{handler: "failEmpty", golden: "context-fail-empty.json"},
		{handler: "doneError", golden: "context-done-error.json"},
		{handler: "twice", result: `"first"`},
	}
	for _, c := range cases {
		t.Run(c.handler, func(t *testing.T) {
			// One environment per handler: the handler is read at init.
			f := nodeStart(t, "contextmethods", nodeOptions{handler: "index." + c.handler})
			resp, rep := f.invoke(t, `{}`)
			if rep.Status != invocation.StatusSuccess {
				t.Errorf("report %+v", rep)
			}
			if c.golden != "" {
				nodeGoldenBody(t, c.golden, nodeErrorBody(t, f, resp))
				if !strings.Contains(f.logs.String(), "\tERROR\tInvoke Error \t") {
					t.Errorf("no Invoke Error line:\n%s", f.logs)
				}
				return
			}
			if resp.FunctionError != "" || string(resp.Payload) != c.result {
				t.Errorf("result %s (%s), want %s", resp.Payload, resp.FunctionError, c.result)
			}
		})
	}
	t.Run("twice logs", func(t *testing.T) {
		f := nodeStart(t, "contextmethods", nodeOptions{handler: "index.twice"})
		f.invoke(t, `{}`)
		if !strings.Contains(f.logs.String(), "\tERROR\tInvocation has already been reported as done. Cannot call complete more than once per invocation.\n") {
			t.Errorf("logs:\n%s", f.logs)
		}
	})
	t.Run("succeed does not wait", func(t *testing.T) {
		f := nodeStart(t, "contextmethods", nodeOptions{handler: "index.succeedNoWait"})
		start := time.Now()
		resp, _ := f.invoke(t, `{}`)
		if took := time.Since(start); took >= 300*time.Millisecond || string(resp.Payload) != `"answered before the timer"` {
			t.Errorf("answered %s after %v", resp.Payload, took)
		}
	})
}

func TestNodeErrors(t *testing.T) {
	cases := []struct{ handler, golden string }{
		{"handler", "error-reference.json"}, // nodejs-exceptions.md's example
		{"custom", "error-custom-class.json"},
		{"plainCustom", "error-custom-class-unnamed.json"},
		{"rejectString", "error-reject-string.json"},
		{"rejectObject", "error-reject-object.json"},
		{"callbackString", "error-callback-string.json"},
		{"syncThrow", "error-sync-throw.json"},
		{"circular", "error-unserializable.json"},
	}
	for _, c := range cases {
		t.Run(c.handler, func(t *testing.T) {
			f := nodeStart(t, "errors", nodeOptions{handler: "index." + c.handler})
			resp, rep := f.invoke(t, `{}`)
			nodeGoldenBody(t, c.golden, nodeErrorBody(t, f, resp))
			if rep.Status != invocation.StatusSuccess {
				t.Errorf("a function error is no platform failure: %+v", rep)
			}
			// The environment goes on: a second invocation is warm.
			_, rep = f.invoke(t, `{}`)
			if rep.InitDuration != 0 {
				t.Errorf("the runtime restarted after a function error")
			}
		})
	}
	t.Run("log line", func(t *testing.T) {
		f := nodeStart(t, "errors", nodeOptions{handler: "index.custom"})
		f.invoke(t, `{}`)
		line := regexp.MustCompile(`(?m)^[^\n]*\tERROR\tInvoke Error \t(\{.*\})$`).FindStringSubmatch(f.paths(f.logs.String()))
		if line == nil {
			t.Fatalf("no Invoke Error line:\n%s", f.logs)
		}
		var logged struct {
			ErrorType    string
			ErrorMessage string
			Field        string
			Stack        []string
		}
		if err := json.Unmarshal([]byte(line[1]), &logged); err != nil {
			t.Fatal(err)
		}
		if logged.ErrorType != "ValidationError" || logged.ErrorMessage != "amount must be positive" || logged.Field != "amount" ||
			len(logged.Stack) < 2 || logged.Stack[0] != "ValidationError: amount must be positive" ||
			!strings.Contains(logged.Stack[1], "(/var/task/index.js:") {
			t.Errorf("logged %+v", logged)
		}
	})
}

func TestNodeInitErrors(t *testing.T) {
	cases := []struct{ dir, handler, golden string }{
		{dir: "init-missing-module", golden: "init-cannot-find-module.json"},
		{dir: "init-no-file", golden: "init-no-file.json"},
		{dir: "init-no-handler", golden: "init-handler-undefined.json"},
		{dir: "init-not-function", golden: "init-handler-not-function.json"},
		{dir: "init-syntax", golden: "init-syntax-error.json"},
		{dir: "init-esm-missing", golden: "init-esm-cannot-find-package.json"},
		{dir: "init-throws", golden: "init-throws.json"},
		{dir: "init-rejection", golden: "init-unhandled-rejection.json"},
		{dir: "init-no-handler", handler: "index", golden: "init-malformed-handler.json"},
		{dir: "nested", handler: "../src/app.main", golden: "init-malformed-relative.json"},
	}
	for _, c := range cases {
		t.Run(c.golden, func(t *testing.T) {
			f := nodeStart(t, c.dir, nodeOptions{handler: c.handler})
			resp, rep := f.invoke(t, `{}`)
			body := nodeErrorBody(t, f, resp)
			nodeGoldenBody(t, c.golden, body)
			if rep.Status != invocation.StatusError || rep.InitDuration == 0 {
				t.Errorf("report %+v", rep)
			}
			logs := f.paths(f.logs.String())
			label := "Uncaught Exception"
			if body["errorType"] == "Runtime.UnhandledPromiseRejection" {
				label = "Unhandled Promise Rejection"
			}
			if !strings.Contains(logs, "\tundefined\tERROR\t"+label+" \t{\"errorType\":") {
				t.Errorf("no %s line with request id undefined:\n%s", label, logs)
			}
			if !strings.Contains(logs, "INIT_REPORT Init Duration: ") || !strings.Contains(logs, "\tPhase: init\tStatus: error\tError Type: "+resp.ErrorType) {
				t.Errorf("no INIT_REPORT naming %s:\n%s", resp.ErrorType, logs)
			}
		})
	}
	t.Run("retried", func(t *testing.T) {
		f := nodeStart(t, "init-no-handler", nodeOptions{})
		for range 2 {
			resp, _ := f.invoke(t, `{}`)
			if resp.ErrorType != "Runtime.HandlerNotFound" {
				t.Errorf("error type %q", resp.ErrorType)
			}
		}
	})
}

func TestNodeInitOnce(t *testing.T) {
	f := nodeStart(t, "once", nodeOptions{})
	var initIDs []string
	for i := 1; i <= 3; i++ {
		resp, rep := f.invoke(t, `{}`)
		var got struct {
			Invocations int
			InitID      string
		}
		nodeResult(t, f, resp, &got)
		if got.Invocations != i {
			t.Errorf("invocation %d counted %d", i, got.Invocations)
		}
		initIDs = append(initIDs, got.InitID)
		if (i == 1) != (rep.InitDuration > 0) {
			t.Errorf("invocation %d: Init Duration %v", i, rep.InitDuration)
		}
	}
	if initIDs[0] != initIDs[1] || initIDs[1] != initIDs[2] {
		t.Errorf("module code ran more than once: %v", initIDs)
	}
	logs := f.logs.String()
	if n := strings.Count(logs, "init ran"); n != 1 {
		t.Errorf("init ran %d times", n)
	}
	// Init code runs before the first event is asked for: its line comes
	// before the first START.
	if i, j := strings.Index(logs, "init ran"), strings.Index(logs, "START RequestId"); i < 0 || j < 0 || i > j {
		t.Errorf("init output after START:\n%s", logs)
	}
}

func TestNodeLogging(t *testing.T) {
	f := nodeStart(t, "logging", nodeOptions{})
	resp, _ := f.invoke(t, `{}`)
	if string(resp.Payload) != `"logged"` {
		t.Fatalf("response %s", resp.Payload)
	}
	nodeGolden(t, "logging.log", f.normalizeLogs())
	// The lines carry the invocation's request id, in Lambda's format.
	req := regexp.MustCompile(`(?m)^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z\t` + nodeUUID.String() + `\tWARN\twarn line$`)
	if !req.MatchString(f.logs.String()) {
		t.Errorf("no WARN line in Lambda's format:\n%s", f.logs)
	}
}

func TestNodeTimeout(t *testing.T) {
	f := nodeStart(t, "timeout", nodeOptions{timeout: time.Second})
	resp, rep := f.invoke(t, `{"ms":5000}`)
	if resp.ErrorType != "Sandbox.Timedout" || !strings.HasSuffix(string(resp.Payload), `Error: Task timed out after 1.00 seconds","errorType":"Sandbox.Timedout"}`) {
		t.Errorf("timeout: %s", resp.Payload)
	}
	if rep.Status != invocation.StatusTimeout {
		t.Errorf("report %+v", rep)
	}
	resp, rep = f.invoke(t, `{"ms":1}`)
	var got struct{ Slept int }
	nodeResult(t, f, resp, &got)
	if got.Slept != 1 || rep.InitDuration == 0 {
		t.Errorf("after the timeout: %s, init %v", resp.Payload, rep.InitDuration)
	}
}

// A package of a layer, in OPT_DIR/nodejs/node_modules, resolves from
// CommonJS (through NODE_PATH) and from an ES module (as Lambda's Node.js
// 18+ runtimes search NODE_PATH for imports), with the package's
// "require" and "import" exports respectively.
func TestNodeLayer(t *testing.T) {
	for _, c := range []struct{ dir, handler, want string }{
		{"layer-cjs", "index.handler", `{"greeting":"hello cjs from the layer","format":"commonjs"}`},
		{"layer-esm", "index.handler", `{"greeting":"hello esm from the layer","format":"module"}`},
		{"layer-esm", "index.callback", `{"greeting":"hello callback from the layer","format":"module"}`},
	} {
		t.Run(c.dir+" "+c.handler, func(t *testing.T) {
			f := nodeStart(t, c.dir, nodeOptions{layer: true, handler: c.handler})
			resp, _ := f.invoke(t, `{}`)
			if resp.FunctionError != "" || string(resp.Payload) != c.want {
				t.Errorf("response %s (%s), want %s\nlogs:\n%s", resp.Payload, resp.FunctionError, c.want, f.logs)
			}
		})
	}
	t.Run("without the layer", func(t *testing.T) {
		f := nodeStart(t, "layer-cjs", nodeOptions{})
		resp, _ := f.invoke(t, `{}`)
		body := nodeErrorBody(t, f, resp)
		if body["errorType"] != "Runtime.ImportModuleError" ||
			!strings.HasPrefix(fmt.Sprint(body["errorMessage"]), "Error: Cannot find module 'layerpkg'\nRequire stack:\n- /var/task/index.js\n- /var/runtime/index.mjs") {
			t.Errorf("body %v", body)
		}
	})
}

// An error that escapes the handler fails the invocation and ends the
// runtime, which the next invocation starts again.
func TestNodeCrash(t *testing.T) {
	for _, c := range []struct{ handler, golden, label string }{
		{"uncaught", "crash-uncaught-exception.json", "Uncaught Exception"},
		{"unhandled", "crash-unhandled-rejection.json", "Unhandled Promise Rejection"},
	} {
		t.Run(c.handler, func(t *testing.T) {
			f := nodeStart(t, "crash", nodeOptions{handler: "index." + c.handler})
			resp, rep := f.invoke(t, `{}`)
			nodeGoldenBody(t, c.golden, nodeErrorBody(t, f, resp))
			if rep.Status != invocation.StatusError || rep.ErrorType != "Runtime.ExitError" {
				t.Errorf("report %+v", rep)
			}
			if !regexp.MustCompile(`\t` + nodeUUID.String() + `\tERROR\t` + c.label + ` \t\{`).MatchString(f.logs.String()) {
				t.Errorf("no %s line:\n%s", c.label, f.logs)
			}
			_, rep = f.invoke(t, `{}`)
			if rep.InitDuration == 0 {
				t.Errorf("the next invocation did not start the runtime again: %+v", rep)
			}
		})
	}
}

// A handler that reports nothing gives null when the event loop empties.
func TestNodeNoResult(t *testing.T) {
	for _, h := range []string{"handler", "never"} {
		t.Run(h, func(t *testing.T) {
			f := nodeStart(t, "sync", nodeOptions{handler: "index." + h})
			resp, _ := f.invoke(t, `{}`)
			if resp.FunctionError != "" || string(resp.Payload) != "null" {
				t.Errorf("response %s (%s), want null", resp.Payload, resp.FunctionError)
			}
		})
	}
}

// The warm loop keeps one connection to the Runtime API: each invocation
// is one GET and one POST on it.
func TestNodeWarmLoopReusesConnection(t *testing.T) {
	f := nodeStart(t, "conn", nodeOptions{})
	ports := map[string]bool{}
	for range 20 {
		resp, _ := f.invoke(t, `{}`)
		var got []string
		nodeResult(t, f, resp, &got)
		for _, p := range got {
			ports[p] = true
		}
	}
	if len(ports) == 0 || len(ports) > 2 {
		t.Errorf("20 invocations used %d connections to the Runtime API: %v", len(ports), ports)
	}
}

func BenchmarkNodeWarmInvoke(b *testing.B) {
	f := nodeStart(b, "once", nodeOptions{})
	f.invoke(b, `{}`)
	b.ResetTimer()
	for b.Loop() {
		f.invoke(b, `{}`)
	}
}

// The client's HTTP against a Runtime API that answers as a server may:
// large events sent in chunks or with a length and read in many pieces, a
// large header, an answer that closes its connection, and a kept-alive
// connection closed while idle.
func TestNodeRuntimeAPIClientHTTP(t *testing.T) {
	rt := nodeRuntime(t)
	dir := nodeTempDir(t)
	if err := Install(dir); err != nil {
		t.Fatal(err)
	}
	code := nodeTempDir(t)
	copyTree(t, filepath.Join("testdata", "nodejs", "echo"), code)

	big := strings.Repeat("x", 3<<20)
	clientContext := fmt.Sprintf(`{"custom":{"pad":%q}}`, strings.Repeat("c", 3000))
	type answer struct {
		id   string
		body []byte
	}
	answers := make(chan answer, 10)
	var mu sync.Mutex
	served := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served++
		n := served
		mu.Unlock()
		if n > 4 {
			<-r.Context().Done()
			return
		}
		id := fmt.Sprintf("req-%d", n)
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", id)
		h.Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(time.Minute).UnixMilli()))
		h.Set("Lambda-Runtime-Client-Context", clientContext)
		head := fmt.Sprintf(`{"n":%d,"big":"`, n)
		if n%2 == 0 {
			// A length, the event in many reads.
			h.Set("Content-Length", fmt.Sprint(len(head)+len(big)+2))
		}
		w.WriteHeader(http.StatusOK)
		// Odd events: no length and a flush, so the event goes in chunks.
		fmt.Fprint(w, head)
		w.(http.Flusher).Flush()
		fmt.Fprintf(w, `%s"}`, big)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(r.Body); err != nil {
			t.Error(err)
		}
		answers <- answer{r.PathValue("id"), buf.Bytes()}
		switch r.PathValue("id") {
		case "req-1":
			// An answer that closes its connection.
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusAccepted)
		case "req-2":
			// A kept-alive answer, then the connection closes while idle.
			conn, rw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			rw.WriteString("HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n")
			rw.Flush()
			time.Sleep(20 * time.Millisecond)
			conn.Close()
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	cmd := exec.Command(rt.Interpreter, filepath.Join(dir, "nodejs", "bootstrap.mjs"), nodeTempDir(t))
	cmd.Dir = code
	cmd.Env = []string{
		"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(srv.URL, "http://"),
		"_HANDLER=index.handler",
		"LAMBDA_TASK_ROOT=" + code,
		"NODE_PATH=" + rt.Env()["NODE_PATH"],
	}
	var out syncLogs
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	for i := 1; i <= 4; i++ {
		select {
		case a := <-answers:
			if a.id != fmt.Sprintf("req-%d", i) {
				t.Errorf("answer for %s, want req-%d", a.id, i)
			}
			var got struct {
				Event struct {
					N   int
					Big string
				}
				ClientContext struct{ Custom struct{ Pad string } }
			}
			if err := json.Unmarshal(a.body, &got); err != nil {
				t.Fatalf("answer %d: %v", i, err)
			}
			if got.Event.N != i || got.Event.Big != big || len(got.ClientContext.Custom.Pad) != 3000 {
				t.Errorf("answer %d: n %d, %d bytes of event, %d of client context", i, got.Event.N, len(got.Event.Big), len(got.ClientContext.Custom.Pad))
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no answer %d; output:\n%s", i, out.String())
		}
	}
}
