package runtimeapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/emberfn/ember/internal/invocation"
)

// lambdaMaxResponse is Lambda's limit on a buffered response: 6 MB + 100 B.
const lambdaMaxResponse = 6291556

// testTimeout bounds every wait of a test for something that should happen.
const testTimeout = 5 * time.Second

// testEnv is a Server on a real listener of 127.0.0.1, the HTTP client a
// runtime would use, and the goroutines a test starts. Cleanup closes the
// server and waits for all of them.
type testEnv struct {
	t      *testing.T
	s      *Server
	base   string // http://127.0.0.1:PORT/2018-06-01/runtime
	client *http.Client
	wg     sync.WaitGroup
	// wedged is set when the server holds its lock for good; cleanup
	// then leaves it and its goroutines as they are.
	wedged bool
}

// newTestEnv serves a new Server with Serve on a port of 127.0.0.1.
func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, logs := newLoggedServer()
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	e := newTestClient(t, s, "http://"+l.Addr().String())
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		e.wait()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		checkLogs(t, logs)
	})
	return e
}

// newTestEnvWrapped serves s.Handler(), wrapped by wrap, with httptest.
func newTestEnvWrapped(t *testing.T, wrap func(http.Handler) http.Handler) *testEnv {
	t.Helper()
	s, logs := newLoggedServer()
	srv := httptest.NewServer(wrap(s.Handler()))
	e := newTestClient(t, s, srv.URL)
	t.Cleanup(func() {
		if e.wedged {
			return
		}
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		e.wait()
		srv.Close()
		checkLogs(t, logs)
	})
	return e
}

// newLoggedServer returns a new Server that logs its errors, such as a
// handler's panic, to a buffer for checkLogs.
func newLoggedServer() (*Server, *lockedBuffer) {
	logs := &lockedBuffer{}
	return New(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))), logs
}

func checkLogs(t *testing.T, logs *lockedBuffer) {
	t.Helper()
	if out := logs.String(); out != "" {
		t.Errorf("the server logged errors:\n%s", out)
	}
}

