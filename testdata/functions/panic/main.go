// Command panic panics with the message "boom" on every invocation.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func() error {
		panic("boom")
	})
}
