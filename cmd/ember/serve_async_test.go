package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// functionLogs reads a function's kept log lines through ember's endpoint.
func functionLogs(t *testing.T, url, name string) string {
	t.Helper()
	resp, err := http.Get(url + "/ember/v1/functions/" + name + "/logs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitForLog polls the function's logs until one line holds every part.
func waitForLog(t *testing.T, url, name string, timeout time.Duration, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		logs := functionLogs(t, url, name)
		for _, line := range strings.Split(logs, "\n") {
			found := true
			for _, p := range parts {
				found = found && strings.Contains(line, p)
			}
			if found {
				return logs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line of %s holds %q within %v; the logs:\n%s", name, parts, timeout, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func eventInvoke(t *testing.T, c *lambda.Client, name string) string {
	t.Helper()
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String(name), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"async":true}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	id, ok := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if out.StatusCode != 202 || !ok || id == "" {
		t.Fatalf("Event invoke answered %d with request id %q", out.StatusCode, id)
	}
	return id
}

func TestServeAsyncEventRunsAndRetries(t *testing.T) {
	p := startServe(t, t.TempDir(), "--async-retry-delays", "100ms,100ms")
	c := sdkClient(p.url, testSecret)
	createFunction(t, c, "ok", zipFunction(t, "echo"))
	createFunction(t, c, "failing", zipFunction(t, "error"))

	id := eventInvoke(t, c, "ok")
	waitForLog(t, p.url, "ok", 10*time.Second, "REPORT RequestId: "+id)

	// A function error is retried twice, with the same request id.
	id = eventInvoke(t, c, "failing")
	logs := waitForLog(t, p.url, "failing", 10*time.Second, "REPORT RequestId: "+id)
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(logs, "START RequestId: "+id) < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		logs = functionLogs(t, p.url, "failing")
	}
	if n := strings.Count(logs, "START RequestId: "+id); n != 3 {
		t.Errorf("a failing event ran %d times; want 3 (the first attempt and two retries):\n%s", n, logs)
	}
}

// TestServeAcceptedEventSurvivesKill accepts an event that cannot run yet
// (reserved concurrency 0 throttles it), kills ember with SIGKILL, starts it
// again and lets the event run.
func TestServeAcceptedEventSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, dir)
	c := sdkClient(p.url, testSecret)
	ctx := context.Background()
	createFunction(t, c, "later", zipFunction(t, "echo"))
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("later"), ReservedConcurrentExecutions: aws.Int32(0),
	}); err != nil {
		t.Fatal(err)
	}
	id := eventInvoke(t, c, "later")
	p.kill()

	p = startServe(t, dir)
	c = sdkClient(p.url, testSecret)
	if _, err := c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("later")}); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, p.url, "later", 30*time.Second, "REPORT RequestId: "+id)
}
