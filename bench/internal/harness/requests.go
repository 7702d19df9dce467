package harness

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// StatusError is the answer of a request that was not the status
// expected.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string { return fmt.Sprintf("status %d: %s", e.Status, e.Body) }

// PostEcho returns a request that posts body to url with hc and expects
// body back with a 200, as the echo server and the echo function (through
// ember rie, or an unsigned Invoke of ember serve) answer. Its answers go
// to buffers used again by its next requests, one for each concurrent
// client.
func PostEcho(hc *http.Client, url string, body []byte) Request {
	buffers := &sync.Pool{New: func() any { return new(bytes.Buffer) }}
	return func(ctx context.Context) (time.Duration, error) {
		buf := buffers.Get().(*bytes.Buffer)
		defer buffers.Put(buf)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		t0 := time.Now()
		status, err := roundTrip(hc, req, buf)
		d := time.Since(t0)
		switch {
		case err != nil:
			return d, err
		case status != http.StatusOK:
			return d, &StatusError{Status: status, Body: Clip(buf.String(), 300)}
		case !bytes.Equal(buf.Bytes(), body):
			return d, fmt.Errorf("answer of %d bytes is not the %d-byte request: %s", buf.Len(), len(body), Clip(buf.String(), 100))
		}
		return d, nil
	}
}

// roundTrip sends req and reads its answer into buf.
func roundTrip(hc *http.Client, req *http.Request, buf *bytes.Buffer) (int, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return resp.StatusCode, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, nil
}

// InvokeSDK returns a request that invokes function through c with
// payload and expects payload back, as the echo function answers.
func InvokeSDK(c *lambda.Client, function string, payload []byte) Request {
	return func(ctx context.Context) (time.Duration, error) {
		t0 := time.Now()
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(function), Payload: payload})
		d := time.Since(t0)
		switch {
		case err != nil:
			return d, err
		case out.FunctionError != nil:
			return d, fmt.Errorf("function error %s: %s", *out.FunctionError, Clip(string(out.Payload), 200))
		case out.StatusCode != http.StatusOK:
			return d, fmt.Errorf("status %d", out.StatusCode)
		case !bytes.Equal(out.Payload, payload):
			return d, fmt.Errorf("answer of %d bytes is not the %d-byte payload: %s", len(out.Payload), len(payload), Clip(string(out.Payload), 100))
		}
		return d, nil
	}
}
