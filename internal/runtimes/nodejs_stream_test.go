package runtimes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/invocation"
)

// Response streaming of the Node.js client: streamified handlers of
// testdata/nodejs/streaming, read through the real Runtime API as the
// environment hands their streams over.

// streamRead is one Read of a stream: what it gave and when.
type streamRead struct {
	at   time.Time
	data []byte
}

// nodeStreamStart begins an invocation; the response comes when the
// runtime begins to answer, the report once the invocation has ended.
func (f *nodeFunction) streamStart(t *testing.T, payload string) (invocation.Response, <-chan invocation.Report) {
	t.Helper()
	req := f.request(payload)
	done := make(chan invocation.Report, 1)
	resp, err := f.env.Invoke(req, func(r invocation.Report) { done <- r })
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	return resp, done
}

// wait returns the report of an invocation.
func (f *nodeFunction) wait(t *testing.T, done <-chan invocation.Report) invocation.Report {
	t.Helper()
	select {
	case rep := <-done:
		return rep
	case <-time.After(30 * time.Second):
		t.Fatalf("no report within 30 s; logs:\n%s", f.logs)
	}
	return invocation.Report{}
}

// readStream reads a streamed response to its end, Read by Read.
func readStream(t *testing.T, f *nodeFunction, resp invocation.Response) []streamRead {
	t.Helper()
	if resp.Stream == nil {
		t.Fatalf("the response is not streamed: %q (error %q)\nlogs:\n%s", resp.Payload, resp.ErrorType, f.logs)
	}
	defer resp.Stream.Close()
	var reads []streamRead
	buf := make([]byte, 256*1024)
	for {
		n, err := resp.Stream.Read(buf)
		if n > 0 {
			reads = append(reads, streamRead{at: time.Now(), data: bytes.Clone(buf[:n])})
		}
		if errors.Is(err, io.EOF) {
			return reads
		}
		if err != nil {
			t.Fatalf("read the stream: %v", err)
		}
	}
}

func joined(reads []streamRead) []byte {
	var b []byte
	for _, r := range reads {
		b = append(b, r.data...)
	}
	return b
}

// streamErrorBody decodes the error a stream reported in its trailers.
func streamErrorBody(t *testing.T, resp invocation.Response) (string, map[string]any) {
	t.Helper()
	fe := resp.Stream.Err()
	if fe == nil {
		t.Fatal("the stream reported no error")
	}
	var body map[string]any
	if err := json.Unmarshal(fe.Body, &body); err != nil {
		t.Fatalf("error body %q: %v", fe.Body, err)
	}
	return fe.Type, body
}

func TestNodeStreamChunks(t *testing.T) {
	const delay = 300 * time.Millisecond
	f := nodeStart(t, "streaming", nodeOptions{handler: "index.chunks"})
	payload := fmt.Sprintf(`{"chunks":["one","two","three"],"delayMs":%d}`, delay.Milliseconds())
	// Twice: the second invocation is warm, on the loop the first left.
	for i := range 2 {
		resp, done := f.streamStart(t, payload)
		if resp.ContentType != "text/plain" {
			t.Errorf("content type %q, want text/plain", resp.ContentType)
		}
		first := make([]byte, 3)
		if _, err := io.ReadFull(resp.Stream, first); err != nil {
			t.Fatalf("read the first chunk: %v\nlogs:\n%s", err, f.logs)
		}
		firstAt := time.Now()
		// The handler has two delays to go: its end is not logged yet.
		if n := strings.Count(f.logs.String(), "handler done"); n != i {
			t.Errorf("the handler ended before its first chunk was read (%d ends logged)", n)
		}
		reads := readStream(t, f, resp)
		if got := string(first) + string(joined(reads)); got != "onetwothree" {
			t.Errorf("stream %q, want onetwothree", got)
		}
		if len(reads) == 0 {
			t.Fatal("nothing after the first chunk")
		}
		// Generous: the two delays take 2×300 ms.
		if rest := reads[len(reads)-1].at.Sub(firstAt); rest < delay {
			t.Errorf("the last chunk came %v after the first, less than one %v delay: the response was buffered", rest, delay)
		}
		if resp.Stream.Err() != nil {
			t.Errorf("stream error %+v", resp.Stream.Err())
		}
		rep := f.wait(t, done)
		if rep.Status != invocation.StatusSuccess || rep.FunctionError != "" {
			t.Errorf("report %+v", rep)
		}
		if i == 1 && rep.InitDuration != 0 {
			t.Errorf("the runtime restarted between invocations")
		}
	}
}

