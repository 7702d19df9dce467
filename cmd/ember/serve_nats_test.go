package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/nats-io/nats-server/v2/server"
)

// TestServeTwoNodesShareExternalNATS starts a NATS server with JetStream
// that listens on loopback, as a cluster's would, and two ember serve
// processes that keep their state in it: what one creates, the other
// lists and invokes, and an event accepted by one runs.
func TestServeTwoNodesShareExternalNATS(t *testing.T) {
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		MaxPayload: 8 << 20, NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	a := startServe(t, t.TempDir(), "--nats", srv.ClientURL())
	b := startServe(t, t.TempDir(), "--nats", srv.ClientURL())
	ca, cb := sdkClient(a.url, testSecret), sdkClient(b.url, testSecret)
	ctx := context.Background()

	createFunction(t, ca, "shared", zipFunction(t, "echo"))
	list, err := cb.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil || len(list.Functions) != 1 || *list.Functions[0].FunctionName != "shared" {
		t.Fatalf("the second node lists %+v, %v", list, err)
	}
	out, err := cb.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("shared"), Payload: []byte(`{"node":"b"}`)})
	if err != nil || !strings.Contains(string(out.Payload), `"node":"b"`) {
		t.Fatalf("the second node invoked: %s, %v", out.Payload, err)
	}
	// The event runs on whichever node takes it from the shared queue.
	id := eventInvoke(t, ca, "shared")
	deadline := time.Now().Add(20 * time.Second)
	for {
		logs := functionLogs(t, a.url, "shared") + functionLogs(t, b.url, "shared")
		if strings.Contains(logs, "REPORT RequestId: "+id) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event %s did not run on either node", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
