// Command big returns a JSON string of the event's "bytes" 'a' characters (a response of bytes+2 bytes).
package main

import (
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Bytes int `json:"bytes"`
}

func main() {
	lambda.Start(func(e event) (string, error) {
		return strings.Repeat("a", e.Bytes), nil
	})
}
