// Command streamer streams its response as a function URL handler of
// aws-lambda-go does (lambdaurl), which posts a chunked response without
// the streaming mode header. Its event is a function URL request whose
// query names what to send: chunks=N pieces of size=B bytes, pause=MS
// milliseconds apart, the bytes of a ChaCha8 generator seeded with
// seed=S (so a caller can check them); fail=1 ends the stream with the
// error "stream broke" after the chunks.
package main

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdaurl"
)

type params struct {
	chunks, size int
	pause        time.Duration
	seed         uint64
	fail         bool
}

func parse(q map[string]string) params {
	num := func(k string, def int) int {
		if n, err := strconv.Atoi(q[k]); err == nil {
			return n
		}
		return def
	}
	return params{
		chunks: num("chunks", 3),
		size:   num("size", 16),
		pause:  time.Duration(num("pause", 0)) * time.Millisecond,
		seed:   uint64(num("seed", 1)),
		fail:   q["fail"] == "1",
	}
}

// write sends the chunks to w; each write reaches the runtime API as it
// is made.
func write(w io.Writer, p params) error {
	gen := rand.NewChaCha8(seed(p.seed))
	buf := make([]byte, p.size)
	for i := range p.chunks {
		if i > 0 && p.pause > 0 {
			time.Sleep(p.pause)
		}
		gen.Read(buf)
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

func seed(s uint64) [32]byte {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(s >> (8 * i))
	}
	return b
}

func main() {
	url := lambdaurl.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		write(w, parse(flatten(r.URL.Query())))
	}))
	lambda.Start(func(ctx context.Context, req *events.LambdaFunctionURLRequest) (*events.LambdaFunctionURLStreamingResponse, error) {
		p := parse(req.QueryStringParameters)
		if !p.fail {
			return url(ctx, req)
		}
		// lambdaurl cannot end a stream with an error; a response of
		// the same shape whose body fails can.
		pr, pw := io.Pipe()
		go func() {
			if err := write(pw, p); err != nil {
				return
			}
			pw.CloseWithError(errors.New("stream broke"))
		}()
		return &events.LambdaFunctionURLStreamingResponse{StatusCode: 200, Body: pr}, nil
	})
}

func flatten(q map[string][]string) map[string]string {
	out := make(map[string]string, len(q))
	for k, v := range q {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}
