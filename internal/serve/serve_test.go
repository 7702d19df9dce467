package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/emberfn/ember/internal/codezip"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/testenv"
	"github.com/emberfn/ember/internal/testfunc"
)

const testRole = "arn:aws:iam::123456789012:role/ember"

// clients is how many goroutines invoke at once.
const clients = 8

// lockedBuffer holds ember's log during a test; the log is printed if the
// test fails.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs Run in the test's own process, on a loopback port of the
// kernel's choosing, and returns the Lambda API's URL. When the test ends
// the server is stopped, and the test fails unless Run returns nil within
// a minute.
func start(t *testing.T, cfg Config) string {
	t.Helper()
	logs := &lockedBuffer{}
	cfg.Address = "127.0.0.1:0"
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Log = slog.New(slog.NewTextHandler(logs, nil))
	ready := make(chan net.Addr, 1)
	cfg.Ready = func(a net.Addr) { ready <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = Run(ctx, cfg)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
			if runErr != nil {
				t.Errorf("Run: %v", runErr)
			}
		case <-time.After(time.Minute):
			t.Errorf("Run has not returned a minute after its context ended")
		}
		if t.Failed() {
			t.Logf("ember's log:\n%s", logs)
		}
	})
	select {
	case a := <-ready:
		return "http://" + a.String()
	case <-done:
		t.Fatalf("Run returned before it was ready: %v", runErr)
	case <-time.After(time.Minute):
		t.Fatal("Run was not ready within a minute")
	}
	return ""
}

func sdkClient(url string) *lambda.Client {
	return lambda.New(lambda.Options{
		BaseEndpoint: aws.String(url),
		Region:       function.DefaultRegion,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEMBERTEST", "secret", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   ownBodies{http.DefaultClient},
	})
}

// ownBodies sends each request's body from a copy of its own. The SDK
// closes the body it built as soon as the response's headers arrive
// (smithy-go's transport/http/client.go), which can cut the transport's
// last read of it, and then the connection that still carries a streamed
// response: "use of closed network connection" (aws-sdk-go-v2 #2737).
type ownBodies struct{ c *http.Client }

func (o ownBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return o.c.Do(r)
}