func TestNodeStreamHTTPPrelude(t *testing.T) {
	f := nodeStart(t, "streaming", nodeOptions{handler: "index.http"})
	resp, done := f.streamStart(t, `{}`)
	if resp.ContentType != "application/vnd.awslambda.http-integration-response" {
		t.Errorf("content type %q", resp.ContentType)
	}
	got := joined(readStream(t, f, resp))
	want := `{"statusCode":201,"headers":{"content-type":"text/plain","x-a":"b"},"cookies":["a=b"]}` +
		"\x00\x00\x00\x00\x00\x00\x00\x00hello world"
	if string(got) != want {
		t.Errorf("stream %q\nwant   %q", got, want)
	}
	f.wait(t, done)
}

func TestNodeStreamErrors(t *testing.T) {
	t.Run("after the first write", func(t *testing.T) {
		f := nodeStart(t, "streaming", nodeOptions{handler: "index.midError"})
		resp, done := f.streamStart(t, `{}`)
		if got := joined(readStream(t, f, resp)); string(got) != "partial" {
			t.Errorf("stream %q, want partial", got)
		}
		typ, body := streamErrorBody(t, resp)
		if typ != "StreamBroke" || body["errorType"] != "StreamBroke" || body["errorMessage"] != "broke after one chunk" {
			t.Errorf("error %s %v", typ, body)
		}
		if trace, _ := body["trace"].([]any); len(trace) < 2 || trace[0] != "StreamBroke: broke after one chunk" {
			t.Errorf("trace %v", body["trace"])
		}
		rep := f.wait(t, done)
		if rep.Status != invocation.StatusSuccess {
			t.Errorf("a function error is no platform failure: %+v", rep)
		}
		if !strings.Contains(f.logs.String(), "\tERROR\tInvoke Error \t{\"errorType\":\"StreamBroke\"") {
			t.Errorf("no Invoke Error line:\n%s", f.logs)
		}
		// The environment goes on.
		resp, done = f.streamStart(t, `{}`)
		readStream(t, f, resp)
		if rep := f.wait(t, done); rep.InitDuration != 0 {
			t.Errorf("the runtime restarted after a function error")
		}
	})
	t.Run("before any write", func(t *testing.T) {
		f := nodeStart(t, "streaming", nodeOptions{handler: "index.earlyError"})
		resp, rep := f.invoke(t, `{}`)
		if resp.Stream != nil {
			t.Fatal("an error before any write was streamed")
		}
		body := nodeErrorBody(t, f, resp)
		if body["errorType"] != "TypeError" || body["errorMessage"] != "nothing written yet" {
			t.Errorf("error body %s", resp.Payload)
		}
		if rep.FunctionErrorType != "TypeError" {
			t.Errorf("report %+v", rep)
		}
	})
	t.Run("not async", func(t *testing.T) {
		f := nodeStart(t, "streaming", nodeOptions{handler: "index.notAsync"})
		resp, _ := f.invoke(t, `{}`)
		body := nodeErrorBody(t, f, resp)
		if body["errorType"] != "Error" || body["errorMessage"] != "Streaming does not support non-async handlers." {
			t.Errorf("error body %s", resp.Payload)
		}
	})
	t.Run("content type too late", func(t *testing.T) {
		f := nodeStart(t, "streaming", nodeOptions{handler: "index.tooLate"})
		resp, done := f.streamStart(t, `{}`)
		if resp.ContentType != "application/octet-stream" {
			t.Errorf("content type %q, want the default", resp.ContentType)
		}
		if got := joined(readStream(t, f, resp)); string(got) != "a" {
			t.Errorf("stream %q", got)
		}
		typ, body := streamErrorBody(t, resp)
		if typ != "Runtime.InvalidStreamingOperation" || body["errorMessage"] != "Cannot set content-type, too late." {
			t.Errorf("error %s %v", typ, body)
		}
		f.wait(t, done)
	})
	t.Run("uncaught exception", func(t *testing.T) {
		f := nodeStart(t, "streaming", nodeOptions{handler: "index.uncaught"})
		resp, done := f.streamStart(t, `{}`)
		if got := joined(readStream(t, f, resp)); string(got) != "before the crash" {
			t.Errorf("stream %q", got)
		}
		typ, body := streamErrorBody(t, resp)
		if typ != "RangeError" || body["errorMessage"] != "thrown from a timer" {
			t.Errorf("error %s %v", typ, body)
		}
		// The runtime exits, as after any uncaught exception.
		if rep := f.wait(t, done); rep.Status == invocation.StatusSuccess {
			t.Errorf("report %+v, want the runtime's exit", rep)
		}
	})
}

