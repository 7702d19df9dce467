package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invokewire"
)

// streamed is what an InvokeWithResponseStream answer held.
type streamed struct {
	chunks   int
	body     []byte // the chunks' bytes, unless they were only hashed
	firstAt  time.Duration
	complete *types.InvokeWithResponseStreamCompleteEvent
	version  string
	ctype    string
}

// invokeStream invokes fn through InvokeWithResponseStream with the
// streamer's query q and reads the answer to its end; each chunk also
// goes to sink when it is set (and is then not kept).
func invokeStream(ctx context.Context, t *testing.T, c *lambda.Client, fn, payload string, sink io.Writer, edit func(*lambda.InvokeWithResponseStreamInput)) (streamed, error) {
	t.Helper()
	in := &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String(fn), Payload: []byte(payload)}
	if edit != nil {
		edit(in)
	}
	start := time.Now()
	out, err := c.InvokeWithResponseStream(ctx, in)
	if err != nil {
		return streamed{}, err
	}
	s := streamed{version: aws.ToString(out.ExecutedVersion), ctype: aws.ToString(out.ResponseStreamContentType)}
	stream := out.GetStream()
	defer stream.Close()
	for ev := range stream.Events() {
		switch v := ev.(type) {
		case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
			if s.chunks == 0 {
				s.firstAt = time.Since(start)
			}
			s.chunks++
			if s.complete != nil {
				t.Errorf("a PayloadChunk after InvokeComplete")
			}
			if sink != nil {
				sink.Write(v.Value.Payload)
			} else {
				s.body = append(s.body, v.Value.Payload...)
			}
		case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
			if s.complete != nil {
				t.Errorf("a second InvokeComplete")
			}
			s.complete = &v.Value
		default:
			t.Errorf("unexpected event %T", ev)
		}
	}
	if err := stream.Err(); err != nil {
		return s, fmt.Errorf("read the event stream: %w", err)
	}
	if s.complete == nil {
		return s, errors.New("the event stream ended without InvokeComplete")
	}
	return s, nil
}

// streamerEvent is a function URL request whose query is q, as the streamer
// reads it.
func streamerEvent(q string) string {
	params := map[string]string{}
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		params[k] = v
	}
	var b strings.Builder
	for k, v := range params {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%q", k, v)
	}
	return fmt.Sprintf(`{"version":"2.0","rawPath":"/","rawQueryString":%q,"queryStringParameters":{%s},"requestContext":{"domainName":"streamer.local","http":{"method":"GET","path":"/"}}}`, q, b.String())
}

// streamerBytes is what the streamer sends for chunks of size bytes and
// seed, as its ChaCha8 generator makes them.
func streamerBytes(w io.Writer, seedValue uint64, chunks, size int) {
	var seed [32]byte
	for i := range 8 {
		seed[i] = byte(seedValue >> (8 * i))
	}
	gen := rand.NewChaCha8(seed)
	buf := make([]byte, size)
	for range chunks {
		gen.Read(buf)
		w.Write(buf)
	}
}

// preludeEnd is what ends a function URL response's prelude: the
// streamer's body follows it.
var preludeEnd = make([]byte, 8)

// preludeStripper passes on what follows the prelude of a function URL
// response.
type preludeStripper struct {
	w    io.Writer
	head []byte
	done bool
}

func (p *preludeStripper) Write(b []byte) (int, error) {
	if p.done {
		return p.w.Write(b)
	}
	p.head = append(p.head, b...)
	i := bytes.Index(p.head, preludeEnd)
	if i < 0 {
		return len(b), nil
	}
	p.done = true
	rest := p.head[i+len(preludeEnd):]
	p.head = p.head[:i]
	if _, err := p.w.Write(rest); err != nil {
		return 0, err
	}
	return len(b), nil
}

func createFunction(ctx context.Context, t *testing.T, c *lambda.Client, name string) {
	t.Helper()
	if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Role: aws.String(testRole),
		Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Code:       &types.FunctionCode{ZipFile: zipped(t, name)},
		MemorySize: aws.Int32(512), Timeout: aws.Int32(60),
	}); err != nil {
		t.Fatalf("CreateFunction %s: %v", name, err)
	}
}

