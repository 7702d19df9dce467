package metrics

import (
	"bytes"
	"net/http"
)

// Handler serves the metrics for Prometheus to scrape: GET (and HEAD)
// answer WriteText, with the gauges that gauges reads at each request.
func (r *Registry) Handler(gauges func() Gauges) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		// Written whole first, so that a failure can still be a 500.
		var buf bytes.Buffer
		if err := r.WriteText(&buf, gauges()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		if req.Method == http.MethodHead {
			return
		}
		// A scraper that hangs up mid-answer leaves no one to tell.
		_, _ = buf.WriteTo(w)
	})
}
