package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/emberfn/ember/bench/internal/harness"
	"github.com/nats-io/nats-server/v2/server"
)

const (
	// seenTimeout bounds the wait for one change to reach the other ember.
	seenTimeout = 5 * time.Second
	// propagationFunction is the function whose changes are awaited.
	propagationFunction = "changes"
)

// propagation measures how long a change made through one ember serve
// takes to reach another that shares its NATS server, for the ember
// measured and, with -ember-before, for the older one, each pair on a
// NATS server of its own.
func (b *bench) propagation(ctx context.Context) error {
	zipped, err := zipBootstrap(b.bins.Bootstrap)
	if err != nil {
		return err
	}
	embers := []string{b.bins.Ember}
	if b.bins.Before != "" {
		embers = append(embers, b.bins.Before)
	}
	for i, bin := range embers {
		name := "ember"
		if i == 1 {
			name = "before"
		}
		p, err := b.propagate(ctx, name, bin, zipped)
		if err != nil {
			return err
		}
		b.res.Propagation = append(b.res.Propagation, p)
	}
	return nil
}

// propagate runs a NATS server with JetStream in the benchmark's
// process, on loopback, and two ember serve (A and B) that keep their
// state in it, creates a function through A and makes cfg.changes
// changes through A: in turns, a reserved concurrency of 0
// (PutFunctionConcurrency), after which an Invoke of B is throttled
// (429), and its removal (DeleteFunctionConcurrency), after which it
// answers again. After each, it invokes the function through B, one
// Invoke after the other, until B answers as the change says, and
// measures the time from A's answer to B's.
func (b *bench) propagate(ctx context.Context, name, bin string, zipped []byte) (propagation, error) {
	res := propagation{Ember: name}
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: filepath.Join(b.tmp, name+"-nats"), NoLog: true, NoSigs: true,
	})
	if err != nil {
		return res, fmt.Errorf("NATS server: %w", err)
	}
	go ns.Start()
	defer func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	}()
	if !ns.ReadyForConnections(readyTimeout) {
		return res, fmt.Errorf("the NATS server did not accept connections within %v", readyTimeout)
	}
	url := ns.ClientURL()
	b.progress("change propagation (%s): two ember serve sharing the NATS server at %s, %d changes through one, awaited at the other", name, url, b.cfg.changes)
	a, err := harness.StartServe(ctx, b.procs, bin, b.tmp, name+"-nats-a", false, "--nats", url)
	if err != nil {
		return res, err
	}
	defer harness.StopServe(a, b.res.Note)
	other, err := harness.StartServe(ctx, b.procs, bin, b.tmp, name+"-nats-b", false, "--nats", url)
	if err != nil {
		return res, err
	}
	defer harness.StopServe(other, b.res.Note)

	sdkA := harness.NewLambdaClient(a.URL, b.hc)
	if err := createFunction(ctx, sdkA, propagationFunction, zipped, 128); err != nil {
		return res, err
	}
	invokeB := invokeStatus(b.hc, other.URL+"/2015-03-31/functions/"+propagationFunction+"/invocations", payload())
	// B has seen the function, and has a warm environment, before the
	// first change.
	if _, err := awaitStatus(ctx, invokeB, http.StatusOK); err != nil {
		return res, fmt.Errorf("the function created through %s, invoked through %s: %w", a.Name, other.Name, err)
	}

	var lags, fromSend []time.Duration
	for i := range b.cfg.changes {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		reserve := i%2 == 0
		want := http.StatusOK
		t0 := time.Now()
		if reserve {
			want = http.StatusTooManyRequests
			_, err = sdkA.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
				FunctionName: aws.String(propagationFunction), ReservedConcurrentExecutions: aws.Int32(0)})
		} else {
			_, err = sdkA.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String(propagationFunction)})
		}
		if err != nil {
			return res, fmt.Errorf("change %d through %s: %w", i+1, a.Name, err)
		}
		answered := time.Now()
		seen, err := awaitStatus(ctx, invokeB, want)
		res.Changes++
		if err != nil {
			res.NotSeen++
			if res.Detail == "" {
				res.Detail = err.Error()
			}
			continue
		}
		lags = append(lags, seen.Sub(answered))
		fromSend = append(fromSend, seen.Sub(t0))
	}
	res.fill(lags, fromSend)
	return res, nil
}

// invokeStatus returns a function that invokes through url with body and
// returns the status of the answer and when it was read.
func invokeStatus(hc *http.Client, url string, body []byte) func(ctx context.Context) (int, time.Time, error) {
	var buf bytes.Buffer
	return func(ctx context.Context) (int, time.Time, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return 0, time.Time{}, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, time.Time{}, err
		}
		defer resp.Body.Close()
		buf.Reset()
		_, err = buf.ReadFrom(resp.Body)
		return resp.StatusCode, time.Now(), err
	}
}

// awaitStatus invokes until an answer has the status want, and returns
// when that answer was read; it fails after seenTimeout.
func awaitStatus(ctx context.Context, invoke func(context.Context) (int, time.Time, error), want int) (time.Time, error) {
	deadline := time.Now().Add(seenTimeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		status, at, err := invoke(ctx)
		switch {
		case err != nil:
			last = err.Error()
		case status == want:
			return at, nil
		default:
			last = fmt.Sprintf("status %d", status)
		}
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
	}
	return time.Time{}, fmt.Errorf("no status %d within %v; the last answer: %s", want, seenTimeout, last)
}
