// Command exit ends its own process mid-invocation: os.Exit with the event's "code" (default 3), or SIGKILL if "signal" is "KILL".
package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Code   *int   `json:"code"`
	Signal string `json:"signal"`
}

func main() {
	lambda.Start(func(e event) error {
		if e.Signal == "KILL" {
			return syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		code := 3
		if e.Code != nil {
			code = *e.Code
		}
		fmt.Printf("exiting with %d\n", code)
		os.Exit(code)
		return nil
	})
}
