package sigv4

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var (
	testCreds = Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret/with+chars="}
	testKeys  = KeyMap{testCreds.AccessKeyID: testCreds}
	testNow   = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
)

const invokeURL = "http://127.0.0.1:3001/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/invocations?Qualifier=1"

// signed builds a request, signs it with Sign and returns it as a server
// would receive it.
func signedRequest(t testing.TB, method, url string, body []byte, creds Credentials, at time.Time, edit func(*http.Request)) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Amz-Invocation-Type", "RequestResponse")
	if edit != nil {
		edit(r)
	}
	if err := Sign(r, body, creds, "us-east-1", "lambda", at); err != nil {
		t.Fatal(err)
	}
	return asServerRequest(t, r, body)
}

// asServerRequest turns a client request into the request a server reads:
// RequestURI as on the wire, Host, Content-Length among the headers.
func asServerRequest(t testing.TB, r *http.Request, body []byte) *http.Request {
	t.Helper()
	s := httptest.NewRequest(r.Method, r.URL.RequestURI(), bytes.NewReader(body))
	s.Host = r.URL.Host
	if r.Host != "" {
		s.Host = r.Host
	}
	for k, v := range r.Header {
		s.Header[k] = v
	}
	return s
}

func wantError(t *testing.T, err error, code string, status int, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v, want %s", err, code)
	}
	if e.Code != code || e.Status != status {
		t.Fatalf("error %s %d %q, want %s %d", e.Code, e.Status, e.Message, code, status)
	}
	if msg != "" && e.Message != msg {
		t.Fatalf("message\n got %q\nwant %q", e.Message, msg)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	body := []byte(`{"hello":"world"}`)
	for _, url := range []string{
		invokeURL,
		"http://127.0.0.1:3001/2015-03-31/functions",
		"http://127.0.0.1:3001/2015-03-31/functions?MaxItems=10&Marker=a%2Fb%20c%3D%2B",
		"http://127.0.0.1:3001/2015-03-31/functions/my-fn:prod/configuration",
		"http://127.0.0.1:3001/2015-03-31/functions/my%20fn/configuration?Qualifier=%24LATEST",
		"http://localhost/2015-03-31/functions?b=2&a=2&a=1&c",
	} {
		for _, creds := range []Credentials{testCreds, {AccessKeyID: "ASIATEMP", SecretAccessKey: "s", SessionToken: "token=="}} {
			r := signedRequest(t, "POST", url, body, creds, testNow, nil)
			got, err := Verify(r, body, KeyMap{creds.AccessKeyID: creds}, "lambda", testNow.Add(4*time.Minute))
			if err != nil {
				t.Fatalf("%s: %v\n%s", url, err, r.Header.Get("Authorization"))
			}
			if got != creds {
				t.Fatalf("credentials %+v, want %+v", got, creds)
			}
		}
	}
}

