// Command sleep sleeps for the event's "ms" milliseconds, then returns {"slept": ms}.
package main

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	MS int `json:"ms"`
}

type result struct {
	Slept int `json:"slept"`
}

func main() {
	lambda.Start(func(e event) (result, error) {
		time.Sleep(time.Duration(e.MS) * time.Millisecond)
		return result{Slept: e.MS}, nil
	})
}
