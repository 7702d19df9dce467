package sigv4

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzParseAuthorization: any header parses or is refused as an incomplete
// signature, without a panic; what parses keeps the header's parts.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
		"AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/lambda/aws4_request,SignedHeaders=host,Signature=abc",
		"AWS4-HMAC-SHA256 Credential=AKID /20240101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=abc",
		"AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
		"AWS4-HMAC-SHA256",
		"AWS4-",
		"",
		"AWS4-HMAC-SHA256 ====,,,  \t",
		"AWS4-HMAC-SHA256 Credential=a=b=c, Credential=x, SignedHeaders=\x00, Signature=\xff",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, h string, hasDate bool) {
		a, err := parseAuthorization(h, hasDate)
		if err != nil {
			if err.Code != CodeIncompleteSignature || err.Status != http.StatusForbidden || err.Message == "" {
				t.Fatalf("error %+v", err)
			}
			return
		}
		if !hasDate {
			t.Fatal("parsed without a date")
		}
		alg, _, _ := strings.Cut(strings.TrimSpace(h), " ")
		if a.algorithm != alg {
			t.Fatalf("algorithm %q, want %q", a.algorithm, alg)
		}
		for _, v := range []string{a.credential, a.signedHeaders, a.signature} {
			if !strings.Contains(h, v) {
				t.Fatalf("%q not in %q", v, h)
			}
		}
	})
}

// FuzzVerify: whatever the Authorization header, date, path and query of
// a request, Verify answers with credentials or an *Error, never a panic.
func FuzzVerify(f *testing.F) {
	good := signedRequest(f, "POST", invokeURL, []byte("{}"), testCreds, testNow, nil)
	f.Add(good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"), good.RequestURI, "{}")
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDTEST/2/3/4/5, SignedHeaders=host, Signature=0", "20240101T120000Z", "/?X-Amz-Expires=1", "")
	f.Add("", "", "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDTEST%2F20240101%2Fus-east-1%2Flambda%2Faws4_request"+
		"&X-Amz-Date=20240101T120000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=60", "")
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDTEST/20240101/us-east-1/lambda/aws4_request, SignedHeaders=host;date, Signature=00", "", "//a/../%zz?%zz=%", "")
	f.Fuzz(func(t *testing.T, auth, date, uri, body string) {
		if !strings.HasPrefix(uri, "/") || strings.ContainsAny(uri, " \r\n\t#") {
			return
		}
		r := httptest.NewRequest("POST", "http://127.0.0.1:3001/", strings.NewReader(body))
		r.RequestURI = uri
		path, query, _ := strings.Cut(uri, "?")
		r.URL.Path, r.URL.RawPath, r.URL.RawQuery = path, path, query
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		r.Header.Set("Date", date)
		creds, err := Verify(r, []byte(body), testKeys, "lambda", testNow)
		if err == nil {
			if creds != testCreds {
				t.Fatalf("credentials %+v", creds)
			}
			return
		}
		e, ok := err.(*Error)
		if !ok || e.Code == "" || e.Status != http.StatusForbidden {
			t.Fatalf("error %#v", err)
		}
	})
}