func TestVerifyUnsignedPayload(t *testing.T) {
	r := signedRequest(t, "POST", invokeURL, []byte("{}"), testCreds, testNow, func(r *http.Request) {
		r.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
	})
	if _, err := Verify(r, []byte(`{"other":"body"}`), testKeys, "lambda", testNow); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRefusals(t *testing.T) {
	body := []byte(`{"a":1}`)
	sign := func(edit func(*http.Request)) *http.Request {
		return signedRequest(t, "POST", invokeURL, body, testCreds, testNow, edit)
	}
	// setAuth replaces one part of the Authorization header.
	setAuth := func(r *http.Request, old, new string) *http.Request {
		h := r.Header.Get("Authorization")
		if !strings.Contains(h, old) {
			t.Fatalf("%q not in %q", old, h)
		}
		r.Header.Set("Authorization", strings.Replace(h, old, new, 1))
		return r
	}
	const mismatch = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

	for _, c := range []struct {
		name   string
		req    func() *http.Request
		body   []byte
		keys   Keys
		code   string
		status int
		msg    string
	}{
		{
			name: "no authorization",
			req: func() *http.Request {
				return httptest.NewRequest("POST", "/2015-03-31/functions/f/invocations", nil)
			},
			code: CodeMissingAuthenticationToken, status: 403, msg: "Missing Authentication Token",
		},
		{
			name: "not a SigV4 authorization",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "/2015-03-31/functions", nil)
				r.Header.Set("Authorization", "Bearer abc")
				return r
			},
			code: CodeMissingAuthenticationToken, status: 403, msg: "Missing Authentication Token",
		},
		{
			name: "missing parameters",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "/2015-03-31/functions", nil)
				r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20240101/us-east-1/lambda/aws4_request")
				return r
			},
			code: CodeIncompleteSignature, status: 403,
			msg: "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. " +
				"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. " +
				"Authorization=AWS4-HMAC-SHA256 Credential=AKIDTEST/20240101/us-east-1/lambda/aws4_request",
		},
		{
			name: "parameter without equal sign",
			req: func() *http.Request {
				return setAuth(sign(nil), "Credential=AKIDTEST/", "Credential=AKIDTEST /")
			},
			code: CodeIncompleteSignature, status: 403,
		},
		{
			name: "bad date",
			req: func() *http.Request {
				r := sign(nil)
				r.Header.Set("X-Amz-Date", "2024-01-01T12:00:00Z")
				return r
			},
			code: CodeIncompleteSignature, status: 403,
			msg: "Date must be in ISO-8601 'basic format'. Got '2024-01-01T12:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601",
		},
		{
			name: "expired",
			req: func() *http.Request {
				return signedRequest(t, "POST", invokeURL, body, testCreds, testNow.Add(-5*time.Minute-time.Second), nil)
			},
			code: CodeInvalidSignature, status: 403,
			msg: "Signature expired: 20240101T115459Z is now earlier than 20240101T115500Z (20240101T120000Z - 5 min.)",
		},
		{
			name: "not yet current",
			req: func() *http.Request {
				return signedRequest(t, "POST", invokeURL, body, testCreds, testNow.Add(6*time.Minute), nil)
			},
			code: CodeInvalidSignature, status: 403,
			msg: "Signature not yet current: 20240101T120600Z is still later than 20240101T120500Z (20240101T120000Z + 5 min.)",
		},
		{
			name: "host not signed",
			req: func() *http.Request {
				return setAuth(sign(nil), "SignedHeaders=content-type;host;", "SignedHeaders=content-type;")
			},
			code: CodeInvalidSignature, status: 403, msg: "'Host' must be a 'SignedHeader' in the AWS Authorization.",
		},
		{
			name: "other algorithm",
			req:  func() *http.Request { return setAuth(sign(nil), "AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA512 ") },
			code: CodeIncompleteSignature, status: 403,
			msg: "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). ",
		},
		{
			name: "short credential",
			req:  func() *http.Request { return setAuth(sign(nil), "/us-east-1/lambda/", "/lambda/") },
			code: CodeIncompleteSignature, status: 403,
			msg: "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDTEST/20240101/lambda/aws4_request'",
		},
		{
			name: "wrong scope",
			req: func() *http.Request {
				return setAuth(sign(nil), "/20240101/us-east-1/lambda/aws4_request", "/20240102/us-east-1/s3/aws5_request")
			},
			code: CodeInvalidSignature, status: 403,
			msg: "Credential should be scoped to correct service: 'lambda'. " +
				"Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. " +
				"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240102' != '20240101', from '20240101T120000Z'.",
		},
		{
			name: "unknown key",
			req:  func() *http.Request { return sign(nil) },
			keys: KeyMap{"OTHER": {AccessKeyID: "OTHER", SecretAccessKey: "x"}},
			code: CodeUnrecognizedClient, status: 403, msg: "The security token included in the request is invalid.",
		},
		{
			name: "no keys",
			req:  func() *http.Request { return sign(nil) },
			keys: KeyMap(nil),
			code: CodeUnrecognizedClient, status: 403,
		},
		{
			name: "wrong secret",
			req: func() *http.Request {
				return signedRequest(t, "POST", invokeURL, body, Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "other"}, testNow, nil)
			},
			code: CodeInvalidSignature, status: 403, msg: mismatch,
		},
		{
			name: "body changed",
			req:  func() *http.Request { return sign(nil) },
			body: []byte(`{"a":2}`),
			code: CodeInvalidSignature, status: 403, msg: mismatch,
		},
		{
			name: "X-Amz-Content-Sha256 of another body",
			req: func() *http.Request {
				return sign(func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", hashHex([]byte("x"))) })
			},
			code: CodeInvalidSignature, status: 403, msg: mismatch,
		},
		{
			name: "path changed",
			req: func() *http.Request {
				r := sign(nil)
				r.RequestURI = strings.Replace(r.RequestURI, "my-fn", "my-fm", 1)
				return r
			},
			code: CodeInvalidSignature, status: 403, msg: mismatch,
		},
		{
			name: "ARN path decoded",
			req: func() *http.Request {
				r := sign(nil)
				r.RequestURI = strings.ReplaceAll(r.RequestURI, "%3A", ":")
				return r
			},
			code: CodeInvalidSignature, status: 403, msg: mismatch,
		},
		{
			name: "query changed",
			req: func() *http.Request {
				r := sign(nil)
				r.URL.RawQuery = "Qualifier=2"
				return r
			},
			code: CodeInvalidSignature, status: 403, msg: mismatch,
		},
		{
			name: "signed header changed",
			req: func() *http.Request {
				r := sign(nil)
				r.Header.Set("X-Amz-Invocation-Type", "Event")
				return r
			},
			code: CodeInvalidSignature, status: 403, msg: mismatch,
		},
		{
			name: "host changed",
			req: func() *http.Request {
				r := sign(nil)
				r.Host = "127.0.0.1:3002"
				return r
			},
			code: CodeInvalidSignature, status: 403, msg: mismatch,
		},
		{
			name: "method changed",
			req: func() *http.Request {
				r := sign(nil)
				r.Method = "PUT"
				return r
			},
			code: CodeInvalidSignature, status: 403, msg: mismatch,
		},
		{
			name: "session token missing",
			req:  func() *http.Request { return sign(nil) },
			keys: KeyMap{"AKIDTEST": {AccessKeyID: "AKIDTEST", SecretAccessKey: testCreds.SecretAccessKey, SessionToken: "tok"}},
			code: CodeUnrecognizedClient, status: 403, msg: "The security token included in the request is invalid.",
		},
		{
			name: "session token wrong",
			req: func() *http.Request {
				c := testCreds
				c.SessionToken = "forged"
				return signedRequest(t, "POST", invokeURL, body, c, testNow, nil)
			},
			keys: KeyMap{"AKIDTEST": {AccessKeyID: "AKIDTEST", SecretAccessKey: testCreds.SecretAccessKey, SessionToken: "tok"}},
			code: CodeUnrecognizedClient, status: 403, msg: "The security token included in the request is invalid.",
		},
		{
			name: "session token the key has not",
			req: func() *http.Request {
				c := testCreds
				c.SessionToken = "tok"
				return signedRequest(t, "POST", invokeURL, body, c, testNow, nil)
			},
			code: CodeUnrecognizedClient, status: 403,
		},
		{
			name: "header and query signature",
			req: func() *http.Request {
				r := sign(nil)
				r.URL.RawQuery += "&X-Amz-Signature=abc"
				return r
			},
			code: CodeIncompleteSignature, status: 403,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := body
			if c.body != nil {
				b = c.body
			}
			keys := c.keys
			if keys == nil {
				keys = testKeys
			}
			_, err := Verify(c.req(), b, keys, "lambda", testNow)
			wantError(t, err, c.code, c.status, c.msg)
		})
	}
}

