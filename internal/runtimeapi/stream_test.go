package runtimeapi

import (
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/invocation"
)

// TestChunkedResponseOnStreamingInvocation posts a response as
// aws-lambda-go's function URL handlers do (chunked, error trailers
// declared, no streaming mode header) to an invocation whose caller takes
// a stream: it is relayed as it arrives, and a failure of the function's
// reader reaches the stream's Err.
func TestChunkedResponseOnStreamingInvocation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		fail     bool
		wantType string
	}{
		{"complete", false, ""},
		{"failed reader", true, "errorString"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			next := e.start()
			inv := e.deliver(next, &invocation.Request{ID: "req-url", Payload: []byte(`{}`), Deadline: time.Now().Add(time.Minute), Streaming: true})

			pr, pw := io.Pipe()
			defer pw.Close()
			body := &lambdaGoBody{r: pr, trailer: http.Header{
				"Lambda-Runtime-Function-Error-Type": nil,
				"Lambda-Runtime-Function-Error-Body": nil,
			}}
			req, err := http.NewRequest(http.MethodPost, e.base+"/invocation/req-url/response", body)
			if err != nil {
				t.Fatal(err)
			}
			req.Trailer = body.trailer
			req.Header.Set("Content-Type", "application/vnd.awslambda.http-integration-response")
			posted := goCall(e, func() reply { return e.do(req) })

			if _, err := pw.Write([]byte("first;")); err != nil {
				t.Fatal(err)
			}
			// The caller has the stream, and its first bytes, while the
			// function has written nothing more.
			res := recv(t, inv, "Invoke")
			if res.err != nil {
				t.Fatalf("Invoke: %v", res.err)
			}
			st := res.resp.Stream
			if st == nil {
				t.Fatalf("response %+v has no stream: it was buffered", res.resp)
			}
			defer st.Close()
			first := make([]byte, len("first;"))
			if _, err := io.ReadFull(st, first); err != nil || string(first) != "first;" {
				t.Fatalf("first chunk %q, %v", first, err)
			}
			e.wantState(StateStreaming)

			if _, err := pw.Write([]byte("second")); err != nil {
				t.Fatal(err)
			}
			if tc.fail {
				pw.CloseWithError(errors.New("reader failed"))
			} else {
				pw.Close()
			}
			rest, err := io.ReadAll(st)
			if err != nil || string(rest) != "second" {
				t.Fatalf("rest %q, %v", rest, err)
			}
			fe := st.Err()
			switch {
			case tc.wantType == "" && fe != nil:
				t.Errorf("stream error %+v, want none", fe)
			case tc.wantType != "" && (fe == nil || fe.Type != tc.wantType):
				t.Errorf("stream error %+v, want %s", fe, tc.wantType)
			}
			wantReply(t, recv(t, posted, "the streamed /response"), http.StatusAccepted, "accepted.json")
		})
	}
}

// TestChunkedResponseOnBufferedInvocation keeps today's rule for an
// invocation whose caller wants the whole response: a chunked /response
// without the streaming mode header is buffered.
func TestChunkedResponseOnBufferedInvocation(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	inv := e.startInvocation("req-buf")
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, e.base+"/invocation/req-buf/response", pr)
	if err != nil {
		t.Fatal(err)
	}
	posted := goCall(e, func() reply { return e.do(req) })
	go func() {
		pw.Write([]byte("all "))
		pw.Write([]byte("at once"))
		pw.Close()
	}()
	wantReply(t, recv(t, posted, "/response"), http.StatusAccepted, "accepted.json")
	res := recv(t, inv, "Invoke")
	if res.err != nil || res.resp.Stream != nil || string(res.resp.Payload) != "all at once" {
		t.Errorf("response %+v, %v; want the whole payload buffered", res.resp, res.err)
	}
}
