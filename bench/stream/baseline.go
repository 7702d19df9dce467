package main

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

// baselineArg, as the only argument, makes the benchmark's own binary the
// plain server.
const baselineArg = "serve-baseline-stream"

// shape is what a stream sends: chunks writes of size bytes, pause apart,
// the bytes of a ChaCha8 generator seeded with seed, as the streamer
// writes them.
type shape struct {
	chunks, size int
	pause        time.Duration
	seed         uint64
}

// bytes is the length of the stream.
func (s shape) bytes() int { return s.chunks * s.size }

// query is the query that asks the streamer, or the plain server, for s.
func (s shape) query() url.Values {
	return url.Values{
		"chunks": {strconv.Itoa(s.chunks)},
		"size":   {strconv.Itoa(s.size)},
		"pause":  {strconv.FormatInt(s.pause.Milliseconds(), 10)},
		"seed":   {strconv.FormatUint(s.seed, 10)},
	}
}

// parseShape reads a query of shape.query.
func parseShape(q url.Values) shape {
	num := func(k string) int {
		n, _ := strconv.Atoi(q.Get(k))
		return max(n, 0)
	}
	return shape{chunks: num("chunks"), size: num("size"), pause: time.Duration(num("pause")) * time.Millisecond, seed: uint64(num("seed"))}
}

// write sends the chunks of s to w, calling flush after each, as the
// streamer writes them to its runtime client.
func (s shape) write(w io.Writer, flush func() error) error {
	gen := rand.NewChaCha8(chachaSeed(s.seed))
	buf := make([]byte, s.size)
	for i := range s.chunks {
		if i > 0 && s.pause > 0 {
			time.Sleep(s.pause)
		}
		gen.Read(buf)
		if _, err := w.Write(buf); err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
}

// expected is the stream of s, as the streamer and the plain server send
// it.
func (s shape) expected() []byte {
	out := make([]byte, s.bytes())
	gen := rand.NewChaCha8(chachaSeed(s.seed))
	for off := 0; off < len(out); off += s.size {
		gen.Read(out[off : off+s.size])
	}
	return out
}

// chachaSeed is the streamer's seed of the generator.
func chachaSeed(s uint64) [32]byte {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(s >> (8 * i))
	}
	return b
}

// serveBaseline is the plain server: a net/http server that answers GET /
// with the stream its query names, each chunk flushed as it is written
// (chunked, as a stream), and nothing more: no function, no event
// stream, no bandwidth rule. It serves as harness.Serve does.
func serveBaseline(stdout io.Writer) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		s := parseShape(r.URL.Query())
		w.Header().Set("Content-Type", "application/octet-stream")
		rc := http.NewResponseController(w)
		// The client sees a broken stream as a short answer.
		s.write(w, rc.Flush)
	})
	return harness.Serve(stdout, mux)
}
