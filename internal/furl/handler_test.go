package furl

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/sigv4"
)

// testHandler serves two URLs: testURLID (NONE, with CORS) and an
// AWS_IAM one. Its function answers by the event's path: /echo returns
// the event, /throttle, /timeout and /fail fail as named.
func testHandler(t *testing.T, keys sigv4.Keys) (http.Handler, *atomic.Int32) {
	var calls atomic.Int32
	h := NewHandler(Options{
		Lookup: func(_ context.Context, id string) (Target, error) {
			switch id {
			case testURLID:
				return Target{URLID: id, FunctionName: "fn", AuthType: AuthNone, Cors: &Cors{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}}}, nil
			case iamURLID:
				return Target{URLID: id, FunctionName: "fn", Qualifier: "live", AuthType: AuthIAM}, nil
			}
			return Target{}, invocation.Errorf(invocation.ErrNotFound, "no URL %s", id)
		},
		Invoke: func(_ context.Context, name, qualifier string, req invocation.Request) (invocation.Response, error) {
			calls.Add(1)
			var e struct {
				RawPath string `json:"rawPath"`
			}
			if err := json.Unmarshal(req.Payload, &e); err != nil {
				t.Errorf("the event: %v", err)
			}
			switch e.RawPath {
			case "/throttle":
				return invocation.Response{}, &invocation.ThrottleError{Reason: invocation.ReasonReservedConcurrentLimit}
			case "/timeout":
				return invocation.ErrorResponse("Sandbox.Timedout", "Task timed out after 1.00 seconds"), nil
			case "/fail":
				return invocation.ErrorResponse("Error", "boom"), nil
			case "/prelude":
				return invocation.Response{ContentType: StreamContentType,
					Payload: []byte(`{"statusCode":203,"headers":{"content-type":"text/plain"}}` + "\x00\x00\x00\x00\x00\x00\x00\x00" + "whole")}, nil
			}
			return invocation.Response{Payload: req.Payload}, nil
		},
		Keys:      keys,
		Region:    testRegion,
		AccountID: testAccount,
	})
	return h, &calls
}

const iamURLID = "iamiamiamiamiamiamiamiamiamiamia"

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerAnswers(t *testing.T) {
	h, calls := testHandler(t, nil)
	host := "http://" + testURLID + ".lambda-url.us-east-1.localhost:9001"
	for _, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/throttle", 429, `{"Message":"Rate Exceeded."}`},
		{"/timeout", 504, `{"Message":"Endpoint request timed out"}`},
		{"/fail", 502, "Internal Server Error"},
		{"/prelude", 203, "whole"},
	} {
		w := serve(h, httptest.NewRequest("GET", host+c.path, nil))
		if w.Code != c.status || w.Body.String() != c.body {
			t.Errorf("%s: %d %q; want %d %q", c.path, w.Code, w.Body, c.status, c.body)
		}
	}
	// The path fallback: the rest of the path is the URL's.
	r := httptest.NewRequest("GET", "http://127.0.0.1:9001/lambda-url/"+testURLID+"/echo/x?q=1", nil)
	w := serve(h, r)
	var e struct {
		RawPath        string `json:"rawPath"`
		RawQueryString string `json:"rawQueryString"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &e); w.Code != 200 || err != nil || e.RawPath != "/echo/x" || e.RawQueryString != "q=1" {
		t.Errorf("fallback: %d %s (%v)", w.Code, w.Body, err)
	}
	// An unknown URL and an oversized body.
	if w := serve(h, httptest.NewRequest("GET", "http://bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.lambda-url.us-east-1.localhost/", nil)); w.Code != 403 || w.Body.String() != `{"Message":"Forbidden"}` {
		t.Errorf("unknown URL: %d %q", w.Code, w.Body)
	}
	big := bytes.Repeat([]byte("a"), invocation.MaxSyncRequest+1)
	if w := serve(h, httptest.NewRequest("POST", host+"/echo", bytes.NewReader(big))); w.Code != 413 {
		t.Errorf("oversized body: %d %q", w.Code, w.Body)
	}
	// A preflight is answered without the function; CORS headers go on
	// the function's answers.
	before := calls.Load()
	pf := preflight("https://site.test", "PUT", "")
	pf.Host = testURLID + ".lambda-url.us-east-1.localhost"
	if w := serve(h, pf); w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "*" || calls.Load() != before {
		t.Errorf("preflight: %d %v, %d invocations", w.Code, w.Header(), calls.Load()-before)
	}
	r = httptest.NewRequest("GET", host+"/echo", nil)
	r.Header.Set("Origin", "https://site.test")
	if w := serve(h, r); w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("CORS on a response: %d %v", w.Code, w.Header())
	}
}

func TestHandlerIAM(t *testing.T) {
	creds := sigv4.Credentials{AccessKeyID: "AKIDFURL", SecretAccessKey: "secret"}
	now := time.Now()
	signed := func(secret string) *http.Request {
		body := []byte(`{"a":1}`)
		r := httptest.NewRequest("POST", "http://"+iamURLID+".lambda-url.us-east-1.localhost:9001/echo", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		c := creds
		c.SecretAccessKey = secret
		if err := sigv4.Sign(r, body, c, testRegion, "lambda", now); err != nil {
			t.Fatal(err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		return r
	}
	unsigned := httptest.NewRequest("GET", "http://"+iamURLID+".lambda-url.us-east-1.localhost/echo", nil)

	withKeys, _ := testHandler(t, sigv4.KeyMap{creds.AccessKeyID: creds})
	w := serve(withKeys, signed("secret"))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"accessKey":"AKIDFURL"`) {
		t.Errorf("signed: %d %s", w.Code, w.Body)
	}
	if w := serve(withKeys, signed("wrong")); w.Code != 403 || w.Body.String() != `{"Message":"Forbidden"}` {
		t.Errorf("signed with a wrong secret: %d %s", w.Code, w.Body)
	}
	if w := serve(withKeys, unsigned); w.Code != 403 {
		t.Errorf("unsigned: %d %s", w.Code, w.Body)
	}

	// Without keys a well-formed signature is enough.
	noKeys, _ := testHandler(t, nil)
	if w := serve(noKeys, signed("anything")); w.Code != 200 {
		t.Errorf("signed, no keys: %d %s", w.Code, w.Body)
	}
	if w := serve(noKeys, unsigned); w.Code != 403 {
		t.Errorf("unsigned, no keys: %d %s", w.Code, w.Body)
	}
	bad := signed("x")
	bad.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")
	if w := serve(noKeys, bad); w.Code != 403 {
		t.Errorf("malformed signature, no keys: %d %s", w.Code, w.Body)
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		host, path string
		id, rest   string
		ok         bool
	}{
		{testURLID + ".lambda-url.us-east-1.localhost:9001", "/a/b", testURLID, "/a/b", true},
		{strings.ToUpper(testURLID) + ".LAMBDA-URL.us-east-1.localhost", "/", testURLID, "/", true},
		{"127.0.0.1:9001", "/lambda-url/" + testURLID + "/x/y", testURLID, "/x/y", true},
		{"127.0.0.1:9001", "/lambda-url/" + testURLID, testURLID, "/", true},
		{"127.0.0.1:9001", "/lambda-url/short/x", "", "", false},
		{"short.lambda-url.us-east-1.localhost", "/", "", "", false},
		{"127.0.0.1:9001", "/2015-03-31/functions", "", "", false},
	} {
		r := httptest.NewRequest("GET", "http://x"+c.path, nil)
		r.Host = c.host
		id, rest, ok := Match(r)
		if id != c.id || rest != c.rest || ok != c.ok {
			t.Errorf("Match(%s%s) = %q %q %v; want %q %q %v", c.host, c.path, id, rest, ok, c.id, c.rest, c.ok)
		}
	}
}