func newTestClient(t *testing.T, s *Server, origin string) *testEnv {
	return &testEnv{
		t:    t,
		s:    s,
		base: origin + "/2018-06-01/runtime",
		client: &http.Client{
			Transport: &http.Transport{},
			// A runtime sees the status the server gives, redirects too.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// wait waits for the goroutines the test started, then closes the
// client's idle connections.
func (e *testEnv) wait() {
	e.wg.Wait()
	e.client.Transport.(*http.Transport).CloseIdleConnections()
}

// lockedBuffer is a bytes.Buffer that the server's logger and the test
// may use at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// reply is what the runtime got for one call of the Runtime API.
type reply struct {
	status int
	header http.Header
	body   []byte
	err    error // the call failed before a full answer arrived
}

// send makes one call of the Runtime API; path is relative to
// /2018-06-01/runtime. It is safe in any goroutine.
func (e *testEnv) send(ctx context.Context, method, path string, header http.Header, body io.Reader) reply {
	req, err := http.NewRequestWithContext(ctx, method, e.base+path, body)
	if err != nil {
		return reply{err: err}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return e.do(req)
}

func (e *testEnv) do(req *http.Request) reply {
	resp, err := e.client.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// call makes one call of the Runtime API from the test's goroutine.
func (e *testEnv) call(method, path string, header http.Header, body io.Reader) reply {
	e.t.Helper()
	r := e.send(context.Background(), method, path, header, body)
	if r.err != nil {
		e.t.Fatalf("%s %s: %v", method, path, r.err)
	}
	return r
}

// post posts body to path with headers given as "Key: value" pairs.
func (e *testEnv) post(path, body string, headers ...string) reply {
	e.t.Helper()
	h := http.Header{}
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ": ")
		h.Set(k, v)
	}
	return e.call(http.MethodPost, path, h, strings.NewReader(body))
}

// goCall runs f in a goroutine that the test's cleanup waits for.
func goCall[T any](e *testEnv, f func() T) <-chan T {
	ch := make(chan T, 1)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		ch <- f()
	}()
	return ch
}

// recv waits for the value of a goroutine started with goCall.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// next calls /next in a goroutine; it answers once an event comes.
func (e *testEnv) next() <-chan reply {
	return goCall(e, func() reply {
		return e.send(context.Background(), http.MethodGet, "/invocation/next", nil, nil)
	})
}

type invokeResult struct {
	resp invocation.Response
	err  error
}

// invoke calls Invoke in a goroutine; it ends with the test at the latest.
func (e *testEnv) invoke(req *invocation.Request) <-chan invokeResult {
	return e.invokeCtx(e.t.Context(), req)
}

func (e *testEnv) invokeCtx(ctx context.Context, req *invocation.Request) <-chan invokeResult {
	return goCall(e, func() invokeResult {
		resp, err := e.s.Invoke(ctx, req)
		return invokeResult{resp, err}
	})
}

// start plays the runtime's first /next and waits for AwaitInit. The /next
// is still waiting for an event when start returns.
func (e *testEnv) start() <-chan reply {
	e.t.Helper()
	next := e.next()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := e.s.AwaitInit(ctx); err != nil {
		e.t.Fatalf("AwaitInit: %v", err)
	}
	return next
}

// deliver invokes req and checks that the waiting /next call got it.
func (e *testEnv) deliver(next <-chan reply, req *invocation.Request) <-chan invokeResult {
	e.t.Helper()
	inv := e.invoke(req)
	r := recv(e.t, next, "/next to get the event")
	if r.err != nil || r.status != http.StatusOK {
		e.t.Fatalf("/next: status %d, err %v, body %s", r.status, r.err, r.body)
	}
	if got := r.header.Get("Lambda-Runtime-Aws-Request-Id"); got != req.ID {
		e.t.Fatalf("/next delivered request id %q, want %q", got, req.ID)
	}
	return inv
}

// startInvocation initializes the runtime and hands it an event with id.
func (e *testEnv) startInvocation(id string) <-chan invokeResult {
	e.t.Helper()
	next := e.start()
	return e.deliver(next, &invocation.Request{ID: id, Payload: []byte(`{}`), Deadline: time.Now().Add(time.Minute)})
}

func (e *testEnv) wantState(want State) {
	e.t.Helper()
	if got := e.s.State(); got != want {
		e.t.Fatalf("state %s, want %s", got, want)
	}
}

// wantReply checks a reply's status and compares its JSON body with the
// golden file testdata/golden.
func wantReply(t *testing.T, r reply, status int, golden string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	goldenJSON(t, golden, r.body)
}

// wantErrorType checks a reply's status and that its body is the Runtime
// API's error shape with the given errorType.
func wantErrorType(t *testing.T, r reply, status int, errorType string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d (body %s)", r.status, status, r.body)
	}
	if err := checkErrorBody(r.body); err != nil {
		t.Fatal(err)
	}
	var body invocation.ErrorBody
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.ErrorType != errorType {
		t.Errorf("error body %s: want errorType %q", r.body, errorType)
	}
	if body.ErrorMessage == "" {
		t.Errorf("error body %s: empty errorMessage", r.body)
	}
}

// checkErrorBody says what is wrong with an error body of the Runtime API:
// it must be a JSON object with a non-empty errorType and an errorMessage.
func checkErrorBody(b []byte) error {
	var body struct {
		ErrorMessage *string `json:"errorMessage"`
		ErrorType    *string `json:"errorType"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return fmt.Errorf("error body %q is not a JSON object: %v", b, err)
	}
	if body.ErrorMessage == nil {
		return fmt.Errorf("error body %s has no errorMessage", b)
	}
	if body.ErrorType == nil || *body.ErrorType == "" {
		return fmt.Errorf("error body %s has no errorType", b)
	}
	return nil
}

// goldenJSON compares a JSON object with testdata/name member by member.
func goldenJSON(t *testing.T, name string, got []byte) {
	t.Helper()
	wantBytes, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("golden file: %v", err)
	}
	var want, have map[string]any
	if err := json.Unmarshal(wantBytes, &want); err != nil {
		t.Fatalf("golden file %s: %v", name, err)
	}
	if err := json.Unmarshal(got, &have); err != nil {
		t.Fatalf("body %q is not a JSON object (golden %s): %v", got, name, err)
	}
	for k, w := range want {
		h, ok := have[k]
		if !ok {
			t.Errorf("%s: member %q missing from %s", name, k, got)
			continue
		}
		if !reflect.DeepEqual(h, w) {
			t.Errorf("%s: %s = %#v, want %#v", name, k, h, w)
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected member %q in %s", name, k, got)
		}
	}
}

func TestAwaitInitReturnsAtFirstNext(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.wantState(StateInit)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := e.s.AwaitInit(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AwaitInit before any /next = %v, want the context's deadline", err)
	}

	initDone := goCall(e, func() error { return e.s.AwaitInit(e.t.Context()) })
	next := e.next()
	if err := recv(t, initDone, "AwaitInit"); err != nil {
		t.Fatalf("AwaitInit: %v", err)
	}
	e.wantState(StateIdle)

	// The first /next goes on waiting for an event.
	inv := e.deliver(next, &invocation.Request{ID: "first", Deadline: time.Now().Add(time.Minute)})
	e.wantState(StateInvoking)
	if r := e.post("/invocation/first/response", `"done"`); r.status != http.StatusAccepted {
		t.Fatalf("/response: status %d, body %s", r.status, r.body)
	}
	if res := recv(t, inv, "Invoke"); res.err != nil {
		t.Fatalf("Invoke: %v", res.err)
	}
}

func TestNextDeliversEveryHeader(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	next := e.start()
	req := &invocation.Request{
		ID:              "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
		Payload:         []byte(`{"key":"value"}`),
		InvokedARN:      "arn:aws:lambda:us-east-2:123456789012:function:fn:live",
		TraceID:         "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
		ClientContext:   `{"client":{"installation_id":"i"},"custom":{"k":"v"},"env":{}}`,
		CognitoIdentity: `{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}`,
		TenantID:        "tenant-7",
		Deadline:        time.UnixMilli(1542409706888),
	}
	e.invoke(req)
	r := recv(t, next, "/next")
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("/next: status %d, err %v", r.status, r.err)
	}
	want := map[string]string{
		"Lambda-Runtime-Aws-Request-Id":       req.ID,
		"Lambda-Runtime-Deadline-Ms":          "1542409706888",
		"Lambda-Runtime-Invoked-Function-Arn": req.InvokedARN,
		"Lambda-Runtime-Trace-Id":             req.TraceID,
		"Lambda-Runtime-Client-Context":       req.ClientContext,
		"Lambda-Runtime-Cognito-Identity":     req.CognitoIdentity,
		"Lambda-Runtime-Aws-Tenant-Id":        req.TenantID,
		"Content-Type":                        "application/json",
		"Content-Length":                      strconv.Itoa(len(req.Payload)),
	}
	for k, v := range want {
		if got := r.header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("header %s = %q, want [%q]", k, got, v)
		}
	}
	if !bytes.Equal(r.body, req.Payload) {
		t.Errorf("event body %q, want %q", r.body, req.Payload)
	}
}

func TestNextOmitsEmptyHeaders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		contentType string
		want        string
	}{
		{"default content type", "", "application/json"},
		{"content type of the invoke", "application/octet-stream", "application/octet-stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			next := e.start()
			deadline := time.Now().Add(3 * time.Second)
			e.invoke(&invocation.Request{ID: "bare", Payload: []byte("raw"), ContentType: tc.contentType, Deadline: deadline})
			r := recv(t, next, "/next")
			if r.err != nil || r.status != http.StatusOK {
				t.Fatalf("/next: status %d, err %v", r.status, r.err)
			}
			for _, k := range []string{
				"Lambda-Runtime-Invoked-Function-Arn",
				"Lambda-Runtime-Trace-Id",
				"Lambda-Runtime-Client-Context",
				"Lambda-Runtime-Cognito-Identity",
				"Lambda-Runtime-Aws-Tenant-Id",
			} {
				if v, ok := r.header[k]; ok {
					t.Errorf("header %s = %q, want it absent", k, v)
				}
			}
			if got := r.header.Get("Lambda-Runtime-Aws-Request-Id"); got != "bare" {
				t.Errorf("request id %q, want bare", got)
			}
			if got, want := r.header.Get("Lambda-Runtime-Deadline-Ms"), strconv.FormatInt(deadline.UnixMilli(), 10); got != want {
				t.Errorf("deadline %q, want %q", got, want)
			}
			if got := r.header.Get("Content-Type"); got != tc.want {
				t.Errorf("Content-Type %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBufferedResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		contentType string
		want        string
	}{
		{"content type of the runtime", "text/plain; charset=utf-8", "text/plain; charset=utf-8"},
		{"default content type", "", "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			inv := e.startInvocation("req-1")

			var headers []string
			if tc.contentType != "" {
				headers = append(headers, "Content-Type: "+tc.contentType)
			}
			wantReply(t, e.post("/invocation/req-1/response", "hello, caller", headers...), http.StatusAccepted, "accepted.json")

			res := recv(t, inv, "Invoke")
			if res.err != nil {
				t.Fatalf("Invoke: %v", res.err)
			}
			if got := string(res.resp.Payload); got != "hello, caller" {
				t.Errorf("payload %q", got)
			}
			if res.resp.ContentType != tc.want {
				t.Errorf("content type %q, want %q", res.resp.ContentType, tc.want)
			}
			if res.resp.FunctionError != "" || res.resp.ErrorType != "" || res.resp.Stream != nil {
				t.Errorf("response %+v, want a plain success", res.resp)
			}
			e.wantState(StateAnswered)

			// The invocation ends when the runtime asks for its next event.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer cancel()
			if err := e.s.AwaitNext(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("AwaitNext before /next = %v, want the context's deadline", err)
			}
			done := goCall(e, func() error { return e.s.AwaitNext(e.t.Context()) })
			e.next()
			if err := recv(t, done, "AwaitNext"); err != nil {
				t.Fatalf("AwaitNext: %v", err)
			}
			e.wantState(StateIdle)
		})
	}
}

func TestErrorResponse(t *testing.T) {
	t.Parallel()
	const stack = `"stackTrace":[{"path":"main.go","line":3,"label":"main"}]`
	for _, tc := range []struct {
		name     string
		headers  []string
		body     string
		wantType string
		wantBody string // the exact payload, when the body passes through
		golden   string // else the golden file the payload must match
	}{
		{
			name:     "JSON body passes through",
			headers:  []string{"Lambda-Runtime-Function-Error-Type: Function.MyError", "Content-Type: application/json"},
			body:     `{"errorMessage":"boom","errorType":"MyError",` + stack + `}`,
			wantType: "Function.MyError",
			wantBody: `{"errorMessage":"boom","errorType":"MyError",` + stack + `}`,
		},
		{
			name:     "type from the body without the header",
			body:     `{"errorMessage":"boom","errorType":"MyError"}`,
			wantType: "MyError",
			wantBody: `{"errorMessage":"boom","errorType":"MyError"}`,
		},
		{
			name:    "errorCause stripped",
			headers: []string{"Lambda-Runtime-Function-Error-Type: Runtime.HandlerFailed", "Content-Type: application/vnd.aws.lambda.error.cause+json"},
			body: `{"errorMessage":"boom","errorType":"HandlerFailed",` + stack +
				`,"errorCause":{"working_directory":"/var/task","paths":["main.go"],"exceptions":[{"type":"E","message":"boom"}]}}`,
			wantType: "Runtime.HandlerFailed",
			golden:   "error-cause-stripped.json",
		},
		{
			name:     "errorCause kept under application/json",
			headers:  []string{"Lambda-Runtime-Function-Error-Type: Runtime.HandlerFailed", "Content-Type: application/json"},
			body:     `{"errorMessage":"boom","errorCause":{"paths":[]}}`,
			wantType: "Runtime.HandlerFailed",
			wantBody: `{"errorMessage":"boom","errorCause":{"paths":[]}}`,
		},
		{
			name:     "body that is not JSON",
			headers:  []string{"Lambda-Runtime-Function-Error-Type: Runtime.Crash", "Content-Type: text/plain"},
			body:     "something broke\n",
			wantType: "Runtime.Crash",
			golden:   "error-not-json.json",
		},
		{
			name:     "body that is not JSON, without a type",
			body:     "something broke",
			wantType: "Runtime.Unknown",
			golden:   "error-not-json-untyped.json",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			inv := e.startInvocation("req-err")
			wantReply(t, e.post("/invocation/req-err/error", tc.body, tc.headers...), http.StatusAccepted, "accepted.json")

			res := recv(t, inv, "Invoke")
			if res.err != nil {
				t.Fatalf("Invoke: %v", res.err)
			}
			resp := res.resp
			if resp.FunctionError != invocation.FunctionErrorUnhandled {
				t.Errorf("FunctionError %q, want Unhandled", resp.FunctionError)
			}
			if resp.ErrorType != tc.wantType {
				t.Errorf("ErrorType %q, want %q", resp.ErrorType, tc.wantType)
			}
			if resp.ContentType != "application/json" {
				t.Errorf("content type %q, want application/json", resp.ContentType)
			}
			if tc.golden != "" {
				goldenJSON(t, tc.golden, resp.Payload)
			} else if string(resp.Payload) != tc.wantBody {
				t.Errorf("payload %s, want %s", resp.Payload, tc.wantBody)
			}
			e.wantState(StateAnswered)
		})
	}
}

func TestInitError(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	initDone := goCall(e, func() error { return e.s.AwaitInit(e.t.Context()) })

	body := `{"errorMessage":"Cannot find handler","errorType":"Runtime.NoSuchHandler","stackTrace":[]}`
	wantReply(t, e.post("/init/error", body, "Lambda-Runtime-Function-Error-Type: Runtime.NoSuchHandler"),
		http.StatusAccepted, "accepted.json")

	err := recv(t, initDone, "AwaitInit")
	var initErr *InitError
	if !errors.As(err, &initErr) {
		t.Fatalf("AwaitInit = %v, want an *InitError", err)
	}
	if initErr.Type != "Runtime.NoSuchHandler" {
		t.Errorf("init error type %q", initErr.Type)
	}
	if string(initErr.Body) != body {
		t.Errorf("init error body %s, want %s", initErr.Body, body)
	}
	e.wantState(StateInitFailed)

	// A runtime whose init failed gets no event and cannot fail twice.
	wantErrorType(t, e.call(http.MethodGet, "/invocation/next", nil, nil), http.StatusForbidden, "InvalidStateTransition")
	wantErrorType(t, e.post("/init/error", body), http.StatusForbidden, "InvalidStateTransition")
	e.wantState(StateInitFailed)
}

func TestInitErrorAfterInit(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.start()
	wantErrorType(t, e.post("/init/error", `{}`, "Lambda-Runtime-Function-Error-Type: Runtime.Late"),
		http.StatusForbidden, "InvalidStateTransition")
	e.wantState(StateIdle)
	if err := e.s.AwaitInit(t.Context()); err != nil {
		t.Errorf("AwaitInit after a refused init error = %v, want nil", err)
	}
}

func TestResponseTooLarge(t *testing.T) {
	t.Parallel()
	tooLarge := bytes.Repeat([]byte("x"), lambdaMaxResponse+1)
	for _, tc := range []struct {
		name string
		body func() io.Reader
	}{
		{"content length", func() io.Reader { return bytes.NewReader(tooLarge) }},
		// A reader of unknown length makes the client send it chunked.
		{"chunked", func() io.Reader { return io.MultiReader(bytes.NewReader(tooLarge)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			inv := e.startInvocation("req-big")

			r := e.call(http.MethodPost, "/invocation/req-big/response", nil, tc.body())
			wantReply(t, r, http.StatusRequestEntityTooLarge, "payload-too-large-runtime.json")

			res := recv(t, inv, "Invoke")
			if res.err != nil {
				t.Fatalf("Invoke: %v", res.err)
			}
			if res.resp.FunctionError != invocation.FunctionErrorUnhandled || res.resp.ErrorType != "Function.ResponseSizeTooLarge" {
				t.Errorf("FunctionError %q, ErrorType %q; want Unhandled, Function.ResponseSizeTooLarge",
					res.resp.FunctionError, res.resp.ErrorType)
			}
			goldenJSON(t, "response-size-too-large-caller.json", res.resp.Payload)
			e.wantState(StateAnswered)

			// The invocation has failed: Lambda answers a follow-up
			// /error with 403.
			wantErrorType(t, e.post("/invocation/req-big/error", `{}`), http.StatusForbidden, "InvalidStateTransition")

			// The invocation still ends at the runtime's next /next.
			done := goCall(e, func() error { return e.s.AwaitNext(e.t.Context()) })
			e.next()
			if err := recv(t, done, "AwaitNext"); err != nil {
				t.Fatalf("AwaitNext: %v", err)
			}
		})
	}
}

func TestResponseAtLimit(t *testing.T) {
	t.Parallel()
	if invocation.MaxSyncResponse != lambdaMaxResponse {
		t.Fatalf("MaxSyncResponse = %d, Lambda's limit is %d", invocation.MaxSyncResponse, lambdaMaxResponse)
	}
	e := newTestEnv(t)
	inv := e.startInvocation("req-full")
	body := bytes.Repeat([]byte("y"), lambdaMaxResponse)
	wantReply(t, e.call(http.MethodPost, "/invocation/req-full/response", nil, bytes.NewReader(body)),
		http.StatusAccepted, "accepted.json")
	res := recv(t, inv, "Invoke")
	if res.err != nil {
		t.Fatalf("Invoke: %v", res.err)
	}
	if !bytes.Equal(res.resp.Payload, body) || res.resp.FunctionError != "" {
		t.Errorf("payload of %d bytes with FunctionError %q, want the %d bytes sent",
			len(res.resp.Payload), res.resp.FunctionError, len(body))
	}
}

func TestWrongRequestID(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	inv := e.startInvocation("right")

	wantReply(t, e.post("/invocation/wrong/response", `"x"`), http.StatusBadRequest, "invalid-request-id.json")
	wantReply(t, e.post("/invocation/wrong/error", `{}`), http.StatusBadRequest, "invalid-request-id.json")
	e.wantState(StateInvoking)

	// The invocation in flight can still be answered.
	wantReply(t, e.post("/invocation/right/response", `"ok"`), http.StatusAccepted, "accepted.json")
	if res := recv(t, inv, "Invoke"); res.err != nil || string(res.resp.Payload) != `"ok"` {
		t.Fatalf("Invoke = %q, %v", res.resp.Payload, res.err)
	}
}

func TestSecondAnswerToOneRequest(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	inv := e.startInvocation("once")
	wantReply(t, e.post("/invocation/once/response", `"first"`), http.StatusAccepted, "accepted.json")

	wantReply(t, e.post("/invocation/once/response", `"second"`), http.StatusBadRequest, "invalid-request-id.json")
	wantReply(t, e.post("/invocation/once/error", `{}`), http.StatusBadRequest, "invalid-request-id.json")

	if res := recv(t, inv, "Invoke"); res.err != nil || string(res.resp.Payload) != `"first"` {
		t.Fatalf("Invoke = %q, %v; want the first answer", res.resp.Payload, res.err)
	}

	// Still refused once the runtime has moved on to its next /next.
	e.next()
	waitFor(t, "state Idle", func() bool { return e.s.State() == StateIdle })
	wantReply(t, e.post("/invocation/once/response", `"late"`), http.StatusBadRequest, "invalid-request-id.json")
}

func TestAnswerBeforeAnyEvent(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	wantReply(t, e.post("/invocation/early/response", `"x"`), http.StatusForbidden, "invalid-state-transition.json")
	wantErrorType(t, e.post("/invocation/early/error", `{}`), http.StatusForbidden, "InvalidStateTransition")
	e.wantState(StateInit)

	// After init, with no event in flight, too.
	e.start()
	wantErrorType(t, e.post("/invocation/early/response", `"x"`), http.StatusForbidden, "InvalidStateTransition")
	e.wantState(StateIdle)
}

func TestSecondConcurrentNext(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	first := e.start()

	wantErrorType(t, e.call(http.MethodGet, "/invocation/next", nil, nil), http.StatusForbidden, "InvalidStateTransition")

	// The first /next still gets the event; asking again before
	// answering it is refused too.
	e.deliver(first, &invocation.Request{ID: "only", Deadline: time.Now().Add(time.Minute)})
	wantErrorType(t, e.call(http.MethodGet, "/invocation/next", nil, nil), http.StatusForbidden, "InvalidStateTransition")
	e.wantState(StateInvoking)
}

func TestInvalidResponseMode(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	inv := e.startInvocation("req-mode")
	wantReply(t, e.post("/invocation/req-mode/response", `"x"`, "Lambda-Runtime-Function-Response-Mode: buffered"),
		http.StatusBadRequest, "invalid-response-mode.json")
	e.wantState(StateInvoking)
	wantReply(t, e.post("/invocation/req-mode/response", `"x"`), http.StatusAccepted, "accepted.json")
	if res := recv(t, inv, "Invoke"); res.err != nil {
		t.Fatalf("Invoke: %v", res.err)
	}
}

func TestStreamingResponse(t *testing.T) {
	t.Parallel()
	errBody := `{"errorMessage":"lost the upstream","errorType":"UpstreamError"}`
	for _, tc := range []struct {
		name        string
		contentType string
		wantType    string
		errorType   string // sent in the trailers when set
	}{
		{"complete", "", "application/octet-stream", ""},
		{"error trailers", "application/vnd.awslambda.http-integration-response", "application/vnd.awslambda.http-integration-response", "Function.UpstreamError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			inv := e.startInvocation("req-stream")

			pr, pw := io.Pipe()
			defer pw.Close()
			req, err := http.NewRequest(http.MethodPost, e.base+"/invocation/req-stream/response", pr)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = -1 // chunked
			req.Header.Set("Lambda-Runtime-Function-Response-Mode", "streaming")
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			req.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil}
			posted := goCall(e, func() reply { return e.do(req) })

			// The client writes each chunk out as the pipe yields it.
			if _, err := pw.Write([]byte("chunk-1;")); err != nil {
				t.Fatal(err)
			}
			res := recv(t, inv, "Invoke")
			if res.err != nil {
				t.Fatalf("Invoke: %v", res.err)
			}
			st := res.resp.Stream
			if st == nil {
				t.Fatalf("response %+v has no stream", res.resp)
			}
			defer st.Close()
			if res.resp.ContentType != tc.wantType {
				t.Errorf("content type %q, want %q", res.resp.ContentType, tc.wantType)
			}
			e.wantState(StateStreaming)

			first := make([]byte, len("chunk-1;"))
			if _, err := io.ReadFull(st, first); err != nil || string(first) != "chunk-1;" {
				t.Fatalf("first chunk %q, %v", first, err)
			}

			// The client has written its headers: it read the first chunk.
			if tc.errorType != "" {
				req.Trailer.Set("Lambda-Runtime-Function-Error-Type", tc.errorType)
				req.Trailer.Set("Lambda-Runtime-Function-Error-Body", base64.StdEncoding.EncodeToString([]byte(errBody)))
			}
			if _, err := pw.Write([]byte("chunk-2")); err != nil {
				t.Fatal(err)
			}
			if err := pw.Close(); err != nil {
				t.Fatal(err)
			}
			rest, err := io.ReadAll(st)
			if err != nil || string(rest) != "chunk-2" {
				t.Fatalf("rest of the stream %q, %v", rest, err)
			}

			fe := st.Err()
			switch {
			case tc.errorType == "" && fe != nil:
				t.Errorf("stream error %+v (%s), want none", fe, fe.Body)
			case tc.errorType != "" && fe == nil:
				t.Errorf("no stream error, want %s", tc.errorType)
			case tc.errorType != "":
				if fe.Type != tc.errorType {
					t.Errorf("stream error type %q, want %q", fe.Type, tc.errorType)
				}
				if string(fe.Body) != errBody {
					t.Errorf("stream error body %s, want %s", fe.Body, errBody)
				}
			}

			r := recv(t, posted, "the streamed /response")
			if r.err != nil {
				t.Fatalf("streamed /response: %v", r.err)
			}
			wantReply(t, r, http.StatusAccepted, "accepted.json")
			e.wantState(StateAnswered)
		})
	}
}

// lambdaGoBody sends a response the way aws-lambda-go sends one from an
// io.Reader: chunked, with both error trailers declared empty up front and
// filled in only when the function's reader fails.
type lambdaGoBody struct {
	r       io.Reader
	trailer http.Header
}

func (b *lambdaGoBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		body, merr := json.Marshal(invocation.ErrorBody{ErrorMessage: err.Error(), ErrorType: "errorString"})
		if merr != nil {
			return 0, merr
		}
		b.trailer.Set("Lambda-Runtime-Function-Error-Type", "errorString")
		b.trailer.Set("Lambda-Runtime-Function-Error-Body", base64.StdEncoding.EncodeToString(body))
		return 0, io.EOF
	}
	return n, err
}

func TestChunkedBufferedResponseWithTrailers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		body io.Reader
		// wantType is the function error the caller gets, or "" for success.
		wantType string
	}{
		{"empty trailers", io.MultiReader(strings.NewReader("hello, "), strings.NewReader("caller")), ""},
		{"error trailers", io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(errors.New("reader failed"))), "errorString"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			inv := e.startInvocation("req-go")

			body := &lambdaGoBody{r: tc.body, trailer: http.Header{
				"Lambda-Runtime-Function-Error-Type": nil,
				"Lambda-Runtime-Function-Error-Body": nil,
			}}
			req, err := http.NewRequest(http.MethodPost, e.base+"/invocation/req-go/response", body)
			if err != nil {
				t.Fatal(err)
			}
			req.Trailer = body.trailer
			req.Header.Set("Content-Type", "application/json")
			wantReply(t, e.do(req), http.StatusAccepted, "accepted.json")

			res := recv(t, inv, "Invoke")
			if res.err != nil {
				t.Fatalf("Invoke: %v", res.err)
			}
			if tc.wantType == "" {
				if res.resp.FunctionError != "" || string(res.resp.Payload) != "hello, caller" {
					t.Errorf("response %q with FunctionError %q, want a success", res.resp.Payload, res.resp.FunctionError)
				}
				return
			}
			if res.resp.FunctionError != invocation.FunctionErrorUnhandled || res.resp.ErrorType != tc.wantType {
				t.Errorf("FunctionError %q, ErrorType %q; want Unhandled, %s", res.resp.FunctionError, res.resp.ErrorType, tc.wantType)
			}
			goldenJSON(t, "trailer-error.json", res.resp.Payload)
		})
	}
}

func TestInvokeBeforeNextIsPending(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)

	// The runtime's first /next gives up: no /next waits when the event
	// comes, and the event waits for the next one.
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := goCall(e, func() reply { return e.send(ctx, http.MethodGet, "/invocation/next", nil, nil) })
	if err := e.s.AwaitInit(t.Context()); err != nil {
		t.Fatalf("AwaitInit: %v", err)
	}
	cancel()
	if r := recv(t, gaveUp, "the abandoned /next"); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("abandoned /next = %d %v, want it cancelled", r.status, r.err)
	}
	waitFor(t, "the server to drop the abandoned /next", func() bool {
		e.s.mu.Lock()
		defer e.s.mu.Unlock()
		return e.s.waiter == nil
	})

	req := &invocation.Request{ID: "pending", Payload: []byte(`{"n":1}`), Deadline: time.Now().Add(time.Minute)}
	inv := e.invoke(req)
	waitFor(t, "the event to be handed over", func() bool { return e.s.State() == StateInvoking })

	r := e.call(http.MethodGet, "/invocation/next", nil, nil)
	if r.status != http.StatusOK || r.header.Get("Lambda-Runtime-Aws-Request-Id") != "pending" || string(r.body) != `{"n":1}` {
		t.Fatalf("/next = %d %v %s, want the pending event", r.status, r.header, r.body)
	}
	wantReply(t, e.post("/invocation/pending/response", `"ok"`), http.StatusAccepted, "accepted.json")
	if res := recv(t, inv, "Invoke"); res.err != nil || string(res.resp.Payload) != `"ok"` {
		t.Fatalf("Invoke = %q, %v", res.resp.Payload, res.err)
	}
}

func TestResetWakesWaitingNext(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	next := e.start()

	e.s.Reset()
	r := recv(t, next, "the waiting /next")
	if r.err != nil {
		t.Fatalf("/next: %v", r.err)
	}
	wantReply(t, r, http.StatusInternalServerError, "reset.json")
	e.wantState(StateInit)

	// The environment waits for the new runtime's init.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := e.s.AwaitInit(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AwaitInit right after Reset = %v, want the context's deadline", err)
	}
	e.start()
	e.wantState(StateIdle)
}

func TestResetDropsInvocation(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.startInvocation("dropped")

	e.s.Reset()
	e.wantState(StateInit)
	wantErrorType(t, e.post("/invocation/dropped/response", `"late"`), http.StatusForbidden, "InvalidStateTransition")

	// A new runtime starts from init.
	next := e.start()
	inv := e.deliver(next, &invocation.Request{ID: "fresh", Deadline: time.Now().Add(time.Minute)})
	wantReply(t, e.post("/invocation/fresh/response", `"new"`), http.StatusAccepted, "accepted.json")
	if res := recv(t, inv, "Invoke"); res.err != nil || string(res.resp.Payload) != `"new"` {
		t.Fatalf("Invoke = %q, %v", res.resp.Payload, res.err)
	}
}

// TestStaleAnswerAfterReset: a /response that was reading its body when
// the environment reset, and that names the id of the next invocation
// (Lambda retries an async event with the same id), must not answer the
// new invocation in the name of the old one.
func TestStaleAnswerAfterReset(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// answeredLate: the runtime also answered the first invocation
		// with /error after Invoke gave up on it, so that the old call
		// holds an answer that nobody takes.
		answeredLate bool
	}{
		{"old call unanswered", false},
		{"old call answered after Invoke gave up", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reading := make(chan struct{})
			var once sync.Once
			e := newTestEnvWrapped(t, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("X-Test-Stale") != "" {
						r.Body = &signalingBody{ReadCloser: r.Body, first: func() { once.Do(func() { close(reading) }) }}
					}
					h.ServeHTTP(w, r)
				})
			})

			next := e.start()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			inv := e.invokeCtx(ctx, &invocation.Request{ID: "retried", Payload: []byte(`1`), Deadline: time.Now().Add(time.Minute)})
			if r := recv(t, next, "/next"); r.status != http.StatusOK {
				t.Fatalf("/next: %d %v", r.status, r.err)
			}

			// The old runtime starts its answer and stalls in the body.
			pr, pw := io.Pipe()
			defer pw.Close()
			old, err := http.NewRequest(http.MethodPost, e.base+"/invocation/retried/response", pr)
			if err != nil {
				t.Fatal(err)
			}
			old.ContentLength = -1 // chunked
			old.Header.Set("X-Test-Stale", "1")
			oldReply := goCall(e, func() reply { return e.do(old) })
			if _, err := pw.Write([]byte(`"stale `)); err != nil {
				t.Fatal(err)
			}
			recv(t, (<-chan struct{})(reading), "the server to read the old body")

			// The environment gives up on it and retries with a new runtime.
			cancel()
			if res := recv(t, inv, "the first Invoke"); !errors.Is(res.err, context.Canceled) {
				t.Fatalf("first Invoke = %v, want it cancelled", res.err)
			}
			if tc.answeredLate {
				wantReply(t, e.post("/invocation/retried/error", `{}`), http.StatusAccepted, "accepted.json")
			}
			e.s.Reset()
			next = e.start()
			retry := e.deliver(next, &invocation.Request{ID: "retried", Payload: []byte(`2`), Deadline: time.Now().Add(time.Minute)})

			// Now the old body ends.
			if _, err := pw.Write([]byte(`answer"`)); err != nil {
				t.Fatal(err)
			}
			pw.Close()
			r := e.recvUnlessWedged(oldReply, "the old /response")
			if r.status == http.StatusAccepted {
				t.Errorf("the old runtime's /response was accepted after Reset: %d %s", r.status, r.body)
			}

			r = e.post("/invocation/retried/response", `"fresh answer"`)
			if r.status != http.StatusAccepted {
				t.Fatalf("the new runtime's /response = %d %s, want 202: the old runtime's answer took the new invocation's place", r.status, r.body)
			}
			if res := recv(t, retry, "the retried Invoke"); res.err != nil || string(res.resp.Payload) != `"fresh answer"` {
				t.Fatalf("retried Invoke = %q, %v", res.resp.Payload, res.err)
			}
		})
	}
}

