package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/emberfn/ember/internal/codezip"
	"github.com/emberfn/ember/internal/testfunc"
)

// Test access keys; the server reads them from a credentials file.
const (
	testKeyID  = "AKIDEMBERTEST0000001"
	testSecret = "ember/test/secret/key/0000000000000000000"
	testRole   = "arn:aws:iam::123456789012:role/test"
)

type serveProcess struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
	mu     *sync.Mutex
	done   chan struct{}
}

// startServe starts `ember serve` on a free loopback port with its state
// in dataDir and waits until it listens.
func startServe(t *testing.T, dataDir string, args ...string) *serveProcess {
	t.Helper()
	all := append([]string{"serve", "--address", "127.0.0.1:0", "--data-dir", dataDir, "--idle-timeout", "30s"}, args...)
	cmd := exec.Command(emberBinary(t), all...)
	var mu sync.Mutex
	stderrBuf := &bytes.Buffer{}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, stderr: stderrBuf, mu: &mu, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		re := regexp.MustCompile(`ember serve listening" address=(\S+)`)
		for sc.Scan() {
			mu.Lock()
			stderrBuf.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		p.url = "http://" + a
	case <-p.done:
		t.Fatalf("ember serve exited: %s", p.logs())
	case <-time.After(time.Minute):
		t.Fatalf("ember serve did not start listening: %s", p.logs())
	}
	return p
}

func (p *serveProcess) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// stop ends the server with SIGTERM, as a user would, and fails the test
// if the race detector found a race in it.
func (p *serveProcess) stop(t *testing.T) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("ember serve did not stop on SIGTERM")
	}
	checkRaces(t, "ember serve", p.logs())
}

// kill ends the server with SIGKILL: nothing is flushed or cleaned up.
func (p *serveProcess) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

func sdkClient(url, secret string) *lambda.Client {
	return lambda.New(lambda.Options{
		BaseEndpoint: aws.String(url),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(testKeyID, secret, ""),
		Retryer:      aws.NopRetryer{},
	})
}

// zipFunction zips a test function's directory.
func zipFunction(t *testing.T, name string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := codezip.Create(testfunc.Build(t, name), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func createFunction(t *testing.T, c *lambda.Client, name string, zip []byte) *lambda.CreateFunctionOutput {
	t.Helper()
	out, err := c.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Role:         aws.String(testRole),
		Runtime:      types.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Code:         &types.FunctionCode{ZipFile: zip},
	})
	if err != nil {
		t.Fatalf("CreateFunction %s: %v", name, err)
	}
	return out
}

