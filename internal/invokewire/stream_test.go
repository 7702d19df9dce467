package invokewire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/emberfn/ember/internal/invocation"
)

// clock is a clock that moves only when the writer sleeps.
type clock struct {
	t     time.Time
	slept time.Duration
}

func (c *clock) now() time.Time { return c.t }
func (c *clock) sleep(d time.Duration) {
	c.t = c.t.Add(d)
	c.slept += d
}

func TestRateWriter(t *testing.T) {
	const burst, rate = 6 << 20, 2 << 20
	c := &clock{t: time.Unix(1000, 0)}
	var out bytes.Buffer
	w := newRateWriter(&out, Bandwidth{}, c.now, c.sleep)
	piece := bytes.Repeat([]byte{'x'}, 100_000)

	// The first 6 MiB go without a wait.
	for range burst / len(piece) {
		if _, err := w.Write(piece); err != nil {
			t.Fatal(err)
		}
	}
	if c.slept != 0 {
		t.Fatalf("waited %v within the first 6 MiB", c.slept)
	}
	// Then 2 MiB/s: 10 MiB more take 5 s, within a piece's worth.
	sent := out.Len()
	if _, err := w.Write(bytes.Repeat([]byte{'y'}, 10<<20)); err != nil {
		t.Fatal(err)
	}
	want := time.Duration(float64(out.Len()-burst) / rate * float64(time.Second))
	if diff := c.slept - want; diff < -50*time.Millisecond || diff > 50*time.Millisecond {
		t.Errorf("waited %v for %d bytes past the burst; want about %v", c.slept, out.Len()-burst, want)
	}
	if out.Len() != sent+10<<20 {
		t.Errorf("wrote %d bytes; want %d", out.Len(), sent+10<<20)
	}
	// Idle for a while, the bucket refills up to its burst only.
	c.t = c.t.Add(time.Hour)
	before := c.slept
	if _, err := w.Write(bytes.Repeat([]byte{'z'}, burst)); err != nil {
		t.Fatal(err)
	}
	if c.slept != before {
		t.Errorf("waited %v for a burst after an idle hour", c.slept-before)
	}
	if _, err := w.Write(bytes.Repeat([]byte{'z'}, rate)); err != nil {
		t.Fatal(err)
	}
	if got := c.slept - before; got < 950*time.Millisecond || got > 1050*time.Millisecond {
		t.Errorf("waited %v for 2 MiB past a full burst; want about 1 s", got)
	}
}

