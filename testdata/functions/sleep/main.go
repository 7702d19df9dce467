// Command sleep sleeps for the event's "ms" milliseconds, then returns
// {"slept": ms, "pid": its process id, "start"/"end": Unix nanoseconds of the
// handler's run}, so that tests can tell environments apart and check that
// none ran two invocations at once.
package main

import (
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	MS int `json:"ms"`
}

type result struct {
	Slept int   `json:"slept"`
	PID   int   `json:"pid"`
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

func main() {
	lambda.Start(func(e event) (result, error) {
		start := time.Now()
		time.Sleep(time.Duration(e.MS) * time.Millisecond)
		return result{Slept: e.MS, PID: os.Getpid(), Start: start.UnixNano(), End: time.Now().UnixNano()}, nil
	})
}
