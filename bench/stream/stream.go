package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	// fnName is the streamer's name in ember.
	fnName = "streamer"
	// memoryMB is the streamer's memory: in ember's sandbox, one vCPU.
	memoryMB = 1769
	// functionTimeout is the streamer's timeout, in seconds: a stream
	// under Lambda's bandwidth takes half a second a MB past 6 MB.
	functionTimeout = 300
	// benchRole is the streamer's execution role; ember checks its form
	// only.
	benchRole = "arn:aws:iam::123456789012:role/ember-bench"
	// localBucket, as a function's S3Bucket, makes ember take its code from
	// the directory its S3Key names.
	localBucket = "ember-local"
	// limitsOff ends a REPORT line of a runtime that ember ran as a plain
	// process or without cgroups.
	limitsOff = "Limits: not enforced"
)

// build compiles ember and the streamer into dir, the streamer as the
// bootstrap of its own code directory, static and cgo-free as they ship,
// and returns ember's binary and the streamer's directory.
func build(ctx context.Context, dir string) (ember, fnDir string, err error) {
	root, err := harness.ModuleRoot(ctx)
	if err != nil {
		return "", "", err
	}
	ember, fnDir = filepath.Join(dir, "ember"), filepath.Join(dir, fnName)
	for _, t := range []struct{ out, pkg string }{{ember, "./cmd/ember"}, {filepath.Join(fnDir, "bootstrap"), "./testdata/functions/streamer"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", t.out, t.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %w\n%s", t.pkg, err, out)
		}
	}
	return ember, fnDir, nil
}

// createStreamer creates the streamer in the ember of c, its code taken
// from dir.
func createStreamer(ctx context.Context, c *lambda.Client, dir string) error {
	_, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(fnName), Role: aws.String(benchRole),
		Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		MemorySize: aws.Int32(memoryMB), Timeout: aws.Int32(functionTimeout),
		Code: &types.FunctionCode{S3Bucket: aws.String(localBucket), S3Key: aws.String(dir)},
	})
	if err != nil {
		return fmt.Errorf("CreateFunction %s: %w", fnName, err)
	}
	return nil
}

// urlEvent is the function URL request that asks the streamer for s, as
// Lambda's function URLs send it.
func urlEvent(s shape) ([]byte, error) {
	q := s.query()
	params := make(map[string]string, len(q))
	for k := range q {
		params[k] = q.Get(k)
	}
	return json.Marshal(map[string]any{
		"version":               "2.0",
		"rawPath":               "/",
		"rawQueryString":        q.Encode(),
		"queryStringParameters": params,
		"requestContext": map[string]any{
			"domainName": "streamer.local",
			"http":       map[string]string{"method": "GET", "path": "/"},
		},
	})
}

// received is what a streamed answer came to.
type received struct {
	// first is the time from sending the request to the first bytes of
	// the stream: ember's first PayloadChunk event, the plain server's
	// first bytes of body; total to the end of the stream.
	first, total time.Duration
	// n is how many bytes of buf it filled; events the PayloadChunk
	// events.
	n, events int
	// log is the log tail of InvokeComplete, when it was asked for.
	log string
}

// errOverflow says that an answer was longer than the buffer for it.
var errOverflow = errors.New("the answer is longer than the stream asked for")

// streamPath is the path of InvokeWithResponseStream of the streamer.
const streamPath = "/2021-11-15/functions/" + fnName + "/response-streaming-invocations"