func TestRateWriterSmallScale(t *testing.T) {
	// Real time at a small scale: 64 KiB uncapped, then 256 KiB/s.
	var out bytes.Buffer
	w := Bandwidth{Burst: 64 << 10, Rate: 256 << 10}.Writer(&out)
	start := time.Now()
	if _, err := w.Write(make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("the burst took %v", d)
	}
	if _, err := w.Write(make([]byte, 128<<10)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 450*time.Millisecond || d > 2*time.Second {
		t.Errorf("64 KiB then 128 KiB at 256 KiB/s took %v; want about 500 ms", d)
	}
}

func TestParseBandwidth(t *testing.T) {
	for in, want := range map[string]Bandwidth{"lambda": {}, "unlimited": {Unlimited: true}} {
		got, err := ParseBandwidth(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("ParseBandwidth(%q) = %+v, %v (%s)", in, got, err, got)
		}
	}
	if _, err := ParseBandwidth("fast"); err == nil {
		t.Error("ParseBandwidth(fast) gave no error")
	}
	if w := (Bandwidth{Unlimited: true}).Writer(io.Discard); w != io.Discard {
		t.Errorf("an unlimited writer is %T, not the writer itself", w)
	}
}

// decodeEvents reads an event stream with the SDK's decoder.
func decodeEvents(t *testing.T, body []byte) []eventstream.Message {
	t.Helper()
	dec := eventstream.NewDecoder()
	r := bytes.NewReader(body)
	var msgs []eventstream.Message
	for {
		m, err := dec.Decode(r, nil)
		if errors.Is(err, io.EOF) {
			return msgs
		}
		if err != nil {
			t.Fatalf("decode event %d: %v", len(msgs), err)
		}
		msgs = append(msgs, m)
	}
}

func header(m eventstream.Message, name string) string {
	if v := m.Headers.Get(name); v != nil {
		return v.String()
	}
	return ""
}

func TestWriteStreamFraming(t *testing.T) {
	reports := make(chan invocation.Report, 1)
	reports <- invocation.Report{LogTail: []byte("REPORT RequestId: x\n")}
	rec := httptest.NewRecorder()
	payload := bytes.Repeat([]byte("buffered "), 1000)
	if err := WriteStream(rec, invocation.Response{Payload: payload}, reports, true, "7", Bandwidth{}); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != EventStreamContentType || rec.Header().Get("X-Amz-Executed-Version") != "7" || !rec.Flushed {
		t.Errorf("status %d, headers %v, flushed %v", rec.Code, rec.Header(), rec.Flushed)
	}
	msgs := decodeEvents(t, rec.Body.Bytes())
	if len(msgs) != 2 {
		t.Fatalf("%d events; want a PayloadChunk and InvokeComplete", len(msgs))
	}
	chunk, done := msgs[0], msgs[1]
	if header(chunk, ":event-type") != EventPayloadChunk || header(chunk, ":message-type") != "event" ||
		header(chunk, ":content-type") != "application/octet-stream" || !bytes.Equal(chunk.Payload, payload) {
		t.Errorf("first event: headers %v, %d bytes", chunk.Headers, len(chunk.Payload))
	}
	if header(done, ":event-type") != EventInvokeComplete || header(done, ":message-type") != "event" || header(done, ":content-type") != "application/json" {
		t.Errorf("last event: headers %v", done.Headers)
	}
	var c InvokeComplete
	if err := json.Unmarshal(done.Payload, &c); err != nil || c.ErrorCode != "" || c.ErrorDetails != "" || c.LogResult != "UkVQT1JUIFJlcXVlc3RJZDogeAo=" {
		t.Errorf("InvokeComplete %s (%v)", done.Payload, err)
	}
}

func TestWriteStreamFunctionError(t *testing.T) {
	rec := httptest.NewRecorder()
	body := []byte(`{"errorMessage":"boom","errorType":"Custom"}`)
	resp := invocation.Response{Payload: body, FunctionError: invocation.FunctionErrorUnhandled, ErrorType: "Custom"}
	if err := WriteStream(rec, resp, nil, false, "$LATEST", Bandwidth{Unlimited: true}); err != nil {
		t.Fatal(err)
	}
	msgs := decodeEvents(t, rec.Body.Bytes())
	if len(msgs) != 1 || header(msgs[0], ":event-type") != EventInvokeComplete {
		t.Fatalf("%d events; want InvokeComplete alone", len(msgs))
	}
	var c InvokeComplete
	if err := json.Unmarshal(msgs[0].Payload, &c); err != nil || c.ErrorCode != "Custom" || c.ErrorDetails != string(body) || c.LogResult != "" {
		t.Errorf("InvokeComplete %s (%v)", msgs[0].Payload, err)
	}
}

func TestDecodeStreamRequest(t *testing.T) {
	call, err := DecodeStreamRequest(http.Header{"X-Amz-Log-Type": {"Tail"}}, []byte(`{"a":1}`), "id")
	if err != nil || call.Type != RequestResponse || !call.Request.Streaming || !call.Request.WantLog {
		t.Errorf("%+v, %v", call, err)
	}
	if _, err := DecodeStreamRequest(http.Header{"X-Amz-Invocation-Type": {Event}}, nil, "id"); !errors.Is(err, invocation.ErrInvalid) {
		t.Errorf("an Event: %v; want an invalid parameter", err)
	}
}
