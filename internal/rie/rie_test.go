package rie

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/environment"
	"github.com/emberfn/ember/internal/envpool"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/invoke"
	"github.com/emberfn/ember/internal/invokewire"
	"github.com/emberfn/ember/internal/testfunc"
)

var update = flag.Bool("update", false, "rewrite golden files")

const invokePath = "/2015-03-31/functions/function/invocations"

// endpointOptions configure a test endpoint as `ember rie` wires it: a
// pool, and invoke's limiter in front of it.
type endpointOptions struct {
	pool      envpool.Options
	limits    invoke.LimiterOptions
	bandwidth invokewire.Bandwidth
}

// endpoint serves the emulator's endpoint for the named test function.
func endpoint(t *testing.T, name string, edit func(*endpointOptions)) string {
	t.Helper()
	return endpointTB(t, name, edit)
}

func endpointTB(t testing.TB, name string, edit func(*endpointOptions)) string {
	t.Helper()
	fn := function.Config{Name: name, CodeDir: testfunc.Build(t, name), Timeout: 3 * time.Second}.WithDefaults()
	opts := endpointOptions{
		pool:   envpool.Options{Environment: environment.Options{Function: fn}},
		limits: invoke.LimiterOptions{Account: 4},
	}
	if edit != nil {
		edit(&opts)
	}
	pool := envpool.New(opts.pool)
	limited := invoke.NewLimited(invoke.NewLimiter(opts.limits), fn.Name, pool)
	h := New(fn, limited, opts.bandwidth, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		h.Wait()
		limited.Wait()
		pool.Close(context.Background())
	})
	return srv.URL + invokePath
}

// post invokes url with body and headers given as "Key: value" pairs.
func post(t *testing.T, url string, body []byte, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-Amzn-RequestId") == "" {
		t.Errorf("no X-Amzn-RequestId on a %d answer", resp.StatusCode)
	}
	return resp, b
}

// goldenJSON compares a JSON body with testdata/NAME field by field; the
// golden file may hold "<any>" for values that change from run to run.
func goldenJSON(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantBytes, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v", err)
	}
	var want, have map[string]any
	if err := json.Unmarshal(wantBytes, &want); err != nil {
		t.Fatalf("golden %s: %v", name, err)
	}
	if err := json.Unmarshal(got, &have); err != nil {
		t.Fatalf("body %s: %v", got, err)
	}
	for k, w := range want {
		if w == "<any>" {
			if _, ok := have[k]; !ok {
				t.Errorf("%s: member %q missing", name, k)
			}
			continue
		}
		if !reflect.DeepEqual(have[k], w) {
			t.Errorf("%s: %s = %#v, want %#v", name, k, have[k], w)
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected member %q", name, k)
		}
	}
}

func TestEcho(t *testing.T) {
	url := endpoint(t, "echo", nil)
	resp, body := post(t, url, []byte(`{"hello":"world"}`))
	if resp.StatusCode != 200 || string(body) != `{"hello":"world"}` {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Amz-Function-Error") != "" || resp.Header.Get("X-Amz-Executed-Version") != "$LATEST" ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", resp.Header)
	}
	// An empty body is the empty object.
	if _, body := post(t, url, nil); string(body) != `{}` {
		t.Errorf("empty payload gave %s", body)
	}
}

func TestFunctionErrorIsFlagged(t *testing.T) {
	url := endpoint(t, "error", nil)
	resp, body := post(t, url, []byte(`{}`))
	if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "Unhandled" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	goldenJSON(t, "function-error.json", body)
}

