package furl

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzWriteResponse maps arbitrary answers: each gets a status between
// 100 and 599, and one that is not JSON gets 502.
func FuzzWriteResponse(f *testing.F) {
	f.Add([]byte(`{"statusCode":201,"headers":{"a":"b"},"cookies":["c=1"],"body":"aGk=","isBase64Encoded":true}`))
	f.Add([]byte(`"hello"`))
	f.Add([]byte(`{"statusCode":"x"}`))
	f.Add([]byte(`nope`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		w := httptest.NewRecorder()
		err := WriteResponse(w, payload)
		if w.Code < 100 || w.Code > 599 {
			t.Fatalf("status %d", w.Code)
		}
		if err != nil && w.Code != http.StatusBadGateway {
			t.Fatalf("error %v with status %d", err, w.Code)
		}
	})
}

// FuzzWriteStream relays arbitrary streams: without a prelude the body is
// the stream itself.
func FuzzWriteStream(f *testing.F) {
	f.Add([]byte(`{"statusCode":200}`+"\x00\x00\x00\x00\x00\x00\x00\x00body"), true)
	f.Add([]byte("plain"), false)
	f.Add([]byte(`{"a":1}`), true)
	f.Fuzz(func(t *testing.T, stream []byte, integration bool) {
		ct := "application/octet-stream"
		if integration {
			ct = StreamContentType
		}
		w := httptest.NewRecorder()
		WriteStream(w, ct, bytes.NewReader(stream))
		if w.Code < 100 || w.Code > 599 {
			t.Fatalf("status %d", w.Code)
		}
		hasSeparator := bytes.Contains(stream, separator[:])
		startsPrelude := integration || len(stream) > 0 && stream[0] == '{'
		if (!hasSeparator || !startsPrelude) && !bytes.Equal(w.Body.Bytes(), stream) && w.Code != http.StatusBadGateway {
			t.Fatalf("stream %q relayed as %q", stream, w.Body.Bytes())
		}
	})
}

// FuzzEvent builds events of arbitrary paths, queries, headers and bodies.
func FuzzEvent(f *testing.F) {
	f.Add("/a/b", "x=1&x=2", "a=1; b=2", "image/png", []byte{0, 1, 2})
	f.Add("/", "%zz", "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, path, query, cookie, contentType string, body []byte) {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path, r.URL.RawQuery = path, query
		r.Header.Set("Cookie", cookie)
		r.Header.Set("Content-Type", contentType)
		if _, err := Event(r, body, testURLID, testRegion, testAccount, testTime, testRequestID); err != nil {
			t.Fatal(err)
		}
	})
}