// apiErrorCode returns the AWS error code of err, or "" if it has none.
func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestServeSDKFunctionLifecycle(t *testing.T) {
	p := startServe(t, t.TempDir())
	c := sdkClient(p.url, testSecret)
	ctx := context.Background()
	echo := zipFunction(t, "echo")

	created := createFunction(t, c, "echo", echo)
	if created.State != types.StatePending || *created.FunctionArn != "arn:aws:lambda:us-east-1:123456789012:function:echo" ||
		*created.MemorySize != 128 || *created.Timeout != 3 || created.PackageType != types.PackageTypeZip || created.CodeSize != int64(len(echo)) {
		t.Errorf("CreateFunction answered %+v", created)
	}
	got, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("echo")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Configuration.State != types.StateActive || got.Configuration.LastUpdateStatus != types.LastUpdateStatusSuccessful ||
		*got.Configuration.CodeSha256 != *created.CodeSha256 || *got.Code.RepositoryType != "S3" {
		t.Errorf("GetFunction answered %+v", got.Configuration)
	}
	// The code's Location gives back the zip that was uploaded.
	resp, err := http.Get(*got.Code.Location)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(body, echo) {
		t.Errorf("code location gave %d bytes, %v; want the %d uploaded", len(body), err, len(echo))
	}

	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("echo"), Role: aws.String(testRole), Runtime: types.RuntimeProvidedal2023,
		Code: &types.FunctionCode{ZipFile: echo},
	})
	if code := apiErrorCode(err); code != "ResourceConflictException" {
		t.Errorf("second CreateFunction: %v; want ResourceConflictException", err)
	}

	inv, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"hello":"world"}`), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatal(err)
	}
	if inv.StatusCode != 200 || !json.Valid(inv.Payload) || !strings.Contains(string(inv.Payload), `"hello":"world"`) ||
		*inv.ExecutedVersion != "$LATEST" || inv.FunctionError != nil {
		t.Errorf("Invoke answered %d %s, version %v, error %v", inv.StatusCode, inv.Payload, aws.ToString(inv.ExecutedVersion), inv.FunctionError)
	}
	if tail := decodeLog(t, aws.ToString(inv.LogResult)); !strings.Contains(tail, "REPORT RequestId:") {
		t.Errorf("LogResult %q has no REPORT line", tail)
	}

	memory, timeout := int32(256), int32(5)
	upd, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("echo"), MemorySize: &memory, Timeout: &timeout,
		Environment: &types.Environment{Variables: map[string]string{"GREETING": "hi"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if *upd.MemorySize != 256 || *upd.Timeout != 5 || upd.Environment.Variables["GREETING"] != "hi" || *upd.RevisionId == *created.RevisionId {
		t.Errorf("UpdateFunctionConfiguration answered %+v", upd)
	}
	// The new configuration is what the next invocation runs with.
	envdump := zipFunction(t, "envdump")
	if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("echo"), ZipFile: envdump}); err != nil {
		t.Fatal(err)
	}
	inv, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(inv.Payload), `"GREETING":"hi"`) || !strings.Contains(string(inv.Payload), `"AWS_LAMBDA_FUNCTION_MEMORY_SIZE":"256"`) {
		t.Errorf("after the updates the function saw %s", inv.Payload)
	}

	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("echo")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("echo")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || !strings.Contains(aws.ToString(nf.Message), "function:echo") {
		t.Errorf("GetFunction after delete: %v; want ResourceNotFoundException naming the function", err)
	}
}

func decodeLog(t *testing.T, b64 string) string {
	t.Helper()
	out, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("LogResult %q: %v", b64, err)
	}
	return string(out)
}

func TestServeSDKVersionsAliasesConcurrency(t *testing.T) {
	p := startServe(t, t.TempDir())
	c := sdkClient(p.url, testSecret)
	ctx := context.Background()
	createFunction(t, c, "fn", zipFunction(t, "envdump"))

	v1, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("fn"), Description: aws.String("first")})
	if err != nil {
		t.Fatal(err)
	}
	if *v1.Version != "1" || *v1.FunctionArn != "arn:aws:lambda:us-east-1:123456789012:function:fn:1" || *v1.Description != "first" {
		t.Errorf("PublishVersion answered %+v", v1)
	}
	// Nothing changed: Lambda gives the same version back.
	again, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("fn")})
	if err != nil || *again.Version != "1" {
		t.Errorf("PublishVersion of an unchanged $LATEST: %v, %v; want version 1", again, err)
	}
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("fn"), Environment: &types.Environment{Variables: map[string]string{"V": "two"}},
	}); err != nil {
		t.Fatal(err)
	}
	v2, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("fn")})
	if err != nil || *v2.Version != "2" {
		t.Fatalf("second PublishVersion: %v, %v", v2, err)
	}
	versions, err := c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("fn")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range versions.Versions {
		names = append(names, *v.Version)
	}
	if strings.Join(names, ",") != "$LATEST,1,2" {
		t.Errorf("versions %v; want $LATEST,1,2", names)
	}

	// Each version runs its own configuration.
	inv, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("fn"), Qualifier: aws.String("1")})
	if err != nil || strings.Contains(string(inv.Payload), `"V":"two"`) || *inv.ExecutedVersion != "1" {
		t.Errorf("version 1 answered %s (version %v), %v", inv.Payload, aws.ToString(inv.ExecutedVersion), err)
	}

	alias, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{
		FunctionName: aws.String("fn"), Name: aws.String("live"), FunctionVersion: aws.String("1"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.5}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if *alias.AliasArn != "arn:aws:lambda:us-east-1:123456789012:function:fn:live" || alias.RoutingConfig.AdditionalVersionWeights["2"] != 0.5 {
		t.Errorf("CreateAlias answered %+v", alias)
	}
	seen := map[string]int{}
	for range 40 {
		inv, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("fn:live")})
		if err != nil {
			t.Fatal(err)
		}
		seen[*inv.ExecutedVersion]++
	}
	if seen["1"] == 0 || seen["2"] == 0 || seen["1"]+seen["2"] != 40 {
		t.Errorf("a 50%% weighted alias ran versions %v", seen)
	}
	one := "1"
	if _, err := c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("fn"), Name: aws.String("live"),
		FunctionVersion: aws.String("2"), RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("fn"), Name: aws.String("live")})
	if err != nil || *got.FunctionVersion != "2" {
		t.Errorf("GetAlias after update: %+v, %v", got, err)
	}
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("fn"), Qualifier: aws.String("2")})
	if code := apiErrorCode(err); code != "ResourceConflictException" {
		t.Errorf("deleting a version an alias uses: %v; want ResourceConflictException", err)
	}
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("fn"), Qualifier: &one}); err != nil {
		t.Errorf("deleting version 1: %v", err)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("fn"), Qualifier: &one})
	if code := apiErrorCode(err); code != "ResourceNotFoundException" {
		t.Errorf("invoking a deleted version: %v; want ResourceNotFoundException", err)
	}
	aliases, err := c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("fn")})
	if err != nil || len(aliases.Aliases) != 1 {
		t.Errorf("ListAliases: %+v, %v", aliases, err)
	}
	if _, err := c.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("fn"), Name: aws.String("live")}); err != nil {
		t.Error(err)
	}

	// Reserved concurrency 0 throttles every invocation, with Lambda's reason.
	zero := int32(0)
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("fn"), ReservedConcurrentExecutions: &zero}); err != nil {
		t.Fatal(err)
	}
	conc, err := c.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("fn")})
	if err != nil || conc.ReservedConcurrentExecutions == nil || *conc.ReservedConcurrentExecutions != 0 {
		t.Errorf("GetFunctionConcurrency: %+v, %v", conc, err)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("fn")})
	var tm *types.TooManyRequestsException
	if !errors.As(err, &tm) || tm.Reason != types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
		t.Errorf("invoke at reserved concurrency 0: %v; want TooManyRequestsException with the reserved reason", err)
	}
	settings, err := c.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil || settings.AccountLimit.ConcurrentExecutions != 1000 || *settings.AccountLimit.UnreservedConcurrentExecutions != 1000 ||
		settings.AccountUsage.FunctionCount != 1 || settings.AccountUsage.TotalCodeSize == 0 {
		t.Errorf("GetAccountSettings: %+v, %v", settings, err)
	}
	if _, err := c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("fn")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("fn")}); err != nil {
		t.Errorf("invoke after DeleteFunctionConcurrency: %v", err)
	}
}

func TestServeSDKErrorsAndPagination(t *testing.T) {
	p := startServe(t, t.TempDir())
	c := sdkClient(p.url, testSecret)
	ctx := context.Background()
	echo := zipFunction(t, "echo")
	for i := range 7 {
		createFunction(t, c, fmt.Sprintf("f%02d", i), echo)
	}
	pager := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{MaxItems: aws.Int32(3)})
	var names []string
	pages := 0
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, f := range page.Functions {
			names = append(names, *f.FunctionName)
		}
	}
	if pages != 3 || strings.Join(names, ",") != "f00,f01,f02,f03,f04,f05,f06" {
		t.Errorf("%d pages listed %v", pages, names)
	}

	_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("nope")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || aws.ToString(nf.Message) != "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope" {
		t.Errorf("invoke of an unknown function: %v", err)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f00"), Payload: []byte(`{"broken"`)})
	if code := apiErrorCode(err); code != "InvalidRequestContentException" {
		t.Errorf("invoke with malformed JSON: %v; want InvalidRequestContentException", err)
	}
	mem := int32(64)
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("f00"), MemorySize: &mem})
	if code := apiErrorCode(err); code != "InvalidParameterValueException" && code != "ValidationException" {
		t.Errorf("memory 64: %v; want a validation error", err)
	}
	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("bad"), Role: aws.String(testRole),
		Runtime: types.RuntimeProvidedal2023, Code: &types.FunctionCode{ZipFile: []byte("not a zip")}})
	if code := apiErrorCode(err); code != "InvalidParameterValueException" {
		t.Errorf("a zip that is not one: %v; want InvalidParameterValueException", err)
	}
	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("bad name!"), Role: aws.String(testRole),
		Runtime: types.RuntimeProvidedal2023, Code: &types.FunctionCode{ZipFile: echo}})
	if code := apiErrorCode(err); code != "ValidationException" {
		t.Errorf("a bad function name: %v; want ValidationException", err)
	}
	big := bytes.Repeat([]byte(" "), 6*1024*1024+1)
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f00"), Payload: big})
	if code := apiErrorCode(err); code != "RequestEntityTooLargeException" {
		t.Errorf("a payload over 6 MB: %v; want RequestEntityTooLargeException", err)
	}
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f00"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || out.StatusCode != 204 {
		t.Errorf("DryRun: %v, %v; want 204", out, err)
	}

	// Raw requests that no SDK would send get AWS's errors too.
	for _, tc := range []struct {
		method, path, body, code string
		status                   int
	}{
		{"POST", "/2015-03-31/functions", `{"FunctionName":`, "InvalidRequestContentException", 400},
		{"POST", "/2015-03-31/functions", `{"FunctionName":42}`, "InvalidRequestContentException", 400},
		{"GET", "/2015-03-31/functions/nope/configuration", "", "ResourceNotFoundException", 404},
		{"GET", "/2099-01-01/nothing", "", "UnknownOperationException", 404},
	} {
		req, _ := http.NewRequest(tc.method, p.url+tc.path, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("X-Amzn-ErrorType"), tc.code) || resp.Header.Get("X-Amzn-RequestId") == "" || !json.Valid(b) {
			t.Errorf("%s %s: %d %s %s; want %d %s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), b, tc.status, tc.code)
		}
	}
	// And ember keeps serving.
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f00")}); err != nil {
		t.Errorf("invoke after the bad requests: %v", err)
	}
}

func TestServeSignatures(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = "+testKeyID+"\naws_secret_access_key = "+testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, t.TempDir(), "--auth", "--credentials", creds)
	ctx := context.Background()
	if _, err := sdkClient(p.url, testSecret).ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("signed with the right key: %v", err)
	}
	_, err := sdkClient(p.url, "wrong-secret").ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if code := apiErrorCode(err); code != "InvalidSignatureException" {
		t.Errorf("signed with a wrong secret: %v; want InvalidSignatureException", err)
	}
	resp, err := http.Get(p.url + "/2015-03-31/functions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("unsigned request: %d; want 403", resp.StatusCode)
	}
}

func TestServeRestartAfterKill(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, dir)
	c := sdkClient(p.url, testSecret)
	ctx := context.Background()
	createFunction(t, c, "keep", zipFunction(t, "echo"))
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("keep")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("keep"), Name: aws.String("prod"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	p.kill()

	p = startServe(t, dir)
	c = sdkClient(p.url, testSecret)
	inv, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("keep:prod"), Payload: []byte(`{"after":"restart"}`)})
	if err != nil || !strings.Contains(string(inv.Payload), "restart") || *inv.ExecutedVersion != "1" {
		t.Fatalf("after kill -9 and restart the alias answered %s, %v", inv.Payload, err)
	}
}

func TestServeManyFunctions(t *testing.T) {
	p := startServe(t, t.TempDir())
	c := sdkClient(p.url, testSecret)
	ctx := context.Background()
	echo := zipFunction(t, "echo")
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			_, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
				FunctionName: aws.String(fmt.Sprintf("many-%03d", i)), Role: aws.String(testRole),
				Runtime: types.RuntimeProvidedal2023, Code: &types.FunctionCode{ZipFile: echo},
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	count := 0
	pager := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		count += len(page.Functions)
	}
	if count != n {
		t.Errorf("listed %d functions; want %d", count, n)
	}
	// 20 different functions invoked at once, each answering its own call.
	results := make(chan error, 20)
	for i := range 20 {
		go func() {
			name := fmt.Sprintf("many-%03d", i*10)
			out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(fmt.Sprintf(`{"i":%d}`, i))})
			if err == nil && !strings.Contains(string(out.Payload), fmt.Sprintf(`"i":%d`, i)) {
				err = fmt.Errorf("%s answered %s", name, out.Payload)
			}
			results <- err
		}()
	}
	for range 20 {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
}

func TestServeCodeLimitsAndLocalPath(t *testing.T) {
	p := startServe(t, t.TempDir())
	c := sdkClient(p.url, testSecret)
	ctx := context.Background()
	create := func(name string, code *types.FunctionCode) error {
		_, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Role: aws.String(testRole),
			Runtime: types.RuntimeProvidedal2023, Code: code})
		return err
	}

	// A zip that declares more than 250 MB unzipped.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	if _, err := zw.CreateRaw(&zip.FileHeader{Name: "huge", Method: zip.Store, UncompressedSize64: 262144001}); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	err := create("huge", &types.FunctionCode{ZipFile: buf.Bytes()})
	if code := apiErrorCode(err); code != "InvalidParameterValueException" || !strings.Contains(err.Error(), "Unzipped size must be smaller than 262144000 bytes") {
		t.Errorf("a zip of more than 250 MB unzipped: %v", err)
	}
	// A zip of more than 50 MB.
	big := make([]byte, 50*1024*1024+1)
	err = create("big", &types.FunctionCode{ZipFile: big})
	if code := apiErrorCode(err); code != "RequestEntityTooLargeException" {
		t.Errorf("a zip of more than 50 MB: %v; want RequestEntityTooLargeException", err)
	}
	// A zip that escapes its directory.
	buf.Reset()
	zw = zip.NewWriter(&buf)
	w, err := zw.Create("../escape")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	zw.Close()
	if err := create("escape", &types.FunctionCode{ZipFile: buf.Bytes()}); apiErrorCode(err) != "InvalidParameterValueException" {
		t.Errorf("a zip with ../escape: %v; want InvalidParameterValueException", err)
	}

	// ember's extension: code from a local directory, as S3Bucket "ember-local".
	dir := testfunc.Build(t, "echo")
	if err := create("local", &types.FunctionCode{S3Bucket: aws.String("ember-local"), S3Key: aws.String(dir)}); err != nil {
		t.Fatal(err)
	}
	inv, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("local"), Payload: []byte(`{"local":1}`)})
	if err != nil || string(inv.Payload) != `{"local":1}` {
		t.Errorf("the function from a local path answered %s, %v", inv.Payload, err)
	}
	if err := create("relative", &types.FunctionCode{S3Bucket: aws.String("ember-local"), S3Key: aws.String("some/dir")}); apiErrorCode(err) != "InvalidParameterValueException" {
		t.Errorf("a relative local path: %v; want InvalidParameterValueException", err)
	}
	if err := create("s3", &types.FunctionCode{S3Bucket: aws.String("bucket"), S3Key: aws.String("key.zip")}); apiErrorCode(err) != "InvalidParameterValueException" {
		t.Errorf("code from S3: %v; want InvalidParameterValueException", err)
	}
}

func TestServeBeyondLoopbackNeedsKeys(t *testing.T) {
	stdout, stderr, code := emberRun(t, "", "serve", "--address", "0.0.0.0:0", "--data-dir", t.TempDir())
	if code != 2 || !strings.Contains(stderr, "--credentials") {
		t.Errorf("serve beyond loopback without keys: exit %d, %q %q; want a usage error naming --credentials", code, stdout, stderr)
	}
	for addr, want := range map[string]bool{"127.0.0.1:3001": true, "localhost:1": true, "[::1]:1": true, ":3001": false, "10.0.0.1:1": false} {
		if got, err := isLoopbackAddr(addr); err != nil || got != want {
			t.Errorf("isLoopbackAddr(%q) = %v, %v; want %v", addr, got, err, want)
		}
	}
}
