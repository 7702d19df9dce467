package invokewire

import (
	"fmt"
	"io"
	"time"
)

// Lambda's bandwidth for a streamed response: the first 6 MB go uncapped,
// then about 2 MB/s. These are the figures of AWS's runtime interface
// emulator, a bucket of 6 MiB refilled at 2 MiB/s.
const (
	LambdaStreamBurst = 6 << 20
	LambdaStreamRate  = 2 << 20
)

// Bandwidth is how fast a streamed response is sent to its caller. The
// zero value is Lambda's cap.
type Bandwidth struct {
	// Unlimited sends as fast as the caller reads.
	Unlimited bool
	// Burst bytes go uncapped, then Rate bytes a second; zero takes
	// Lambda's figures.
	Burst int64
	Rate  int64
}

// ParseBandwidth reads the value of --stream-bandwidth: "lambda" or
// "unlimited".
func ParseBandwidth(s string) (Bandwidth, error) {
	switch s {
	case "lambda":
		return Bandwidth{}, nil
	case "unlimited":
		return Bandwidth{Unlimited: true}, nil
	}
	return Bandwidth{}, fmt.Errorf("stream bandwidth %q: want lambda or unlimited", s)
}

// Set reads a flag's value with ParseBandwidth: b is a flag.Value.
func (b *Bandwidth) Set(s string) error {
	v, err := ParseBandwidth(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// BandwidthUsage describes the values of --stream-bandwidth.
const BandwidthUsage = "bandwidth of streamed responses: lambda (the first 6 MiB uncapped, then 2 MiB/s) or unlimited"

// String names b as ParseBandwidth reads it.
func (b Bandwidth) String() string {
	switch {
	case b.Unlimited:
		return "unlimited"
	case b == Bandwidth{}:
		return "lambda"
	}
	return fmt.Sprintf("%d bytes then %d bytes/s", b.Burst, b.Rate)
}

// Writer wraps w so that it writes within b, with the real clock.
func (b Bandwidth) Writer(w io.Writer) io.Writer {
	if b.Unlimited {
		return w
	}
	return newRateWriter(w, b, time.Now, time.Sleep)
}

// rateWriter is a token bucket in front of a writer: it holds Burst
// tokens at first and gains Rate a second up to Burst; each byte written
// takes one, and a write waits for the tokens it lacks.
type rateWriter struct {
	w      io.Writer
	burst  int64
	rate   int64
	now    func() time.Time
	sleep  func(time.Duration)
	tokens int64
	last   time.Time
}

// rateWriteSize bounds one write to the underlying writer, so that a large
// write goes out in steady pieces rather than after one long wait.
const rateWriteSize = 32 << 10

func newRateWriter(w io.Writer, b Bandwidth, now func() time.Time, sleep func(time.Duration)) *rateWriter {
	if b.Burst <= 0 {
		b.Burst = LambdaStreamBurst
	}
	if b.Rate <= 0 {
		b.Rate = LambdaStreamRate
	}
	return &rateWriter{w: w, burst: b.Burst, rate: b.Rate, now: now, sleep: sleep, tokens: b.Burst, last: now()}
}

func (r *rateWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), rateWriteSize)
		r.take(int64(n))
		m, err := r.w.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// take waits until n tokens are there and takes them.
func (r *rateWriter) take(n int64) {
	r.refill()
	if lack := n - r.tokens; lack > 0 {
		r.sleep(time.Duration(lack * int64(time.Second) / r.rate))
		r.refill()
	}
	// After the wait the bucket holds what was lacking, give or take the
	// clock's rounding; it never goes below zero by more than one piece.
	r.tokens -= n
}

func (r *rateWriter) refill() {
	now := r.now()
	elapsed := now.Sub(r.last)
	if elapsed <= 0 {
		return
	}
	r.last = now
	if full := time.Duration(r.burst * int64(time.Second) / r.rate); elapsed >= full {
		// Long enough to fill the bucket; this also keeps the product
		// below from overflowing.
		r.tokens = r.burst
		return
	}
	r.tokens = min(r.burst, r.tokens+int64(elapsed)*r.rate/int64(time.Second))
}