// A handler that waits for drain when write says to is held back by a
// reader that does not read, and its bytes all arrive, in order.
func TestNodeStreamBackpressure(t *testing.T) {
	const mb = 16
	f := nodeStart(t, "streaming", nodeOptions{handler: "index.backpressure", timeout: 20 * time.Second})
	resp, done := f.streamStart(t, fmt.Sprintf(`{"mb":%d}`, mb))
	time.Sleep(200 * time.Millisecond)
	got := joined(readStream(t, f, resp))
	if len(got) != mb<<20 {
		t.Fatalf("%d bytes, want %d", len(got), mb<<20)
	}
	for i := 0; i < len(got); i += 64 << 10 {
		if want := byte(i / (64 << 10) % 251); got[i] != want || got[i+64<<10-1] != want {
			t.Fatalf("chunk %d holds %d, want %d", i/(64<<10), got[i], want)
		}
	}
	f.wait(t, done)
	var drains int
	if _, err := fmt.Sscanf(f.logs.String()[strings.Index(f.logs.String(), "drains ")+len("drains "):], "%d", &drains); err != nil || drains == 0 {
		t.Errorf("write never asked the handler to wait (drains %d, %v):\n%s", drains, err, f.logs)
	}
}

func TestNodeStreamPipeline(t *testing.T) {
	f := nodeStart(t, "streaming", nodeOptions{handler: "index.piped"})
	resp, done := f.streamStart(t, `{"n":1000}`)
	got := string(joined(readStream(t, f, resp)))
	var want strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if got != want.String() {
		t.Errorf("stream of %d bytes differs from the %d written", len(got), want.Len())
	}
	f.wait(t, done)
}

// A stream the handler never ends is ended when the event loop empties;
// what it wrote is there, objects as JSON.
func TestNodeStreamLeftOpen(t *testing.T) {
	f := nodeStart(t, "streaming", nodeOptions{handler: "index.openEnded"})
	resp, done := f.streamStart(t, `{}`)
	if got := joined(readStream(t, f, resp)); string(got) != `{"a":1}!` {
		t.Errorf("stream %q", got)
	}
	if resp.Stream.Err() != nil {
		t.Errorf("stream error %+v", resp.Stream.Err())
	}
	if rep := f.wait(t, done); rep.Status != invocation.StatusSuccess {
		t.Errorf("report %+v", rep)
	}
}

func TestNodeStreamESM(t *testing.T) {
	f := nodeStart(t, "streaming-esm", nodeOptions{})
	resp, done := f.streamStart(t, `{}`)
	if got := joined(readStream(t, f, resp)); string(got) != "esm "+f.cfg.Name {
		t.Errorf("stream %q", got)
	}
	f.wait(t, done)
}

// A handler that is not streamified answers as before, and sees the global.
func TestNodeStreamGlobalInPlainHandler(t *testing.T) {
	f := nodeStart(t, "streaming", nodeOptions{handler: "index.plain"})
	resp, _ := f.invoke(t, `{}`)
	if resp.Stream != nil {
		t.Fatal("a plain handler's response was streamed")
	}
	var got map[string]string
	nodeResult(t, f, resp, &got)
	if fmt.Sprint(got) != "map[HttpResponseStream:function awslambda:object streamifyResponse:function]" {
		t.Errorf("result %s", resp.Payload)
	}
	if resp.ContentType != invocation.ContentTypeJSON {
		t.Errorf("content type %q", resp.ContentType)
	}
}

// A caller that stops reading does not stop the function: its later
// writes are dropped, the invocation ends, and the next one streams.
func TestNodeStreamReaderGoesAway(t *testing.T) {
	f := nodeStart(t, "streaming", nodeOptions{handler: "index.chunks"})
	resp, done := f.streamStart(t, `{"chunks":["one","two","three","four"],"delayMs":100}`)
	first := make([]byte, 3)
	if _, err := io.ReadFull(resp.Stream, first); err != nil || string(first) != "one" {
		t.Fatalf("first chunk %q, %v", first, err)
	}
	resp.Stream.Close()
	if rep := f.wait(t, done); rep.Status != invocation.StatusSuccess {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(f.logs.String(), "handler done") {
		t.Errorf("the handler did not run to its end:\n%s", f.logs)
	}
	resp, done = f.streamStart(t, `{"chunks":["again"],"delayMs":0}`)
	if got := joined(readStream(t, f, resp)); string(got) != "again" {
		t.Errorf("next stream %q", got)
	}
	f.wait(t, done)
}
