// Command echo returns the event JSON; aws-lambda-go re-encodes it, so insignificant whitespace is dropped.
package main

import (
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(event json.RawMessage) (json.RawMessage, error) {
		return event, nil
	})
}
