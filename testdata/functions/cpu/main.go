// Command cpu hashes the event's "mb" MiB (16 when it gives none) with
// SHA-256 on one goroutine, and returns {"mb": mb, "sha256": the digest}:
// a fixed amount of single-threaded CPU work, whose duration follows the
// CPU share that the function's memory gives it, up to one vCPU.
package main

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	MB int `json:"mb"`
}

type result struct {
	MB     int    `json:"mb"`
	SHA256 string `json:"sha256"`
}

func main() {
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i)
	}
	lambda.Start(func(e event) (result, error) {
		if e.MB <= 0 {
			e.MB = 16
		}
		h := sha256.New()
		for range e.MB {
			h.Write(block)
		}
		return result{MB: e.MB, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
	})
}
