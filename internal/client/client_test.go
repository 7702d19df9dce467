package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/sigv4"
)

var (
	testCreds = sigv4.Credentials{AccessKeyID: "AKIDCLIENT", SecretAccessKey: "c2VjcmV0/key+", SessionToken: "session=="}
	testKeys  = sigv4.KeyMap{testCreds.AccessKeyID: testCreds}
)

const (
	fnARN      = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
	arnEscaped = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn"
)

// call is one request as the fake API received it.
type call struct {
	method string
	uri    string // the request-target as sent: escaped path and query
	header http.Header
	body   []byte
}

// fakeAPI is a Lambda API in a test: it checks each request's SigV4
// signature with sigv4.Verify (or that it is unsigned, when keys is nil),
// records it, and answers with the test's handler.
type fakeAPI struct {
	t      *testing.T
	url    string
	keys   sigv4.Keys
	handle func(w http.ResponseWriter, c call)

	mu    sync.Mutex
	calls []call
}

func newFakeAPI(t *testing.T, keys sigv4.Keys, handle func(w http.ResponseWriter, c call)) (*fakeAPI, *Client) {
	t.Helper()
	f := &fakeAPI{t: t, keys: keys, handle: handle}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	o := Options{Endpoint: srv.URL + "/"}
	if keys != nil {
		o.Credentials = &testCreds
	}
	return f, New(o)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("read body: %v", err)
		return
	}
	if f.keys != nil {
		if _, err := sigv4.Verify(r, body, f.keys, "lambda", time.Now()); err != nil {
			f.t.Errorf("%s %s: %v", r.Method, r.RequestURI, err)
			w.Header().Set("X-Amzn-ErrorType", "InvalidSignatureException")
			w.WriteHeader(http.StatusForbidden)
			return
		}
	} else if h := r.Header.Get("Authorization"); h != "" {
		f.t.Errorf("unsigned client sent Authorization %q", h)
	}
	c := call{method: r.Method, uri: r.RequestURI, header: r.Header, body: body}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	w.Header().Set("X-Amzn-RequestId", "req-"+strconv.Itoa(len(f.calls)))
	f.handle(w, c)
}

// all returns the calls the API received.
func (f *fakeAPI) all() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// only returns the one call the API received.
func (f *fakeAPI) only() call {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) != 1 {
		f.t.Fatalf("%d calls, want 1", len(f.calls))
	}
	return f.calls[0]
}

func (c call) want(t *testing.T, method, uri string) {
	t.Helper()
	if c.method != method || c.uri != uri {
		t.Errorf("request %s %s, want %s %s", c.method, c.uri, method, uri)
	}
}

// wantJSON compares a JSON body with the JSON want, as values.
func (c call) wantJSON(t *testing.T, want string) {
	t.Helper()
	if ct := c.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var got, w any
	if err := json.Unmarshal(c.body, &got); err != nil {
		t.Fatalf("body %q: %v", c.body, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, w) {
		t.Errorf("body\n got %s\nwant %s", c.body, want)
	}
}

func golden(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/function-configuration.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func answer(status int, body []byte) func(http.ResponseWriter, call) {
	return func(w http.ResponseWriter, _ call) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}
}

// The configuration AWS returns decodes with every field kept: encoded
// again it is the same JSON, less AWS's empty values.
func TestFunctionConfigurationGolden(t *testing.T) {
	b := golden(t)
	var fc FunctionConfiguration
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(fc)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	json.Unmarshal(b, &want)
	json.Unmarshal(again, &got)
	want = pruneEmpty(want)
	wm, gm := want.(map[string]any), got.(map[string]any)
	for k, v := range wm {
		if !reflect.DeepEqual(gm[k], v) {
			t.Errorf("%s: got %v, want %v", k, gm[k], v)
		}
	}
	for k := range gm {
		if _, ok := wm[k]; !ok {
			t.Errorf("%s: not in the golden file", k)
		}
	}
	if fc.Environment.Variables["PREFIX"] != "inbound" || fc.EphemeralStorage.Size != 512 || fc.CodeSize != 5797206 ||
		fc.Layers[0].Arn != "arn:aws:lambda:us-east-1:123456789012:layer:deps:3" || fc.Architectures[0] != "x86_64" {
		t.Errorf("decoded %+v", fc)
	}
}

// pruneEmpty drops the empty strings, lists and objects of a JSON value.
func pruneEmpty(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			e = pruneEmpty(e)
			if e == nil {
				delete(v, k)
			} else {
				v[k] = e
			}
		}
		if len(v) == 0 {
			return nil
		}
	case []any:
		if len(v) == 0 {
			return nil
		}
	case string:
		if v == "" {
			return nil
		}
	}
	return v
}

