package rie

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// BenchmarkWarmInvoke measures warm sequential invocations of the echo
// function through the endpoint (bench/rie compares them with a baseline).
func BenchmarkWarmInvoke(b *testing.B) {
	url := endpointB(b, "echo")
	payload := []byte(`{"p":"` + string(bytes.Repeat([]byte("a"), 90)) + `"}`)
	for b.Loop() {
		r, err := http.Post(url, "application/json", bytes.NewReader(payload))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
}
