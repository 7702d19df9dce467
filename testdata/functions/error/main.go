// Command error returns the error "something failed" from every invocation.
package main

import (
	"errors"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func() error {
		return errors.New("something failed")
	})
}
