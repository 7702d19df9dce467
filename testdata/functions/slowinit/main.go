// Command slowinit sleeps SLOW_INIT_MS milliseconds (default 1500) and prints "init done" before starting; it echoes the event.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	ms := 1500
	if v, err := strconv.Atoi(os.Getenv("SLOW_INIT_MS")); err == nil {
		ms = v
	}
	time.Sleep(time.Duration(ms) * time.Millisecond)
	fmt.Println("init done")

	lambda.Start(func(event json.RawMessage) (json.RawMessage, error) {
		return event, nil
	})
}
