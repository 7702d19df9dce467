package furl

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

func TestWriteResponse(t *testing.T) {
	cases := []struct {
		name        string
		payload     string
		status      int
		contentType string
		body        string
		headers     map[string]string
		cookies     []string
		wantErr     bool
	}{
		{name: "structured", payload: `{"statusCode":201,"headers":{"Content-Type":"text/plain","My-Custom-Header":"Custom Value","X-Count":3},"body":"hello","cookies":["a=1; Max-Age=60","b=2"],"isBase64Encoded":false}`,
			status: 201, contentType: "text/plain", body: "hello", headers: map[string]string{"My-Custom-Header": "Custom Value", "X-Count": "3"}, cookies: []string{"a=1; Max-Age=60", "b=2"}},
		{name: "base64 body", payload: `{"statusCode":200,"headers":{"content-type":"image/png"},"body":"iVBORwABAv8=","isBase64Encoded":true}`,
			status: 200, contentType: "image/png", body: "\x89PNG\x00\x01\x02\xff"},
		{name: "no content type", payload: `{"statusCode":404,"body":"missing"}`, status: 404, contentType: "application/json", body: "missing"},
		{name: "no body", payload: `{"statusCode":204}`, status: 204, contentType: "application/json", body: ""},
		{name: "object without statusCode", payload: `{"message":"Hello, world!"}`, status: 200, contentType: "application/json", body: `{"message":"Hello, world!"}`},
		{name: "string", payload: `"Hello, world!"`, status: 200, contentType: "application/json", body: `"Hello, world!"`},
		{name: "number", payload: `42`, status: 200, contentType: "application/json", body: `42`},
		{name: "array", payload: `[1,2]`, status: 200, contentType: "application/json", body: `[1,2]`},
		{name: "not JSON", payload: `hello`, status: 502, contentType: "application/json", body: "Internal Server Error", wantErr: true},
		{name: "status not a number", payload: `{"statusCode":"abc"}`, status: 502, contentType: "application/json", body: "Internal Server Error", wantErr: true},
		{name: "status out of range", payload: `{"statusCode":42}`, status: 502, contentType: "application/json", body: "Internal Server Error", wantErr: true},
		{name: "bad base64", payload: `{"statusCode":200,"body":"%%%","isBase64Encoded":true}`, status: 502, contentType: "application/json", body: "Internal Server Error", wantErr: true},
		{name: "header object", payload: `{"statusCode":200,"headers":{"x":{"y":1}}}`, status: 502, contentType: "application/json", body: "Internal Server Error", wantErr: true},
		{name: "body not a string", payload: `{"statusCode":200,"body":{"a":1}}`, status: 502, contentType: "application/json", body: "Internal Server Error", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			err := WriteResponse(w, []byte(c.payload))
			if (err != nil) != c.wantErr {
				t.Errorf("error %v; want one: %v", err, c.wantErr)
			}
			if w.Code != c.status || w.Body.String() != c.body || w.Header().Get("Content-Type") != c.contentType {
				t.Errorf("answered %d %q (%s); want %d %q (%s)", w.Code, w.Body.String(), w.Header().Get("Content-Type"), c.status, c.body, c.contentType)
			}
			for k, v := range c.headers {
				if got := w.Header().Get(k); got != v {
					t.Errorf("header %s = %q; want %q", k, got, v)
				}
			}
			if got := w.Header().Values("Set-Cookie"); len(c.cookies) > 0 && !reflect.DeepEqual(got, c.cookies) {
				t.Errorf("Set-Cookie %q; want %q", got, c.cookies)
			}
		})
	}
}

// TestWriteStreamRelays serves a streamed response with a prelude over
// real HTTP and reads its first part before the function writes the
// second: the body is relayed as it comes.
func TestWriteStreamRelays(t *testing.T) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done <- WriteStream(w, StreamContentType, pr)
	}))
	defer srv.Close()
	go func() {
		pw.Write([]byte(`{"statusCode":201,"headers":{"Content-Type":"text/plain","X-Stream":"yes"},"cookies":["s=1"]}`))
		pw.Write(make([]byte, 8))
		pw.Write([]byte("first\n"))
	}()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 || resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("X-Stream") != "yes" || resp.Header.Get("Set-Cookie") != "s=1" {
		t.Errorf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first part %q, %v", line, err)
	}
	go func() {
		pw.Write([]byte("second"))
		pw.Close()
	}()
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second" {
		t.Errorf("the rest %q, %v", rest, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("WriteStream: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WriteStream did not return")
	}
}

// chunks is a stream read in the given parts.
type chunks struct {
	parts []string
	err   error
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	if c.parts[0] == "" {
		c.parts = c.parts[1:]
	}
	return n, nil
}

func TestWriteStream(t *testing.T) {
	sep := string(make([]byte, 8))
	cases := []struct {
		name        string
		contentType string
		parts       []string
		readErr     error
		status      int
		ct          string
		body        string
		wantErr     bool
	}{
		{name: "prelude split across reads", contentType: StreamContentType, parts: []string{`{"statusCode":2`, `02,"headers":{"x-a":"b"}}` + sep[:3], sep[3:] + "bo", "dy"},
			status: 202, ct: "application/octet-stream", body: "body"},
		{name: "prelude with an empty body", contentType: StreamContentType, parts: []string{`{"statusCode":204}` + sep},
			status: 204, ct: "application/octet-stream", body: ""},
		{name: "no prelude", contentType: "text/event-stream", parts: []string{"data: 1\n\n", "data: 2\n\n"},
			status: 200, ct: "text/event-stream", body: "data: 1\n\ndata: 2\n\n"},
		{name: "JSON without separator", contentType: "application/json", parts: []string{`{"a":`, `1}`},
			status: 200, ct: "application/json", body: `{"a":1}`},
		{name: "empty", contentType: StreamContentType, status: 200, ct: "application/octet-stream", body: ""},
		{name: "malformed prelude", contentType: StreamContentType, parts: []string{`{"statusCode":"x"}` + sep + "body"},
			status: 502, ct: "application/json", body: "Internal Server Error", wantErr: true},
		{name: "failed read", contentType: StreamContentType, readErr: errors.New("reset"),
			status: 502, ct: "application/json", body: "Internal Server Error", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			err := WriteStream(w, c.contentType, &chunks{parts: append([]string(nil), c.parts...), err: c.readErr})
			if (err != nil) != c.wantErr {
				t.Errorf("error %v; want one: %v", err, c.wantErr)
			}
			if w.Code != c.status || w.Body.String() != c.body || w.Header().Get("Content-Type") != c.ct {
				t.Errorf("answered %d %q (%s); want %d %q (%s)", w.Code, w.Body.String(), w.Header().Get("Content-Type"), c.status, c.body, c.ct)
			}
		})
	}
}
