package api

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emberfn/ember/internal/codecache"
	"github.com/emberfn/ember/internal/environment"
	"github.com/emberfn/ember/internal/invoke"
	"github.com/emberfn/ember/internal/logstore"
	"github.com/emberfn/ember/internal/store"
)

// newTestServer returns a server over a real store in a temporary
// directory, whose functions run as plain processes.
func newTestServer(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), store.Options{DataDir: dir + "/nats"})
	if err != nil {
		t.Fatal(err)
	}
	code, err := codecache.New(dir + "/code")
	if err != nil {
		t.Fatal(err)
	}
	logs := logstore.New(logstore.Options{})
	svc := invoke.New(invoke.Options{Store: st, Code: code, Logs: logs, Environment: environment.Options{}})
	t.Cleanup(func() {
		svc.Close(context.Background())
		st.Close()
	})
	return New(Options{Store: st, Invoke: svc, Logs: logs, Region: "us-east-1", AccountID: "123456789012"})
}

// shellZip is a function whose bootstrap exits at once.
func shellZip(t testing.TB) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("#!/bin/sh\nexit 3\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func do(s *Server, method, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://127.0.0.1:3001/", bytes.NewReader(body))
	req.URL.Path, req.URL.RawQuery, _ = strings.Cut(path, "?")
	req.RequestURI = path
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// FuzzLambdaAPI sends arbitrary requests to the Lambda API: each must get
// a well-formed answer, an error in AWS's shape with a client status, and
// never an internal error or a panic.
func FuzzLambdaAPI(f *testing.F) {
	s := newTestServer(f)
	zipB64 := base64.StdEncoding.EncodeToString(shellZip(f))
	create := `{"FunctionName":"fn","Role":"arn:aws:iam::123456789012:role/r","Runtime":"provided.al2023","Code":{"ZipFile":"` + zipB64 + `"}}`
	if rec := do(s, "POST", "/2015-03-31/functions", []byte(create)); rec.Code != http.StatusCreated {
		f.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"}
	seeds := []struct {
		method int
		path   string
		body   string
	}{
		{1, "/2015-03-31/functions", create},
		{1, "/2015-03-31/functions", `{"FunctionName":"x","Role":"r","Code":{"ZipFile":"AAAA"}}`},
		{1, "/2015-03-31/functions", `{"FunctionName":{"a":1}}`},
		{0, "/2015-03-31/functions?MaxItems=0&Marker=%%%", ""},
		{0, "/2015-03-31/functions/fn", ""},
		{0, "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:fn:1", ""},
		{0, "/2015-03-31/functions/fn/configuration?Qualifier=$LATEST", ""},
		{2, "/2015-03-31/functions/fn/configuration", `{"MemorySize":99999,"Timeout":-1}`},
		{2, "/2015-03-31/functions/fn/configuration", `{"Environment":{"Variables":{"A":"B"}},"EphemeralStorage":{"Size":20000}}`},
		{2, "/2015-03-31/functions/fn/code", `{"ZipFile":"bm90IGEgemlw"}`},
		{1, "/2015-03-31/functions/fn/versions", `{"RevisionId":"nope"}`},
		{1, "/2015-03-31/functions/fn/aliases", `{"Name":"live","FunctionVersion":"1","RoutingConfig":{"AdditionalVersionWeights":{"2":1.5}}}`},
		{2, "/2015-03-31/functions/fn/aliases/live", `{"FunctionVersion":"$LATEST"}`},
		{3, "/2015-03-31/functions/fn/aliases/123", ""},
		{1, "/2015-03-31/functions/fn/invocations", `{"a":`},
		{1, "/2015-03-31/functions/fn:nope/invocations?Qualifier=other", `{}`},
		{2, "/2017-10-31/functions/fn/concurrency", `{"ReservedConcurrentExecutions":-5}`},
		{0, "/2019-09-30/functions/fn/concurrency", ""},
		{0, "/2016-08-19/account-settings", ""},
		{3, "/2015-03-31/functions/fn?Qualifier=$LATEST", ""},
		{0, "/ember/v1/functions/fn/logs?since=yesterday", ""},
		{0, "/ember/v1/code/../../etc/passwd", ""},
	}
	for _, sd := range seeds {
		f.Add(sd.method, sd.path, []byte(sd.body))
	}
	f.Fuzz(func(t *testing.T, method int, path string, body []byte) {
		if method < 0 {
			method = -method
		}
		m := methods[method%len(methods)]
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		// Invocations would run the function; the fuzzer keeps to the
		// requests that fail before one starts.
		if strings.Contains(path, "invocations") && json.Valid(body) && !strings.Contains(path, ":") && !strings.Contains(path, "Qualifier") {
			return
		}
		rec := do(s, m, path, body)
		switch {
		case rec.Code >= 500:
			t.Fatalf("%s %s %q: %d %s", m, path, body, rec.Code, rec.Body)
		case rec.Code >= 400:
			if rec.Header().Get("X-Amzn-ErrorType") == "" || (m != "HEAD" && !json.Valid(rec.Body.Bytes())) {
				t.Fatalf("%s %s: error %d without AWS's shape: %q %q", m, path, rec.Code, rec.Header(), rec.Body)
			}
		case rec.Code < 200:
			t.Fatalf("%s %s: status %d", m, path, rec.Code)
		}
		if rec.Header().Get("X-Amzn-RequestId") == "" {
			t.Fatalf("%s %s: no request id", m, path)
		}
	})
}