// The window is five minutes each way, boundaries included.
func TestVerifyClockWindow(t *testing.T) {
	for _, d := range []time.Duration{-MaxSkew, MaxSkew, 0} {
		r := signedRequest(t, "GET", invokeURL, nil, testCreds, testNow.Add(d), nil)
		if _, err := Verify(r, nil, testKeys, "lambda", testNow); err != nil {
			t.Errorf("signed at now%+v: %v", d, err)
		}
	}
}

// A request may carry Date instead of X-Amz-Date.
func TestVerifyDateHeader(t *testing.T) {
	r, err := http.NewRequest("GET", "http://127.0.0.1:3001/2015-03-31/functions", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Date", testNow.Format(http.TimeFormat))
	names := []string{"date", "host"}
	c := canonicalRequest{method: "GET", uri: "/2015-03-31/functions", headers: canonicalHeaders(r, r.URL.Host, names),
		signedHeaders: "date;host", payloadHash: hashHex(nil)}
	scope := "20240101/us-east-1/lambda/aws4_request"
	sig := signature(signingKey(testCreds.SecretAccessKey, "20240101", "us-east-1", "lambda"), stringToSign("20240101T120000Z", scope, c))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/"+scope+", SignedHeaders=date;host, Signature="+sig)
	if _, err := Verify(asServerRequest(t, r, nil), nil, testKeys, "lambda", testNow); err != nil {
		t.Fatal(err)
	}
}

// A client that signs a URL with the default port signs the host without it.
func TestVerifyDefaultPort(t *testing.T) {
	r := signedRequest(t, "GET", "http://example.com/2015-03-31/functions", nil, testCreds, testNow, nil)
	r.Host = "example.com:80"
	if _, err := Verify(r, nil, testKeys, "lambda", testNow); err != nil {
		t.Fatal(err)
	}
}

func TestNormalizePath(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "/",
		"/":                           "/",
		"//example//":                 "/example/",
		"/example1/example2/../..":    "/",
		"/a/./b/../c":                 "/a/c",
		"/2015-03-31/functions/f/":    "/2015-03-31/functions/f/",
		"/2015-03-31/functions/a%3Ab": "/2015-03-31/functions/a%3Ab",
	} {
		if got := normalizePath(in); got != want {
			t.Errorf("normalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	for in, want := range map[string]string{
		"":                                "",
		"Qualifier=1":                     "Qualifier=1",
		"MaxItems=10&Marker=a%2Fb+c%3D":   "Marker=a%2Fb%20c%3D&MaxItems=10",
		"b=2&a=2&a=1&c":                   "a=1&a=2&b=2&c=",
		"k=%7e%2a":                        "k=~%2A",
		"X-Amz-Signature=abc&Qualifier=1": "Qualifier=1",
	} {
		if got := canonicalQuery(in, "X-Amz-Signature"); got != want {
			t.Errorf("canonicalQuery(%q) = %q, want %q", in, got, want)
		}
	}
}