// invokeStream invokes the streamer of the ember at base with event
// through InvokeWithResponseStream, a plain net/http request with hc,
// decodes the answer's event stream with aws-sdk-go-v2's
// eventstream.Decoder, which checks each message's CRCs, and copies the
// payloads of the PayloadChunk events into buf; with tail it asks for the
// log tail. A function error fails it.
func invokeStream(ctx context.Context, hc *http.Client, base string, event, buf []byte, tail bool) (received, error) {
	var r received
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+streamPath, bytes.NewReader(event))
	if err != nil {
		return r, err
	}
	req.Header.Set("Content-Type", "application/json")
	if tail {
		req.Header.Set("X-Amz-Log-Type", "Tail")
	}
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != eventStreamType {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 300))
		return r, errors.Join(&harness.StatusError{Status: resp.StatusCode, Body: resp.Header.Get("Content-Type") + ": " + string(b)}, err)
	}
	body := bufio.NewReaderSize(resp.Body, readBuffer)
	dec := eventstream.NewDecoder()
	payload := make([]byte, 0, readBuffer)
	var complete *invokeComplete
	for complete == nil {
		msg, err := dec.Decode(body, payload[:0])
		if err != nil {
			return r, fmt.Errorf("decode event %d: %w", r.events+1, err)
		}
		if typ := msg.Headers.Get(":message-type"); typ == nil || typ.String() != "event" {
			return r, fmt.Errorf("message of type %v: %s", typ, harness.Clip(string(msg.Payload), 300))
		}
		switch typ := msg.Headers.Get(":event-type"); {
		case typ == nil:
			return r, errors.New("an event without :event-type")
		case typ.String() == "PayloadChunk":
			if r.events == 0 {
				r.first = time.Since(t0)
			}
			r.events++
			if r.n+len(msg.Payload) > len(buf) {
				return r, errOverflow
			}
			r.n += copy(buf[r.n:], msg.Payload)
		case typ.String() == "InvokeComplete":
			complete = new(invokeComplete)
			if err := json.Unmarshal(msg.Payload, complete); err != nil {
				return r, fmt.Errorf("InvokeComplete: %w", err)
			}
		default:
			return r, fmt.Errorf("unexpected event %s", typ)
		}
	}
	// Read to the end, so that the connection is used again.
	if n, err := io.Copy(io.Discard, body); err != nil || n > 0 {
		return r, errors.Join(fmt.Errorf("%d bytes after InvokeComplete", n), err)
	}
	r.total = time.Since(t0)
	if complete.ErrorCode != "" {
		return r, fmt.Errorf("InvokeComplete with %s: %s", complete.ErrorCode, harness.Clip(complete.ErrorDetails, 300))
	}
	if tail {
		log, err := base64.StdEncoding.DecodeString(complete.LogResult)
		if err != nil {
			return r, fmt.Errorf("LogResult: %w", err)
		}
		r.log = string(log)
	}
	return r, nil
}

const (
	// eventStreamType is the content type of InvokeWithResponseStream's
	// answer.
	eventStreamType = "application/vnd.amazon.eventstream"
	// readBuffer is the buffer of the event stream's reader: more than
	// ember's largest PayloadChunk, 32 KB.
	readBuffer = 64 << 10
)

// invokeComplete is the payload of the event that ends the stream.
type invokeComplete struct {
	ErrorCode    string `json:"ErrorCode"`
	ErrorDetails string `json:"ErrorDetails"`
	LogResult    string `json:"LogResult"`
}

// preludeEnd ends the prelude of a function URL response, the JSON of its
// status and headers that lambdaurl writes before the body.
var preludeEnd = make([]byte, 8)

// checkStreamed checks that ember's answer in got is a function URL
// response of status 200 whose body is want.
func checkStreamed(got, want []byte) error {
	i := bytes.Index(got, preludeEnd)
	if i < 0 || !bytes.HasPrefix(got, []byte(`{"statusCode":200`)) {
		return fmt.Errorf("no function URL prelude of status 200 in %q", harness.Clip(string(got), 100))
	}
	return checkBody(got[i+len(preludeEnd):], want)
}

// checkBody checks that got is want.
func checkBody(got, want []byte) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d bytes of body, want %d", len(got), len(want))
	}
	if !bytes.Equal(got, want) {
		return errors.New("the body is not the generator's bytes")
	}
	return nil
}

// getPlain asks the plain server at base for the stream of query with hc
// and reads its body into buf.
func getPlain(ctx context.Context, hc *http.Client, base, query string, buf []byte) (received, error) {
	var r received
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/?"+query, nil)
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 300))
		return r, errors.Join(&harness.StatusError{Status: resp.StatusCode, Body: string(b)}, err)
	}
	// one takes a byte past buf: one too many.
	var one [1]byte
	for {
		dst := buf[r.n:]
		if len(dst) == 0 {
			dst = one[:]
		}
		k, err := resp.Body.Read(dst)
		if k > 0 {
			if r.n == len(buf) {
				return r, errOverflow
			}
			if r.n == 0 {
				r.first = time.Since(t0)
			}
			r.n += k
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return r, fmt.Errorf("read the body: %w", err)
		}
	}
	r.total = time.Since(t0)
	return r, nil
}

// unlimited reports whether the REPORT line of log says that ember did not
// enforce the function's limits, and whether it has one.
func unlimited(log string) (off, found bool) {
	for line := range strings.Lines(log) {
		if strings.HasPrefix(line, "REPORT RequestId: ") {
			return strings.Contains(line, limitsOff), true
		}
	}
	return false, false
}