// recvUnlessWedged waits for the reply of a call started with goCall. If
// the server holds its lock all the while, it stops the test and leaves
// the server as it is: closing it would wait forever.
func (e *testEnv) recvUnlessWedged(ch <-chan reply, what string) reply {
	e.t.Helper()
	deadline := time.Now().Add(testTimeout)
	var lockedSince time.Time
	for time.Now().Before(deadline) {
		select {
		case r := <-ch:
			return r
		case <-time.After(time.Millisecond):
		}
		if e.s.mu.TryLock() {
			e.s.mu.Unlock()
			lockedSince = time.Time{}
			continue
		}
		if lockedSince.IsZero() {
			lockedSince = time.Now()
		} else if time.Since(lockedSince) > 200*time.Millisecond {
			e.wedged = true
			e.t.Fatalf("deadlock: the server has held its lock for %v while waiting for %s\n%s",
				time.Since(lockedSince), what, allStacks())
		}
	}
	e.t.Fatalf("timed out waiting for %s", what)
	return reply{}
}

// signalingBody calls first when the handler first reads the body.
type signalingBody struct {
	io.ReadCloser
	first func()
}

func (b *signalingBody) Read(p []byte) (int, error) {
	b.first()
	return b.ReadCloser.Read(p)
}

func TestCloseEndsEnvironmentCalls(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	inv := e.startInvocation("in-flight")
	next := goCall(e, func() error { return e.s.AwaitNext(e.t.Context()) })

	if err := e.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if res := recv(t, inv, "Invoke"); !errors.Is(res.err, ErrClosed) {
		t.Errorf("Invoke in flight at Close = %v, want ErrClosed", res.err)
	}
	if err := recv(t, next, "AwaitNext"); !errors.Is(err, ErrClosed) {
		t.Errorf("AwaitNext at Close = %v, want ErrClosed", err)
	}
	if err := e.s.AwaitNext(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("AwaitNext after Close = %v, want ErrClosed", err)
	}
	if err := e.s.AwaitInit(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("AwaitInit after Close = %v, want ErrClosed", err)
	}
	e.wantState(StateClosed)
	e.s.Reset()
	e.wantState(StateClosed)
}