// TestInvokeWithResponseStream drives ember serve's InvokeWithResponseStream
// with the AWS SDK: a function that streams as aws-lambda-go's function
// URL handlers do (without the streaming mode header), a buffered one, a
// failure mid-stream, the log tail, and 100 MB intact.
func TestInvokeWithResponseStream(t *testing.T) {
	url := start(t, Config{
		Region:          function.DefaultRegion,
		AccountID:       function.DefaultAccountID,
		AllowLocalCode:  true,
		IdleTimeout:     time.Minute,
		StreamBandwidth: invokewire.Bandwidth{Unlimited: true},
	})
	c := sdkClient(url)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	createFunction(ctx, t, c, "streamer")
	createFunction(ctx, t, c, "echo")

	t.Run("first chunk comes first", func(t *testing.T) {
		// A warm-up, so that the timing below is not a cold start's.
		if _, err := invokeStream(ctx, t, c, "streamer", streamerEvent("chunks=1"), nil, nil); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		s, err := invokeStream(ctx, t, c, "streamer", streamerEvent("chunks=5&size=16&pause=300&seed=7"), nil, nil)
		total := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		if s.complete.ErrorCode != nil || s.version != "$LATEST" || s.ctype != invokewire.EventStreamContentType {
			t.Errorf("error code %q, version %q, content type %q", aws.ToString(s.complete.ErrorCode), s.version, s.ctype)
		}
		if total < 1200*time.Millisecond || s.firstAt > total/3 {
			t.Errorf("the first chunk came after %v of %v: the response was not relayed as it came", s.firstAt, total)
		}
		if s.chunks < 5 {
			t.Errorf("%d chunks for 5 writes 300 ms apart", s.chunks)
		}
		var want bytes.Buffer
		streamerBytes(&want, 7, 5, 16)
		var got bytes.Buffer
		p := &preludeStripper{w: &got}
		p.Write(s.body)
		if !bytes.HasPrefix(p.head, []byte(`{"statusCode":200`)) || !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("prelude %q, body %x; want %x", p.head, got.Bytes(), want.Bytes())
		}
	})

	t.Run("100 MB intact", func(t *testing.T) {
		const chunks, size = 1600, 64 << 10 // 100 MiB
		h := sha256.New()
		s, err := invokeStream(ctx, t, c, "streamer", streamerEvent(fmt.Sprintf("chunks=%d&size=%d&seed=42", chunks, size)), &preludeStripper{w: h}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.complete.ErrorCode != nil {
			t.Fatalf("InvokeComplete with %s: %s", aws.ToString(s.complete.ErrorCode), aws.ToString(s.complete.ErrorDetails))
		}
		want := sha256.New()
		streamerBytes(want, 42, chunks, size)
		if !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
			t.Errorf("sha256 %x of %d chunks; want %x", h.Sum(nil), s.chunks, want.Sum(nil))
		}
	})

	t.Run("failure mid-stream", func(t *testing.T) {
		s, err := invokeStream(ctx, t, c, "streamer", streamerEvent("chunks=3&size=8&pause=20&fail=1&seed=3"), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		streamerBytes(&want, 3, 3, 8)
		if !bytes.HasSuffix(s.body, want.Bytes()) {
			t.Errorf("body %x; want it to end in the chunks %x", s.body, want.Bytes())
		}
		code, details := aws.ToString(s.complete.ErrorCode), aws.ToString(s.complete.ErrorDetails)
		if code != "errorString" || !strings.Contains(details, `"errorMessage":"stream broke"`) {
			t.Errorf("InvokeComplete error code %q, details %q; want errorString and the runtime's error body", code, details)
		}
	})

	t.Run("buffered function in one chunk", func(t *testing.T) {
		s, err := invokeStream(ctx, t, c, "echo", `{"buffered":true}`, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.chunks != 1 || string(s.body) != `{"buffered":true}` || s.complete.ErrorCode != nil {
			t.Errorf("%d chunks %q, error code %q; want one chunk, the payload", s.chunks, s.body, aws.ToString(s.complete.ErrorCode))
		}
	})

	t.Run("log tail", func(t *testing.T) {
		s, err := invokeStream(ctx, t, c, "streamer", streamerEvent("chunks=2"), nil, func(in *lambda.InvokeWithResponseStreamInput) {
			in.LogType = types.LogTypeTail
		})
		if err != nil {
			t.Fatal(err)
		}
		tail, err := base64.StdEncoding.DecodeString(aws.ToString(s.complete.LogResult))
		if err != nil || !strings.Contains(string(tail), "REPORT RequestId: ") {
			t.Errorf("LogResult %q (%v); want the log tail with REPORT", tail, err)
		}
	})

	t.Run("back to back", func(t *testing.T) {
		// The SDK stops reading at InvokeComplete and closes the body:
		// each answer must be whole by then, or its connection breaks.
		for i := range 200 {
			if _, err := invokeStream(ctx, t, c, "streamer", streamerEvent("chunks=3&size=64"), nil, nil); err != nil {
				t.Fatalf("stream %d of 200: %v", i+1, err)
			}
		}
	})

	t.Run("errors before the stream", func(t *testing.T) {
		var notFound *types.ResourceNotFoundException
		if _, err := invokeStream(ctx, t, c, "nobody", `{}`, nil, nil); !errors.As(err, &notFound) {
			t.Errorf("an unknown function: %v; want ResourceNotFoundException", err)
		}
		// As Invoke's: a 413 RequestEntityTooLargeException.
		var tooLarge smithy.APIError
		big := `"` + strings.Repeat("x", 6<<20) + `"`
		if _, err := invokeStream(ctx, t, c, "echo", big, nil, nil); !errors.As(err, &tooLarge) || tooLarge.ErrorCode() != "RequestEntityTooLargeException" {
			t.Errorf("a payload over 6 MB: %v; want RequestEntityTooLargeException", err)
		}
		out, err := c.InvokeWithResponseStream(ctx, &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("echo"), InvocationType: types.ResponseStreamingInvocationTypeDryRun})
		if err != nil || out.StatusCode != 204 {
			t.Errorf("DryRun: %v, %+v; want 204", err, out)
		}
	})
}
