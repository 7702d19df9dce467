// Command stream returns an io.Reader, which aws-lambda-go sends as a chunked response: "chunk-i\n" lines 20 ms apart, optionally ending in the error "stream broke".
package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Chunks int  `json:"chunks"`
	Fail   bool `json:"fail"`
}

func main() {
	lambda.Start(func(e event) (io.Reader, error) {
		pr, pw := io.Pipe()
		go func() {
			for i := range e.Chunks {
				if i > 0 {
					time.Sleep(20 * time.Millisecond)
				}
				if _, err := fmt.Fprintf(pw, "chunk-%d\n", i); err != nil {
					return // the reader was closed
				}
			}
			if e.Fail {
				pw.CloseWithError(errors.New("stream broke"))
				return
			}
			pw.Close()
		}()
		return pr, nil
	})
}