func TestCloseWakesWaitingNext(t *testing.T) {
	t.Parallel()
	// httptest keeps serving the handler after Close, so the waiting
	// /next gets the server's answer rather than a closed connection.
	e := newTestEnvWrapped(t, func(h http.Handler) http.Handler { return h })
	next := e.start()
	if err := e.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r := recv(t, next, "the waiting /next")
	if r.err != nil {
		t.Fatalf("/next: %v", r.err)
	}
	wantErrorType(t, r, http.StatusInternalServerError, "InternalServerError")
}

// TestCallsAfterClose: ErrClosed is what the environment gets "once the
// server is closed", not only for the calls in flight at Close.
func TestCallsAfterClose(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.start()
	if err := e.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := e.s.Invoke(t.Context(), &invocation.Request{ID: "late", Deadline: time.Now().Add(time.Minute)})
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close = %v, want ErrClosed", err)
	}
	if err := e.s.AwaitNext(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("AwaitNext after Close, with no invocation before = %v, want ErrClosed", err)
	}
}

func TestUnknownPath(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	wantReply(t, e.call(http.MethodGet, "/nope", nil, nil), http.StatusNotFound, "not-found.json")

	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/invocation/next"},
		{http.MethodGet, "/invocation/req/response"},
		{http.MethodPut, "/invocation/req/error"},
		{http.MethodGet, "/init/error"},
		{http.MethodGet, "/invocation/req/response/more"},
		{http.MethodGet, "/invocation/next/"},
	} {
		r := e.call(tc.method, tc.path, nil, nil)
		if r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d, want 404 or 405", tc.method, tc.path, r.status)
		}
		wantErrorType(t, r, r.status, "InvalidRequest")
	}
	e.wantState(StateInit)
}

