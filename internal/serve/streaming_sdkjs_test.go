package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invokewire"
	"github.com/emberfn/ember/internal/testenv"
)

// jsSDK returns a directory whose node_modules holds the AWS SDK for
// JavaScript v3's Lambda client, installed with npm once into the user's
// cache.
func jsSDK(t *testing.T) string {
	t.Helper()
	npm := testenv.Command(t, "npm")
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, "ember-test", "aws-sdk-js")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "client-lambda", "package.json")); err == nil {
		return dir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel", "error", "@aws-sdk/client-lambda")
	if out, err := cmd.CombinedOutput(); err != nil {
		testenv.Missing(t, "npm install @aws-sdk/client-lambda: %v\n%s", err, out)
	}
	return dir
}

// streamJS reads an InvokeWithResponseStream answer with the AWS SDK for
// JavaScript v3 and prints what it got as JSON.
const streamJS = `
const { LambdaClient, InvokeWithResponseStreamCommand } = require('@aws-sdk/client-lambda');
(async () => {
  const client = new LambdaClient({ endpoint: process.argv[2], region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEMBERTEST', secretAccessKey: 'secret' } });
  // A first call, read to its end, so that the one measured is warm:
  // the SDK's modules loaded, the function's environment started.
  const warm = await client.send(new InvokeWithResponseStreamCommand({
    FunctionName: process.argv[3], Payload: Buffer.from(process.argv[5]) }));
  for await (const ev of warm.EventStream) { void ev; }
  const start = Date.now();
  const out = await client.send(new InvokeWithResponseStreamCommand({
    FunctionName: process.argv[3], Payload: Buffer.from(process.argv[4]) }));
  let first = -1;
  const chunks = [];
  let complete = null;
  for await (const ev of out.EventStream) {
    if (ev.PayloadChunk) {
      if (first < 0) first = Date.now() - start;
      chunks.push(Buffer.from(ev.PayloadChunk.Payload));
    }
    if (ev.InvokeComplete) complete = ev.InvokeComplete;
  }
  console.log(JSON.stringify({ first, total: Date.now() - start, version: out.ExecutedVersion,
    body: Buffer.concat(chunks).toString('base64'), complete }));
})().catch((err) => { console.error(err); process.exit(1); });
`

// TestInvokeWithResponseStreamJS: the AWS SDK for JavaScript v3 reads
// ember's event stream as it reads Lambda's: the first chunk as the
// function writes it, every byte, and InvokeComplete with a mid-stream
// error.
func TestInvokeWithResponseStreamJS(t *testing.T) {
	node := testenv.Command(t, "node")
	sdk := jsSDK(t)
	url := start(t, Config{
		Region: function.DefaultRegion, AccountID: function.DefaultAccountID, AllowLocalCode: true,
		IdleTimeout: time.Minute, StreamBandwidth: invokewire.Bandwidth{Unlimited: true},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	createFunction(ctx, t, sdkClient(url), "streamer")
	script := filepath.Join(sdk, "stream.js")
	if err := os.WriteFile(script, []byte(streamJS), 0o644); err != nil {
		t.Fatal(err)
	}
	type result struct {
		First, Total int64
		Version      string
		Body         string
		Complete     *struct {
			ErrorCode, ErrorDetails, LogResult string
		}
	}
	run := func(event string) result {
		t.Helper()
		cmd := exec.CommandContext(ctx, node, script, url, "streamer", event, streamerEvent("chunks=1"))
		cmd.Dir = sdk
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("node: %v\n%s", err, out)
		}
		var r result
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("node printed %s: %v", out, err)
		}
		return r
	}

	r := run(streamerEvent("chunks=4&size=512&pause=300&seed=9"))
	body, err := base64.StdEncoding.DecodeString(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	var got, want bytes.Buffer
	strip := &preludeStripper{w: &got}
	strip.Write(body)
	streamerBytes(&want, 9, 4, 512)
	if !bytes.Equal(got.Bytes(), want.Bytes()) || r.Version != "$LATEST" || r.Complete == nil || r.Complete.ErrorCode != "" {
		t.Errorf("the JavaScript SDK read %d bytes (want %d, equal %v), version %q, InvokeComplete %+v",
			got.Len(), want.Len(), bytes.Equal(got.Bytes(), want.Bytes()), r.Version, r.Complete)
	}
	if r.First < 0 || r.Total < 900 || r.First > r.Total/3 {
		t.Errorf("the first chunk came at %d ms of %d: not as the function wrote it", r.First, r.Total)
	}

	r = run(streamerEvent("chunks=2&size=8&fail=1&seed=3"))
	if r.Complete == nil || r.Complete.ErrorCode == "" || r.Complete.ErrorDetails == "" {
		t.Errorf("a mid-stream failure: InvokeComplete %+v; want its error code and details", r.Complete)
	}
}