func TestTimeoutBody(t *testing.T) {
	url := endpoint(t, "sleep", func(o *endpointOptions) { o.pool.Environment.Function.Timeout = time.Second })
	resp, body := post(t, url, []byte(`{"ms":3000}`))
	if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "Unhandled" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	goldenJSON(t, "timeout.json", body)
	var b invocation.ErrorBody
	json.Unmarshal(body, &b)
	if want := "RequestId: " + resp.Header.Get("X-Amzn-RequestId") + " Error: Task timed out after 1.00 seconds"; b.ErrorMessage != want {
		t.Errorf("message %q, want %q", b.ErrorMessage, want)
	}
	// The next invocation works.
	if resp, body := post(t, url, []byte(`{"ms":1}`)); resp.Header.Get("X-Amz-Function-Error") != "" {
		t.Errorf("after timeout: %s", body)
	}
}

func TestCrashBody(t *testing.T) {
	url := endpoint(t, "exit", nil)
	resp, body := post(t, url, []byte(`{"code":3}`))
	if resp.Header.Get("X-Amz-Function-Error") != "Unhandled" {
		t.Fatalf("headers %v", resp.Header)
	}
	goldenJSON(t, "exit-error.json", body)
	var b invocation.ErrorBody
	json.Unmarshal(body, &b)
	if want := "RequestId: " + resp.Header.Get("X-Amzn-RequestId") + " Error: Runtime exited with error: exit status 3"; b.ErrorMessage != want {
		t.Errorf("message %q, want %q", b.ErrorMessage, want)
	}
}

