package invokewire

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/emberfn/ember/internal/invocation"
)

// EventStreamContentType is the content type of InvokeWithResponseStream's
// answer: AWS's event-stream framing.
const EventStreamContentType = "application/vnd.amazon.eventstream"

// Events of InvokeWithResponseStream's answer.
const (
	EventPayloadChunk   = "PayloadChunk"
	EventInvokeComplete = "InvokeComplete"
)

// InvokeComplete is the payload of the event that ends a streamed answer.
type InvokeComplete struct {
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorDetails string `json:"ErrorDetails,omitempty"`
	LogResult    string `json:"LogResult,omitempty"`
}

// streamChunkSize is the most of a streamed response one PayloadChunk
// carries; a chunk is sent as soon as any bytes have arrived.
const streamChunkSize = 128 << 10

// DecodeStreamRequest reads an InvokeWithResponseStream request whose body
// was read already, as DecodeRequest does Invoke's; its invocation types
// are RequestResponse and DryRun, and the request it makes is Streaming.
func DecodeStreamRequest(h http.Header, body []byte, id string) (Call, error) {
	switch typ := h.Get("X-Amz-Invocation-Type"); typ {
	case "", RequestResponse, DryRun:
	default:
		return Call{Type: typ}, invocation.Errorf(invocation.ErrInvalid,
			"1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [RequestResponse, DryRun]", typ)
	}
	call, err := DecodeRequest(h, body, id)
	call.Request.Streaming = true
	return call, err
}

// WriteStream answers InvokeWithResponseStream: status 200 and an event
// stream of PayloadChunk events, each flushed as it is written, then one
// InvokeComplete that carries the function's error, if any, and with
// wantLog the log tail from the report. A buffered response goes in one
// chunk. The chunks are sent within bw. The error returned is the
// caller's connection failing; the answer is then cut short.
func WriteStream(w http.ResponseWriter, resp invocation.Response, reports <-chan invocation.Report, wantLog bool, version string, bw Bandwidth) error {
	hdr := w.Header()
	hdr.Set("Content-Type", EventStreamContentType)
	hdr.Set("X-Amz-Executed-Version", version)
	// The headers go out with the first event, not before: a client
	// still busy sending the request when they arrive can lose the
	// connection (the AWS SDK for Go closes the request's body as soon
	// as they do).
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	ew := &eventWriter{w: bw.Writer(w), rc: rc, enc: eventstream.NewEncoder()}

	var complete InvokeComplete
	if resp.Stream != nil {
		fe, err := ew.relay(resp.Stream)
		if err != nil {
			return err
		}
		if fe != nil {
			complete.ErrorCode, complete.ErrorDetails = fe.Type, string(fe.Body)
		}
	} else if resp.FunctionError != "" {
		complete.ErrorCode, complete.ErrorDetails = resp.ErrorType, string(resp.Payload)
	} else if len(resp.Payload) > 0 {
		if err := ew.chunk(resp.Payload); err != nil {
			return err
		}
	}
	if wantLog {
		if rep, ok := <-reports; ok {
			complete.LogResult = base64.StdEncoding.EncodeToString(rep.LogTail)
		}
	}
	return ew.complete(complete)
}

// eventWriter writes the events of one streamed answer.
type eventWriter struct {
	w   io.Writer
	rc  *http.ResponseController
	enc *eventstream.Encoder
}

// relay sends the stream as PayloadChunk events as it arrives, and
// returns the error the runtime reported at its end.
func (e *eventWriter) relay(s invocation.Stream) (*invocation.FunctionError, error) {
	defer s.Close()
	buf := make([]byte, streamChunkSize)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if werr := e.chunk(buf[:n]); werr != nil {
				return nil, werr
			}
		}
		if err != nil {
			break
		}
	}
	return s.Err(), nil
}

func (e *eventWriter) chunk(p []byte) error {
	return e.event(EventPayloadChunk, "application/octet-stream", p, true)
}

func (e *eventWriter) complete(c InvokeComplete) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode %s: %w", EventInvokeComplete, err)
	}
	// Not flushed: the server sends it with the end of the chunked body,
	// so that a client that stops reading at InvokeComplete (the AWS SDKs
	// close the body there) finds the answer whole and can keep the
	// connection.
	return e.event(EventInvokeComplete, invocation.ContentTypeJSON, b, false)
}

// event writes one event and, with flush, flushes it to the caller.
func (e *eventWriter) event(typ, contentType string, payload []byte, flush bool) error {
	msg := eventstream.Message{Payload: payload}
	msg.Headers.Set(":event-type", eventstream.StringValue(typ))
	msg.Headers.Set(":content-type", eventstream.StringValue(contentType))
	msg.Headers.Set(":message-type", eventstream.StringValue("event"))
	if err := e.enc.Encode(e.w, msg); err != nil {
		return fmt.Errorf("write %s event: %w", typ, err)
	}
	if !flush {
		return nil
	}
	if err := e.rc.Flush(); err != nil {
		return fmt.Errorf("flush %s event: %w", typ, err)
	}
	return nil
}
