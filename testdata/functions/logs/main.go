// Command logs writes "hello stdout", "hello stderr" and an unterminated "line with no newline", then returns "ok".
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func() (string, error) {
		fmt.Fprintln(os.Stdout, "hello stdout")
		fmt.Fprintln(os.Stderr, "hello stderr")
		fmt.Fprint(os.Stdout, "line with no newline")
		return "ok", nil
	})
}