func TestCreateFunction(t *testing.T) {
	f, c := newFakeAPI(t, testKeys, answer(http.StatusCreated, golden(t)))
	zip := []byte("PK\x05\x06" + strings.Repeat("\x00", 18))
	mem, timeout, tmp := 256, 30, 1024
	got, err := c.CreateFunction(context.Background(), CreateFunctionInput{
		FunctionName: "my-fn", Runtime: "provided.al2023", Role: "arn:aws:iam::123456789012:role/r", Handler: "bootstrap",
		Description: "d", ZipFile: zip, MemorySize: &mem, Timeout: &timeout, Environment: map[string]string{"A": "1"},
		EphemeralStorageMB: &tmp, Architectures: []string{"arm64"}, Publish: true,
		Layers: []string{"arn:aws:lambda:us-east-1:123456789012:layer:deps:3"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := f.only()
	r.want(t, "POST", "/2015-03-31/functions")
	r.wantJSON(t, `{"FunctionName":"my-fn","Runtime":"provided.al2023","Role":"arn:aws:iam::123456789012:role/r",
		"Handler":"bootstrap","Description":"d","Code":{"ZipFile":"`+base64.StdEncoding.EncodeToString(zip)+`"},
		"MemorySize":256,"Timeout":30,"Environment":{"Variables":{"A":"1"}},"EphemeralStorage":{"Size":1024},
		"Architectures":["arm64"],"Publish":true,"Layers":["arn:aws:lambda:us-east-1:123456789012:layer:deps:3"]}`)
	if got.FunctionArn != fnARN || got.MemorySize != 256 || got.State != "Active" {
		t.Errorf("configuration %+v", got)
	}

	// What is not set is not sent.
	f, c = newFakeAPI(t, testKeys, answer(http.StatusCreated, []byte(`{"FunctionName":"f"}`)))
	if _, err := c.CreateFunction(context.Background(), CreateFunctionInput{FunctionName: "f", ZipFile: zip}); err != nil {
		t.Fatal(err)
	}
	f.only().wantJSON(t, `{"FunctionName":"f","Code":{"ZipFile":"`+base64.StdEncoding.EncodeToString(zip)+`"}}`)
}

func TestGetFunctionConfiguration(t *testing.T) {
	for _, c := range []struct{ name, qualifier, uri string }{
		{"my-fn", "", "/2015-03-31/functions/my-fn/configuration"},
		{fnARN, "1", "/2015-03-31/functions/" + arnEscaped + "/configuration?Qualifier=1"},
		{"my-fn:prod", "$LATEST", "/2015-03-31/functions/my-fn%3Aprod/configuration?Qualifier=%24LATEST"},
		{"123456789012:function:my fn", "", "/2015-03-31/functions/123456789012%3Afunction%3Amy%20fn/configuration"},
	} {
		f, cl := newFakeAPI(t, testKeys, answer(http.StatusOK, golden(t)))
		got, err := cl.GetFunctionConfiguration(context.Background(), c.name, c.qualifier)
		if err != nil {
			t.Fatal(err)
		}
		f.only().want(t, "GET", c.uri)
		if got.FunctionName != "my-fn" {
			t.Errorf("configuration %+v", got)
		}
	}
}

func TestUpdateFunctionCode(t *testing.T) {
	f, c := newFakeAPI(t, testKeys, answer(http.StatusOK, golden(t)))
	if _, err := c.UpdateFunctionCode(context.Background(), fnARN, []byte("zip"), true); err != nil {
		t.Fatal(err)
	}
	r := f.only()
	r.want(t, "PUT", "/2015-03-31/functions/"+arnEscaped+"/code")
	r.wantJSON(t, `{"ZipFile":"emlw","Publish":true}`)
}

func TestUpdateFunctionConfiguration(t *testing.T) {
	desc, mem, tmp := "new", 512, 2048
	for _, c := range []struct {
		in   UpdateFunctionConfigurationInput
		body string
	}{
		{UpdateFunctionConfigurationInput{FunctionName: "my-fn", Description: &desc, MemorySize: &mem, EphemeralStorageMB: &tmp},
			`{"Description":"new","MemorySize":512,"EphemeralStorage":{"Size":2048}}`},
		{UpdateFunctionConfigurationInput{FunctionName: "my-fn", Environment: map[string]string{"K": "v w"}},
			`{"Environment":{"Variables":{"K":"v w"}}}`},
		{UpdateFunctionConfigurationInput{FunctionName: "my-fn", Environment: map[string]string{}},
			`{"Environment":{"Variables":{}}}`},
		{UpdateFunctionConfigurationInput{FunctionName: "my-fn"}, `{}`},
	} {
		f, cl := newFakeAPI(t, testKeys, answer(http.StatusOK, golden(t)))
		if _, err := cl.UpdateFunctionConfiguration(context.Background(), c.in); err != nil {
			t.Fatal(err)
		}
		r := f.only()
		r.want(t, "PUT", "/2015-03-31/functions/my-fn/configuration")
		r.wantJSON(t, c.body)
	}
}

func TestListFunctionsPages(t *testing.T) {
	// Three pages; the markers need escaping in a query.
	pages := map[string]string{
		"":             `{"Functions":[{"FunctionName":"a"},{"FunctionName":"b"}],"NextMarker":"m/1 2+3=="}`,
		"m/1 2+3==":    `{"Functions":[{"FunctionName":"c"},{"FunctionName":"d"}],"NextMarker":"m:2&x"}`,
		"m:2&x":        `{"Functions":[{"FunctionName":"e"}],"NextMarker":null}`,
		"never-issued": `{}`,
	}
	f, c := newFakeAPI(t, testKeys, func(w http.ResponseWriter, r call) {
		u, err := http.NewRequest("GET", r.uri, nil)
		if err != nil {
			t.Error(err)
			return
		}
		page, ok := pages[u.URL.Query().Get("Marker")]
		if !ok {
			t.Errorf("unknown marker in %s", r.uri)
		}
		w.Write([]byte(page))
	})
	fns, err := c.ListFunctions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fn := range fns {
		names = append(names, fn.FunctionName)
	}
	if strings.Join(names, ",") != "a,b,c,d,e" {
		t.Errorf("functions %v", names)
	}
	var uris []string
	for _, r := range f.all() {
		if r.method != "GET" {
			t.Errorf("method %s", r.method)
		}
		uris = append(uris, r.uri)
	}
	want := []string{"/2015-03-31/functions", "/2015-03-31/functions?Marker=m%2F1%202%2B3%3D%3D", "/2015-03-31/functions?Marker=m%3A2%26x"}
	if !reflect.DeepEqual(uris, want) {
		t.Errorf("requests\n got %q\nwant %q", uris, want)
	}
}

// A server that hands out a marker again would page forever.
func TestListFunctionsRepeatedMarker(t *testing.T) {
	_, c := newFakeAPI(t, testKeys, answer(http.StatusOK, []byte(`{"Functions":[{"FunctionName":"a"}],"NextMarker":"same"}`)))
	if _, err := c.ListFunctions(context.Background()); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("error %v", err)
	}
}

func TestDeleteFunction(t *testing.T) {
	for _, status := range []int{http.StatusNoContent, http.StatusOK} {
		f, c := newFakeAPI(t, testKeys, func(w http.ResponseWriter, _ call) { w.WriteHeader(status) })
		if err := c.DeleteFunction(context.Background(), fnARN, "2"); err != nil {
			t.Fatalf("status %d: %v", status, err)
		}
		f.only().want(t, "DELETE", "/2015-03-31/functions/"+arnEscaped+"?Qualifier=2")
	}
	f, c := newFakeAPI(t, testKeys, func(w http.ResponseWriter, _ call) { w.WriteHeader(http.StatusNoContent) })
	if err := c.DeleteFunction(context.Background(), "my-fn", ""); err != nil {
		t.Fatal(err)
	}
	f.only().want(t, "DELETE", "/2015-03-31/functions/my-fn")
}

func TestPublishVersion(t *testing.T) {
	f, c := newFakeAPI(t, testKeys, answer(http.StatusCreated, []byte(`{"FunctionName":"my-fn","Version":"3"}`)))
	got, err := c.PublishVersion(context.Background(), "my-fn", "release 3")
	if err != nil {
		t.Fatal(err)
	}
	r := f.only()
	r.want(t, "POST", "/2015-03-31/functions/my-fn/versions")
	r.wantJSON(t, `{"Description":"release 3"}`)
	if got.Version != "3" {
		t.Errorf("version %q", got.Version)
	}
}

func TestAPIErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   APIError
	}{
		{
			name: "not found", status: 404,
			header: map[string]string{"X-Amzn-ErrorType": "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.awslambda/"},
			body:   `{"Type":"User","Message":"Function not found: ` + fnARN + `"}`,
			want:   APIError{Status: 404, Code: "ResourceNotFoundException", Message: "Function not found: " + fnARN, RequestID: "req-1"},
		},
		{
			name: "throttled", status: 429,
			header: map[string]string{"X-Amzn-ErrorType": "TooManyRequestsException", "Retry-After": "1"},
			body:   `{"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}`,
			want: APIError{Status: 429, Code: "TooManyRequestsException", Message: "Rate Exceeded.",
				Reason: "ReservedFunctionConcurrentInvocationLimitExceeded", RequestID: "req-1"},
		},
		{
			name: "signature", status: 403,
			header: map[string]string{"X-Amzn-ErrorType": "InvalidSignatureException"},
			body:   `{"message":"The request signature we calculated does not match the signature you provided."}`,
			want: APIError{Status: 403, Code: "InvalidSignatureException",
				Message: "The request signature we calculated does not match the signature you provided.", RequestID: "req-1"},
		},
		{
			name: "code in the body", status: 400,
			body: `{"__type":"com.amazon.coral.validate#ValidationException","message":"1 validation error detected"}`,
			want: APIError{Status: 400, Code: "ValidationException", Message: "1 validation error detected", RequestID: "req-1"},
		},
		{
			name: "not JSON", status: 502, body: "Bad Gateway\n",
			want: APIError{Status: 502, Message: "Bad Gateway", RequestID: "req-1"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, cl := newFakeAPI(t, testKeys, func(w http.ResponseWriter, _ call) {
				for k, v := range c.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
			})
			_, err := cl.GetFunctionConfiguration(context.Background(), "my-fn", "")
			var e *APIError
			if !errors.As(err, &e) {
				t.Fatalf("error %v", err)
			}
			if *e != c.want {
				t.Errorf("error\n got %+v\nwant %+v", *e, c.want)
			}
			if !strings.Contains(err.Error(), "GetFunctionConfiguration my-fn") || !strings.Contains(err.Error(), c.want.Message) {
				t.Errorf("message %q", err)
			}
		})
	}
}

