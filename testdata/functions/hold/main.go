// Command hold holds each invocation: it dials the event's "addr" over
// TCP, writes its process id and a newline there, and returns
// {"held": ms, "pid": its process id} once the other side closes the
// connection or the event's "ms" milliseconds have passed, whichever
// comes first. Without "addr" it sleeps for "ms"; a dial that does not
// connect within 30 s fails the invocation. A benchmark uses it to
// keep many environments busy at once and to learn when each is.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// dialTimeout bounds the dial of addr.
const dialTimeout = 30 * time.Second

type event struct {
	Addr string `json:"addr"`
	MS   int    `json:"ms"`
}

type result struct {
	Held int64 `json:"held"`
	PID  int   `json:"pid"`
}

func main() {
	lambda.Start(func(ctx context.Context, e event) (result, error) {
		start := time.Now()
		limit := time.Duration(e.MS) * time.Millisecond
		if e.Addr == "" {
			time.Sleep(limit)
			return result{Held: time.Since(start).Milliseconds(), PID: os.Getpid()}, nil
		}
		// A dial that hangs fails soon, so that the caller learns of it.
		conn, err := net.DialTimeout("tcp", e.Addr, min(limit, dialTimeout))
		if err != nil {
			return result{}, err
		}
		defer conn.Close()
		if _, err := fmt.Fprintf(conn, "%d\n", os.Getpid()); err != nil {
			return result{}, err
		}
		conn.SetReadDeadline(start.Add(limit))
		// Nothing is sent: the read ends at the close or the deadline.
		io.Copy(io.Discard, conn)
		return result{Held: time.Since(start).Milliseconds(), PID: os.Getpid()}, nil
	})
}