func TestPayloadLimits(t *testing.T) {
	url := endpoint(t, "big", nil)
	t.Run("request over 6 MB", func(t *testing.T) {
		payload := []byte(`"` + strings.Repeat("a", invocation.MaxSyncRequest-1) + `"`)
		resp, body := post(t, url, payload)
		if resp.StatusCode != 413 || resp.Header.Get("X-Amzn-ErrorType") != "RequestEntityTooLargeException" {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
		goldenJSON(t, "request-too-large.json", body)
	})
	t.Run("request of 6 MB", func(t *testing.T) {
		payload := []byte(`{"bytes":1,"pad":"` + strings.Repeat("a", invocation.MaxSyncRequest-20) + `"}`)
		if len(payload) > invocation.MaxSyncRequest {
			t.Fatalf("test payload %d bytes", len(payload))
		}
		if resp, body := post(t, url, payload); resp.StatusCode != 200 || string(body) != `"a"` {
			t.Errorf("%d %.100s", resp.StatusCode, body)
		}
	})
	t.Run("response at the limit", func(t *testing.T) {
		resp, body := post(t, url, []byte(fmt.Sprintf(`{"bytes":%d}`, invocation.MaxSyncResponse-2)))
		if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "" || len(body) != invocation.MaxSyncResponse {
			t.Errorf("%d %v %d bytes", resp.StatusCode, resp.Header, len(body))
		}
	})
	t.Run("response over the limit", func(t *testing.T) {
		resp, body := post(t, url, []byte(fmt.Sprintf(`{"bytes":%d}`, invocation.MaxSyncResponse)))
		if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "Unhandled" {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
		goldenJSON(t, "response-too-large.json", body)
		// aws-lambda-go exits when its response is refused; the next
		// invocation gets a new runtime.
		if resp, body := post(t, url, []byte(`{"bytes":3}`)); string(body) != `"aaa"` {
			t.Errorf("after: %d %s", resp.StatusCode, body)
		}
	})
}

func TestBadRequests(t *testing.T) {
	url := endpoint(t, "echo", nil)
	resp, body := post(t, url, []byte(`{"unclosed":`))
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "InvalidRequestContentException" {
		t.Errorf("bad JSON: %d %v", resp.StatusCode, resp.Header)
	}
	goldenJSON(t, "invalid-json.json", body)

	resp, _ = post(t, url, []byte(`{}`), "X-Amz-Client-Context: not base64!")
	if resp.StatusCode != 400 {
		t.Errorf("bad client context: %d", resp.StatusCode)
	}
	resp, body = post(t, url, []byte(`{}`), "X-Amz-Invocation-Type: Sometimes")
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "InvalidParameterValueException" {
		t.Errorf("bad invocation type: %d %s", resp.StatusCode, body)
	}
	r, err := http.Get(strings.TrimSuffix(url, invokePath) + "/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 404 || r.Header.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" {
		t.Errorf("unknown path: %d %v", r.StatusCode, r.Header)
	}
}

func TestInvocationTypes(t *testing.T) {
	url := endpoint(t, "echo", nil)
	if resp, body := post(t, url, []byte(`{}`), "X-Amz-Invocation-Type: DryRun"); resp.StatusCode != 204 || len(body) != 0 {
		t.Errorf("DryRun: %d %s", resp.StatusCode, body)
	}
	if resp, body := post(t, url, []byte(`{}`), "X-Amz-Invocation-Type: Event"); resp.StatusCode != 202 || len(body) != 0 {
		t.Errorf("Event: %d %s", resp.StatusCode, body)
	}
	big := []byte(`"` + strings.Repeat("a", invocation.MaxAsyncRequest) + `"`)
	if resp, _ := post(t, url, big, "X-Amz-Invocation-Type: Event"); resp.StatusCode != 413 {
		t.Errorf("Event over 1 MB: %d", resp.StatusCode)
	}
}

func TestClientContextAndTrace(t *testing.T) {
	url := endpoint(t, "context", nil)
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"k":"v"}}`))
	trace := "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
	_, body := post(t, url, []byte(`{}`), "X-Amz-Client-Context: "+cc, "X-Amzn-Trace-Id: "+trace)
	var got struct {
		TraceID       string `json:"traceId"`
		ClientContext struct {
			Custom map[string]string `json:"custom"`
		} `json:"clientContext"`
		InvokedFunctionArn string `json:"invokedFunctionArn"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	if got.TraceID != trace || got.ClientContext.Custom["k"] != "v" {
		t.Errorf("%s", body)
	}
	if got.InvokedFunctionArn != "arn:aws:lambda:us-east-1:123456789012:function:context" {
		t.Errorf("arn %q", got.InvokedFunctionArn)
	}
	// Without a trace header, ember makes one.
	_, body = post(t, url, []byte(`{}`))
	json.Unmarshal(body, &got)
	if !strings.HasPrefix(got.TraceID, "Root=1-") {
		t.Errorf("generated trace id %q", got.TraceID)
	}
}

func TestLogTail(t *testing.T) {
	url := endpoint(t, "logs", nil)
	resp, _ := post(t, url, []byte(`{}`), "X-Amz-Log-Type: Tail")
	tail, err := base64.StdEncoding.DecodeString(resp.Header.Get("X-Amz-Log-Result"))
	if err != nil {
		t.Fatal(err)
	}
	id := resp.Header.Get("X-Amzn-RequestId")
	lines := strings.Split(strings.TrimSuffix(string(tail), "\n"), "\n")
	if len(lines) != 6 || lines[0] != "START RequestId: "+id+" Version: $LATEST" || lines[1] != "hello stdout" ||
		lines[4] != "END RequestId: "+id || !strings.HasPrefix(lines[5], "REPORT RequestId: "+id+"\t") {
		t.Errorf("tail:\n%s", tail)
	}
	if len(tail) > invocation.MaxLogTail {
		t.Errorf("tail of %d bytes", len(tail))
	}
}

func TestThrottleBody(t *testing.T) {
	url := endpoint(t, "sleep", func(o *endpointOptions) { o.limits.Account = 1 })
	// Three overlapping invocations of a function limited to one
	// environment: one runs, the others are throttled.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var throttled [][]byte
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := post(t, url, []byte(`{"ms":500}`))
			if resp.StatusCode == 429 {
				if resp.Header.Get("X-Amzn-ErrorType") != "TooManyRequestsException" {
					t.Errorf("headers %v", resp.Header)
				}
				mu.Lock()
				throttled = append(throttled, body)
				mu.Unlock()
			} else if resp.StatusCode != 200 {
				t.Errorf("status %d: %s", resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	if len(throttled) != 2 {
		t.Fatalf("%d of 3 throttled, want 2", len(throttled))
	}
	goldenJSON(t, "throttle.json", throttled[0])
}

func TestStreamedResponseIsRelayed(t *testing.T) {
	url := endpoint(t, "raw", nil)
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"action":"stream"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("content type %q", resp.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(resp.Body)
	first, err := r.ReadString('\n')
	if err != nil || first != "chunk-0\n" {
		t.Fatalf("first chunk %q %v", first, err)
	}
	// The first chunk arrives before the runtime has written the rest,
	// which takes it two pauses of 100 ms.
	firstAt := time.Now()
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != "chunk-1\nchunk-2\n" {
		t.Errorf("rest %q %v", rest, err)
	}
	if gap := time.Since(firstAt); gap < 150*time.Millisecond {
		t.Errorf("the rest came %v after the first chunk: the response was buffered, not relayed", gap)
	}
	if resp.Trailer.Get("Lambda-Runtime-Function-Error-Type") != "" {
		t.Errorf("error trailer on a clean stream: %v", resp.Trailer)
	}

	resp2, err := http.Post(url, "application/json", strings.NewReader(`{"action":"stream-fail"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	if b, _ := io.ReadAll(resp2.Body); string(b) != "chunk-0\nchunk-1\nchunk-2\n" {
		t.Errorf("body %q", b)
	}
	body, err := base64.StdEncoding.DecodeString(resp2.Trailer.Get("Lambda-Runtime-Function-Error-Body"))
	if err != nil || resp2.Trailer.Get("Lambda-Runtime-Function-Error-Type") != "Custom.StreamBroke" {
		t.Fatalf("trailers %v", resp2.Trailer)
	}
	goldenJSON(t, "stream-error.json", body)
}

func TestRuntimeProtocolErrors(t *testing.T) {
	url := endpoint(t, "raw", nil)
	// The raw runtime posts to a wrong id first, then answers properly.
	if resp, body := post(t, url, []byte(`{"action":"wrong-id"}`)); string(body) != `{"ok":true}` {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
	resp, body := post(t, url, []byte(`{"action":"error"}`))
	if resp.Header.Get("X-Amz-Function-Error") != "Unhandled" {
		t.Errorf("headers %v", resp.Header)
	}
	goldenJSON(t, "custom-error.json", body)
	// Every header the runtime got.
	_, body = post(t, url, []byte(`{"action":"headers"}`), "X-Amzn-Trace-Id: Root=1-00000000-000000000000000000000000")
	var h map[string]string
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Lambda-Runtime-Aws-Request-Id", "Lambda-Runtime-Deadline-Ms", "Lambda-Runtime-Invoked-Function-Arn", "Lambda-Runtime-Trace-Id"} {
		if h[k] == "" {
			t.Errorf("header %s missing: %v", k, h)
		}
	}
	for _, k := range []string{"Lambda-Runtime-Client-Context", "Lambda-Runtime-Cognito-Identity", "Lambda-Runtime-Aws-Tenant-Id"} {
		if _, ok := h[k]; ok {
			t.Errorf("empty header %s sent", k)
		}
	}
}

func TestStreamedResponseWithinBandwidth(t *testing.T) {
	// 8 bytes uncapped, then 16 bytes a second: the raw runtime's three
	// lines (24 bytes, written over 200 ms) take about a second more.
	url := endpoint(t, "raw", func(o *endpointOptions) {
		o.bandwidth = invokewire.Bandwidth{Burst: 8, Rate: 16}
	})
	start := time.Now()
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"action":"stream"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil || string(body) != "chunk-0\nchunk-1\nchunk-2\n" {
		t.Fatalf("body %q, %v", body, err)
	}
	if took < 900*time.Millisecond {
		t.Errorf("24 bytes at 8 then 16 bytes/s came in %v: the cap did not hold", took)
	}
}
