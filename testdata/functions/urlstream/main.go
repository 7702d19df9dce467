// Command urlstream is an http.Handler run by aws-lambda-go's lambdaurl, which streams its response behind the HTTP prelude: status 202, a header, a cookie, then "part-1\n" and, 300 ms later, "part-2\n" and the request's path.
package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/lambdaurl"
)

func main() {
	lambdaurl.Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Stream", "yes")
		http.SetCookie(w, &http.Cookie{Name: "s", Value: "1"})
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, "part-1\n")
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		time.Sleep(300 * time.Millisecond)
		fmt.Fprintf(w, "part-2 %s\n", r.URL.Path)
	}))
}