func TestInvoke(t *testing.T) {
	logTail := "START RequestId: r Version: $LATEST\nEND RequestId: r\n"
	f, c := newFakeAPI(t, testKeys, func(w http.ResponseWriter, r call) {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		w.Header().Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString([]byte(logTail)))
		w.Header().Set("X-Amz-Executed-Version", "7")
		w.Write([]byte(`{"errorMessage":"boom","errorType":"Error"}`))
	})
	out, err := c.Invoke(context.Background(), InvokeInput{
		FunctionName: fnARN, Qualifier: "prod", Payload: []byte(`{"key": "value"}`),
		InvocationType: "RequestResponse", LogTail: true, ClientContext: []byte(`{"custom":{"a":1}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := f.only()
	r.want(t, "POST", "/2015-03-31/functions/"+arnEscaped+"/invocations?Qualifier=prod")
	if string(r.body) != `{"key": "value"}` {
		t.Errorf("payload %q", r.body)
	}
	for k, v := range map[string]string{
		"X-Amz-Invocation-Type": "RequestResponse",
		"X-Amz-Log-Type":        "Tail",
		"X-Amz-Client-Context":  base64.StdEncoding.EncodeToString([]byte(`{"custom":{"a":1}}`)),
		"Content-Type":          "application/json",
	} {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	want := InvokeOutput{StatusCode: 200, Payload: []byte(`{"errorMessage":"boom","errorType":"Error"}`), FunctionError: "Unhandled",
		ExecutedVersion: "7", LogResult: logTail, RequestID: "req-1"}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("output\n got %+v\nwant %+v", out, want)
	}
}

func TestInvokeTypes(t *testing.T) {
	for _, c := range []struct {
		typ    string
		status int
	}{{"Event", http.StatusAccepted}, {"DryRun", http.StatusNoContent}, {"", http.StatusOK}} {
		f, cl := newFakeAPI(t, testKeys, func(w http.ResponseWriter, _ call) { w.WriteHeader(c.status) })
		out, err := cl.Invoke(context.Background(), InvokeInput{FunctionName: "my-fn", InvocationType: c.typ})
		if err != nil {
			t.Fatal(err)
		}
		if out.StatusCode != c.status || len(out.Payload) != 0 || out.FunctionError != "" || out.LogResult != "" {
			t.Errorf("%q: output %+v", c.typ, out)
		}
		r := f.only()
		r.want(t, "POST", "/2015-03-31/functions/my-fn/invocations")
		if got := r.header.Get("X-Amz-Invocation-Type"); got != c.typ {
			t.Errorf("X-Amz-Invocation-Type %q, want %q", got, c.typ)
		}
		for _, h := range []string{"X-Amz-Log-Type", "X-Amz-Client-Context"} {
			if v := r.header.Get(h); v != "" {
				t.Errorf("%s: %q sent unasked", h, v)
			}
		}
	}
}

func TestInvokeBadLogResult(t *testing.T) {
	_, c := newFakeAPI(t, testKeys, func(w http.ResponseWriter, _ call) { w.Header().Set("X-Amz-Log-Result", "not base64!") })
	if _, err := c.Invoke(context.Background(), InvokeInput{FunctionName: "f", LogTail: true}); err == nil {
		t.Error("a log result that is not base64 passed")
	}
}

// Without credentials the client sends no signature.
func TestUnsigned(t *testing.T) {
	f, c := newFakeAPI(t, nil, answer(http.StatusOK, []byte(`{"Functions":[]}`)))
	if _, err := c.ListFunctions(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		if v := f.only().header.Get(h); v != "" {
			t.Errorf("%s: %q", h, v)
		}
	}
}
