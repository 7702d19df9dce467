// Command memory allocates the event's "mb" MiB, touches every page, and
// returns {"allocated": mb}. It gives the memory back to the OS before it
// returns, so that what it holds between invocations stays small.
package main

import (
	"runtime"
	"runtime/debug"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	MB int `json:"mb"`
}

type result struct {
	Allocated int `json:"allocated"`
}

func main() {
	lambda.Start(func(e event) (result, error) {
		buf := make([]byte, e.MB<<20)
		for i := 0; i < len(buf); i += 4096 {
			buf[i] = 1
		}
		runtime.KeepAlive(buf)
		buf = nil
		debug.FreeOSMemory()
		return result{Allocated: e.MB}, nil
	})
}