// TestUncleanPath: the Runtime API answers every path outside it with its
// JSON error, also one that is not clean, such as the path a runtime
// builds for an empty request id.
func TestUncleanPath(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/invocation//response"},
		{http.MethodGet, "/invocation/x/../next"},
		{http.MethodGet, "//invocation/next"},
	} {
		r := e.call(tc.method, tc.path, nil, strings.NewReader(`{}`))
		if r.status != http.StatusNotFound && r.status != http.StatusBadRequest {
			t.Errorf("%s %s: status %d (Location %q), want a JSON 404 or 400", tc.method, tc.path, r.status, r.header.Get("Location"))
			continue
		}
		if err := checkErrorBody(r.body); err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.path, err)
		}
	}
	e.wantState(StateInit)
}

// TestHeadNext: HEAD is not a method of /next. Go's "GET" route also
// matches HEAD, and a HEAD /next must not end init nor take an event that
// it cannot carry.
func TestHeadNext(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	head := goCall(e, func() reply { return e.send(ctx, http.MethodHead, "/invocation/next", nil, nil) })
	var r reply
	waitFor(t, "an answer to HEAD /next", func() bool {
		select {
		case r = <-head:
			return true
		default:
			return e.s.State() != StateInit
		}
	})
	if st := e.s.State(); st != StateInit {
		t.Fatalf("HEAD /next moved the server to %s", st)
	}
	if r.err != nil {
		t.Fatalf("HEAD /next: %v", r.err)
	}
	if r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed {
		t.Errorf("HEAD /next: status %d, want 404 or 405", r.status)
	}
}
