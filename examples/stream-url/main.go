// Command stream-url is an example function that streams its response
// behind a function URL with InvokeMode RESPONSE_STREAM: a line every
// 200 ms, each reaching the client as it is written
// (curl -N "$(ember url stream-url --stream)").
package main

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambdaurl"
)

func main() {
	lambdaurl.Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 1 || n > 100 {
			n = 5
		}
		w.Header().Set("Content-Type", "text/plain")
		for i := 1; i <= n; i++ {
			fmt.Fprintf(w, "tick %d of %d at %s\n", i, n, time.Now().UTC().Format("15:04:05.000"))
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			if i < n {
				time.Sleep(200 * time.Millisecond)
			}
		}
	}))
}