// zipped is a test function's directory as a zip.
func zipped(t *testing.T, name string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := codezip.Create(testfunc.Build(t, name), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// invokeEcho invokes the echo function with a payload of its own and
// checks the answer: the payload back, from version want.
func invokeEcho(ctx context.Context, c *lambda.Client, qualifier, want string, g, i int) error {
	payload := fmt.Sprintf(`{"client":%d,"n":%d}`, g, i)
	in := &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(payload)}
	if qualifier != "" {
		in.Qualifier = aws.String(qualifier)
	}
	out, err := c.Invoke(ctx, in)
	switch {
	case err != nil:
		return err
	case out.StatusCode != 200 || out.FunctionError != nil:
		return fmt.Errorf("status %d, function error %q: %s", out.StatusCode, aws.ToString(out.FunctionError), out.Payload)
	case string(out.Payload) != payload:
		return fmt.Errorf("payload %s; want %s", out.Payload, payload)
	case aws.ToString(out.ExecutedVersion) != want:
		return fmt.Errorf("executed version %q; want %q", aws.ToString(out.ExecutedVersion), want)
	}
	return nil
}

// hammer has the clients invoke qualifier rounds times each, every answer
// checked, and calls during once each client has had its first answer.
func hammer(t *testing.T, c *lambda.Client, qualifier, want string, rounds int, during func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg, first sync.WaitGroup
	first.Add(clients)
	for g := range clients {
		wg.Go(func() {
			for i := range rounds {
				if err := invokeEcho(ctx, c, qualifier, want, g, i); err != nil {
					t.Errorf("client %d, invocation %d of %s: %v", g, i, qualifier, err)
				}
				if i == 0 {
					first.Done()
				}
			}
		})
	}
	first.Wait()
	during()
	wg.Wait()
}

// TestRunUnderSDK drives ember serve, in the test's process, with the AWS
// SDK's Lambda client from several goroutines at once: invocations while
// the function's configuration changes, while a version is published and
// an alias made, while reserved concurrency changes and while the function
// is deleted. As root, functions run in sandboxes (ember's default).
func TestRunUnderSDK(t *testing.T) {
	url := start(t, Config{
		Region:         function.DefaultRegion,
		AccountID:      function.DefaultAccountID,
		AllowLocalCode: true,
		Record:         true,
		IdleTimeout:    time.Minute,
	})
	c := sdkClient(url)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	arn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:echo", function.DefaultRegion, function.DefaultAccountID)

	created, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("echo"), Role: aws.String(testRole),
		Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Code:       &types.FunctionCode{ZipFile: zipped(t, "echo")},
		MemorySize: aws.Int32(256), Timeout: aws.Int32(10), Description: aws.String("one"),
	})
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	if aws.ToString(created.FunctionArn) != arn || aws.ToString(created.Version) != "$LATEST" ||
		aws.ToInt32(created.MemorySize) != 256 || aws.ToString(created.Description) != "one" || aws.ToString(created.CodeSha256) == "" {
		t.Errorf("CreateFunction answered ARN %q, version %q, %d MB, description %q, code %q",
			aws.ToString(created.FunctionArn), aws.ToString(created.Version), aws.ToInt32(created.MemorySize),
			aws.ToString(created.Description), aws.ToString(created.CodeSha256))
	}
	got, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("echo")})
	if err != nil {
		t.Fatalf("GetFunction: %v", err)
	}
	if got.Configuration.State != types.StateActive {
		t.Errorf("GetFunction after CreateFunction: state %q; want Active", got.Configuration.State)
	}

	// The first invocation, cold, with its log.
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"first":true}`), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	tail, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if err != nil {
		t.Fatalf("the log tail: %v", err)
	}
	if string(out.Payload) != `{"first":true}` || !strings.Contains(string(tail), "REPORT RequestId: ") || !strings.Contains(string(tail), "Init Duration: ") {
		t.Errorf("the first invocation answered %s, log:\n%s", out.Payload, tail)
	}
	// As root the function runs in a sandbox with its limits; in strict
	// mode it must (a root without usable cgroups runs it without).
	switch limited := !strings.Contains(string(tail), "Limits: not enforced"); {
	case os.Geteuid() != 0 && limited:
		t.Errorf("not root, yet the function ran with limits:\n%s", tail)
	case os.Geteuid() == 0 && !limited && testenv.Strict():
		t.Errorf("as root, the function ran without limits (%s is set):\n%s", testenv.StrictVar, tail)
	}

	// Invocations of $LATEST while its configuration changes.
	hammer(t, c, "", "$LATEST", 20, func() {
		upd, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
			FunctionName: aws.String("echo"), Description: aws.String("two"),
			Environment: &types.Environment{Variables: map[string]string{"PHASE": "two"}},
		})
		if err != nil {
			t.Errorf("UpdateFunctionConfiguration: %v", err)
			return
		}
		if aws.ToString(upd.Description) != "two" || upd.Environment == nil || upd.Environment.Variables["PHASE"] != "two" {
			t.Errorf("UpdateFunctionConfiguration answered description %q, environment %+v", aws.ToString(upd.Description), upd.Environment)
		}
	})
	cfg, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("echo")})
	if err != nil {
		t.Fatalf("GetFunctionConfiguration: %v", err)
	}
	if aws.ToString(cfg.Description) != "two" || cfg.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Errorf("after the update: description %q, last update %q", aws.ToString(cfg.Description), cfg.LastUpdateStatus)
	}

	// A version and an alias, while $LATEST is invoked.
	var alias *lambda.CreateAliasOutput
	hammer(t, c, "", "$LATEST", 10, func() {
		v, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("echo")})
		if err != nil {
			t.Errorf("PublishVersion: %v", err)
			return
		}
		if aws.ToString(v.Version) != "1" || aws.ToString(v.FunctionArn) != arn+":1" || aws.ToString(v.Description) != "two" {
			t.Errorf("PublishVersion answered version %q, ARN %q, description %q", aws.ToString(v.Version), aws.ToString(v.FunctionArn), aws.ToString(v.Description))
		}
		if alias, err = c.CreateAlias(ctx, &lambda.CreateAliasInput{
			FunctionName: aws.String("echo"), Name: aws.String("live"), FunctionVersion: aws.String("1"),
		}); err != nil {
			t.Errorf("CreateAlias: %v", err)
			return
		}
		if aws.ToString(alias.AliasArn) != arn+":live" || aws.ToString(alias.FunctionVersion) != "1" || aws.ToString(alias.Name) != "live" {
			t.Errorf("CreateAlias answered ARN %q, version %q, name %q", aws.ToString(alias.AliasArn), aws.ToString(alias.FunctionVersion), aws.ToString(alias.Name))
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	// Through the alias and by version, while $LATEST changes again.
	hammer(t, c, "live", "1", 10, func() {
		if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
			FunctionName: aws.String("echo"), Description: aws.String("three"),
		}); err != nil {
			t.Errorf("UpdateFunctionConfiguration: %v", err)
		}
	})
	hammer(t, c, "1", "1", 5, func() {})

	// No reserved concurrency: every invocation is throttled.
	pc, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("echo"), ReservedConcurrentExecutions: aws.Int32(0)})
	if err != nil {
		t.Fatalf("PutFunctionConcurrency 0: %v", err)
	}
	if aws.ToInt32(pc.ReservedConcurrentExecutions) != 0 {
		t.Errorf("PutFunctionConcurrency 0 answered %d", aws.ToInt32(pc.ReservedConcurrentExecutions))
	}
	var throttled *types.TooManyRequestsException
	if err := invokeEcho(ctx, c, "live", "1", 0, 0); !errors.As(err, &throttled) || throttled.Reason != types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
		t.Errorf("Invoke with no reserved concurrency: %v; want TooManyRequestsException (%s)", err, types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded)
	}
	// Reserved concurrency raised while the throttled function is
	// invoked; once the change is answered every invocation runs.
	ctxRaise, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for g := range clients {
		wg.Go(func() {
			for i := 0; ctxRaise.Err() == nil; i++ {
				err := invokeEcho(ctxRaise, c, "", "$LATEST", g, i)
				var throttled *types.TooManyRequestsException
				if err != nil && !errors.As(err, &throttled) && ctxRaise.Err() == nil {
					t.Errorf("client %d while reserved concurrency changes: %v", g, err)
				}
			}
		})
	}
	pc, err = c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("echo"), ReservedConcurrentExecutions: aws.Int32(50)})
	stop()
	wg.Wait()
	if err != nil {
		t.Fatalf("PutFunctionConcurrency 50: %v", err)
	}
	if aws.ToInt32(pc.ReservedConcurrentExecutions) != 50 {
		t.Errorf("PutFunctionConcurrency 50 answered %d", aws.ToInt32(pc.ReservedConcurrentExecutions))
	}
	gc, err := c.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("echo")})
	if err != nil || aws.ToInt32(gc.ReservedConcurrentExecutions) != 50 {
		t.Errorf("GetFunctionConcurrency: %v, %+v; want 50", err, gc)
	}
	hammer(t, c, "live", "1", 10, func() {})

	// Deleted while invoked: each invocation either runs or finds no
	// function, and none runs once one has found none.
	deleted := make(chan struct{})
	var started sync.WaitGroup
	started.Add(clients)
	for g := range clients {
		wg.Go(func() {
			gone := false
			for i := 0; ; i++ {
				if i == 3 {
					started.Done()
				}
				err := invokeEcho(ctx, c, "", "$LATEST", g, i)
				var notFound *types.ResourceNotFoundException
				switch {
				case errors.As(err, &notFound):
					gone = true
				case err != nil:
					t.Errorf("client %d, invocation %d while the function is deleted: %v", g, i, err)
				case gone:
					t.Errorf("client %d, invocation %d: the deleted function ran", g, i)
				}
				select {
				case <-deleted:
					if gone {
						return
					}
				default:
				}
				if i > 1000 {
					t.Errorf("client %d: the function still runs after %d invocations", g, i)
					return
				}
			}
		})
	}
	started.Wait()
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("echo")})
	close(deleted)
	wg.Wait()
	if err != nil {
		t.Fatalf("DeleteFunction: %v", err)
	}
	var notFound *types.ResourceNotFoundException
	if _, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("echo")}); !errors.As(err, &notFound) {
		t.Errorf("GetFunction after DeleteFunction: %v; want ResourceNotFoundException", err)
	}
	if err := invokeEcho(ctx, c, "live", "1", 0, 0); !errors.As(err, &notFound) {
		t.Errorf("Invoke of the deleted function's alias: %v; want ResourceNotFoundException", err)
	}
}
