package rie

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/invoke"
)

// payload100 is a 100-byte JSON event.
var payload100 = []byte(`{"p":"` + string(bytes.Repeat([]byte("a"), 92)) + `"}`)

func invokeB(b *testing.B, c *http.Client, url string) {
	r, err := c.Post(url, "application/json", bytes.NewReader(payload100))
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	if r.StatusCode != 200 {
		b.Fatalf("status %d", r.StatusCode)
	}
}

// BenchmarkWarmInvoke measures warm sequential invocations of the echo
// function through the endpoint; bench/rie compares them with baselines.
func BenchmarkWarmInvoke(b *testing.B) {
	url := endpointTB(b, "echo", nil)
	for b.Loop() {
		invokeB(b, http.DefaultClient, url)
	}
}

// BenchmarkParallelInvoke measures 8 concurrent clients against 8
// environments.
func BenchmarkParallelInvoke(b *testing.B) {
	url := endpointTB(b, "echo", func(o *endpointOptions) { o.limits = invoke.LimiterOptions{Account: 8, QueueTimeout: 5 * time.Second} })
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			invokeB(b, c, url)
		}
	})
}