// bytesStream is a stream whose bytes are all there.
type bytesStream struct{ *bytes.Reader }

func (bytesStream) Close() error                   { return nil }
func (bytesStream) Err() *invocation.FunctionError { return nil }
func (bytesStream) Written() int64                 { return 0 }

// countingWriter counts what goes through it.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.w.Write(p)
}

// A RESPONSE_STREAM URL asks for a streaming invocation and relays the
// stream through the bandwidth rule; a BUFFERED one asks for none and
// answers the whole response.
func TestHandlerStreamModes(t *testing.T) {
	const body = `{"streamed":true}`
	var through atomic.Int64
	var streaming atomic.Bool
	mode := Streamed
	h := NewHandler(Options{
		Lookup: func(_ context.Context, id string) (Target, error) {
			return Target{URLID: id, FunctionName: "fn", AuthType: AuthNone, InvokeMode: mode}, nil
		},
		Invoke: func(_ context.Context, _, _ string, req invocation.Request) (invocation.Response, error) {
			streaming.Store(req.Streaming)
			return invocation.Response{ContentType: "text/plain", Stream: bytesStream{bytes.NewReader([]byte(body))}}, nil
		},
		Limit:  func(w io.Writer) io.Writer { return countingWriter{w, &through} },
		Region: testRegion, AccountID: testAccount,
	})
	host := "http://" + testURLID + ".lambda-url.us-east-1.localhost"
	w := serve(h, httptest.NewRequest("GET", host+"/", nil))
	if w.Code != 200 || w.Body.String() != body || !streaming.Load() || through.Load() != int64(len(body)) {
		t.Errorf("RESPONSE_STREAM: %d %q, streaming %v, %d bytes through the bandwidth rule", w.Code, w.Body, streaming.Load(), through.Load())
	}
	mode, through = Buffered, atomic.Int64{}
	w = serve(h, httptest.NewRequest("GET", host+"/", nil))
	if w.Code != 200 || w.Body.String() != body || streaming.Load() {
		t.Errorf("BUFFERED: %d %q, streaming %v", w.Code, w.Body, streaming.Load())
	}
}
