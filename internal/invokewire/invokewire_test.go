package invokewire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emberfn/ember/internal/invocation"
)

func request(body []byte, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/2015-03-31/functions/fn/invocations", bytes.NewReader(body))
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		r.Header.Set(k, v)
	}
	return r
}

func TestReadRequest(t *testing.T) {
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"a":"b"}}`))
	big := []byte(`"` + strings.Repeat("x", invocation.MaxAsyncRequest) + `"`)
	for _, c := range []struct {
		name    string
		body    []byte
		headers []string
		class   error // nil for a call
		typ     string
		payload string
		wantLog bool
	}{
		{name: "default", body: []byte(`{"a":1}`), typ: RequestResponse, payload: `{"a":1}`},
		{name: "empty is the empty object", body: []byte("  \n"), typ: RequestResponse, payload: `{}`},
		{name: "tail", body: []byte(`1`), headers: []string{"X-Amz-Log-Type: Tail"}, typ: RequestResponse, payload: `1`, wantLog: true},
		{name: "no tail for an event", body: []byte(`1`), headers: []string{"X-Amz-Invocation-Type: Event", "X-Amz-Log-Type: Tail"}, typ: Event, payload: `1`},
		{name: "dry run", body: nil, headers: []string{"X-Amz-Invocation-Type: DryRun"}, typ: DryRun, payload: `{}`},
		{name: "client context", body: []byte(`1`), headers: []string{"X-Amz-Client-Context: " + cc}, typ: RequestResponse, payload: `1`},
		{name: "bad type", body: []byte(`1`), headers: []string{"X-Amz-Invocation-Type: Later"}, class: invocation.ErrInvalid},
		{name: "bad log type", body: []byte(`1`), headers: []string{"X-Amz-Log-Type: All"}, class: invocation.ErrInvalid},
		{name: "bad client context", body: []byte(`1`), headers: []string{"X-Amz-Client-Context: !!"}, class: invocation.ErrInvalidContent},
		{name: "not JSON", body: []byte(`{"a":`), class: invocation.ErrInvalidContent},
		{name: "event above 1 MB", body: big, headers: []string{"X-Amz-Invocation-Type: Event"}, class: invocation.ErrTooLarge},
		{name: "request above 1 MB", body: big, typ: RequestResponse, payload: string(big)},
	} {
		t.Run(c.name, func(t *testing.T) {
			read, readErr := ReadRequest(request(c.body, c.headers...), "id")
			hdr := request(nil, c.headers...).Header
			decoded, decodeErr := DecodeRequest(hdr, c.body, "id")
			for _, got := range []struct {
				how  string
				call Call
				err  error
			}{{"ReadRequest", read, readErr}, {"DecodeRequest", decoded, decodeErr}} {
				if c.class != nil {
					if !errors.Is(got.err, c.class) {
						t.Errorf("%s: %v, want an error of class %q", got.how, got.err, c.class)
					}
					continue
				}
				if got.err != nil {
					t.Fatalf("%s: %v", got.how, got.err)
				}
				req := got.call.Request
				if got.call.Type != c.typ || string(req.Payload) != c.payload || req.WantLog != c.wantLog || req.ID != "id" || req.TraceID == "" {
					t.Errorf("%s: type %s, payload %.20q, log %v, id %q, trace %q", got.how, got.call.Type, req.Payload, req.WantLog, req.ID, req.TraceID)
				}
			}
		})
	}
}

func TestReadBodyLimit(t *testing.T) {
	r := request(bytes.Repeat([]byte("x"), 11))
	r.ContentLength = -1 // no length given: the limit holds while reading
	_, err := ReadBody(r, 10, "InvokeFunction")
	var ce *invocation.ClientError
	if !errors.As(err, &ce) || !errors.Is(err, invocation.ErrTooLarge) ||
		ce.Message != "Request must be smaller than 10 bytes for the InvokeFunction operation" {
		t.Errorf("ReadBody past the limit: %v", err)
	}
	if b, err := ReadBody(request([]byte("0123456789")), 10, "InvokeFunction"); err != nil || len(b) != 10 {
		t.Errorf("ReadBody at the limit: %q, %v", b, err)
	}
}

func TestWriteError(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
		body   string
	}{
		{&invocation.ThrottleError{Reason: invocation.ReasonReservedConcurrentLimit, Limit: 1}, 429, "TooManyRequestsException",
			`{"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}`},
		{invocation.Errorf(invocation.ErrNotFound, "Function not found: x"), 404, "ResourceNotFoundException", `{"Type":"User","Message":"Function not found: x"}`},
		{invocation.Errorf(invocation.ErrTooLarge, "big"), 413, "RequestEntityTooLargeException", `{"Type":"User","message":"big"}`},
		{invocation.Errorf(invocation.ErrInvalidContent, "bad"), 400, "InvalidRequestContentException", `{"Type":"User","message":"bad"}`},
		{invocation.Errorf(invocation.ErrConflict, "busy"), 409, "ResourceConflictException", `{"Type":"User","message":"busy"}`},
		{&Error{Status: 403, Code: "InvalidSignatureException", Message: "no", Bare: true}, 403, "InvalidSignatureException", `{"message":"no"}`},
		{errors.New("disk on fire"), 500, "ServiceException", `{"Type":"Service","Message":"An internal error occurred: disk on fire"}`},
	} {
		w := httptest.NewRecorder()
		WriteError(w, c.err)
		if w.Code != c.status || w.Header().Get("X-Amzn-ErrorType") != c.code || !json.Valid(w.Body.Bytes()) || w.Body.String() != c.body {
			t.Errorf("%v: %d %s %s, want %d %s %s", c.err, w.Code, w.Header().Get("X-Amzn-ErrorType"), w.Body, c.status, c.code, c.body)
		}
	}
}

func TestWriteResult(t *testing.T) {
	w := httptest.NewRecorder()
	reports := make(chan invocation.Report, 1)
	reports <- invocation.Report{LogTail: []byte("END\n")}
	close(reports)
	WriteResult(w, invocation.Response{Payload: []byte(`{"errorMessage":"boom"}`), FunctionError: "Unhandled"}, reports, true, "3", Bandwidth{})
	h := w.Header()
	if w.Code != 200 || h.Get("X-Amz-Function-Error") != "Unhandled" || h.Get("X-Amz-Executed-Version") != "3" ||
		h.Get("X-Amz-Log-Result") != base64.StdEncoding.EncodeToString([]byte("END\n")) || h.Get("Content-Type") != invocation.ContentTypeJSON {
		t.Errorf("answer %d %v %s", w.Code, h, w.Body)
	}
}

// FuzzDecodeRequest feeds DecodeRequest any body and headers: it answers
// a call whose payload is JSON, or an error of a client's class.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "", "", "")
	f.Add([]byte(``), "Event", "Tail", "e30=")
	f.Add([]byte(`{`), "DryRun", "None", "!!")
	f.Fuzz(func(t *testing.T, body []byte, typ, logType, cc string) {
		h := http.Header{}
		h.Set("X-Amz-Invocation-Type", typ)
		h.Set("X-Amz-Log-Type", logType)
		h.Set("X-Amz-Client-Context", cc)
		call, err := DecodeRequest(h, body, "id")
		if err != nil {
			var ce *invocation.ClientError
			if !errors.As(err, &ce) {
				t.Fatalf("error of no client class: %v", err)
			}
			return
		}
		if !json.Valid(call.Request.Payload) {
			t.Fatalf("payload %q is not JSON", call.Request.Payload)
		}
	})
}
