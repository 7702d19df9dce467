package sigv4

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/emberfn/ember/internal/testenv"
)

// Requests signed by the AWS clients themselves (aws-sdk-go-v2's signer
// and Lambda client, the AWS CLI, boto3) go through a real HTTP server that
// verifies each with Verify.

const (
	fnARN      = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
	arnEscaped = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn" // as the AWS SDKs put it in a path
)

// verifyingServer answers Lambda API requests after verifying their
// signature, and records each request line with its verdict.
type verifyingServer struct {
	*httptest.Server
	keys Keys

	mu   sync.Mutex
	seen []string // "METHOD REQUEST-URI: verdict"
}

func newVerifyingServer(t *testing.T, keys Keys) *verifyingServer {
	s := &verifyingServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *verifyingServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_, verr := Verify(r, body, s.keys, "lambda", time.Now())
	verdict := "ok"
	if verr != nil {
		verdict = verr.Error()
	}
	s.mu.Lock()
	s.seen = append(s.seen, r.Method+" "+r.RequestURI+": "+verdict)
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", "11111111-2222-3333-4444-555555555555")
	var e *Error
	if errors.As(verr, &e) {
		w.Header().Set("X-Amzn-ErrorType", e.Code)
		w.WriteHeader(e.Status)
		json.NewEncoder(w).Encode(map[string]string{"message": e.Message})
		return
	}
	switch {
	case r.Method == "GET" && r.URL.Path == "/2015-03-31/functions":
		page := map[string]any{"Functions": []map[string]any{{"FunctionName": "my-fn"}}}
		if r.URL.Query().Get("Marker") == "" {
			page["NextMarker"] = "page 2/of+2=ok"
		}
		json.NewEncoder(w).Encode(page)
	case strings.HasSuffix(r.URL.Path, "/invocations"):
		w.Header().Set("X-Amz-Executed-Version", "1")
		w.Write([]byte(`{"ok":true}`))
	default:
		json.NewEncoder(w).Encode(map[string]any{"FunctionName": "my-fn", "FunctionArn": fnARN})
	}
}

// check fails the test unless every request verified and the requests
// include each of want (substrings of "METHOD REQUEST-URI").
func (s *verifyingServer) check(t *testing.T, want ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, line := range s.seen {
		if !strings.HasSuffix(line, ": ok") {
			t.Errorf("refused: %s", line)
		}
	}
next:
	for _, w := range want {
		for _, line := range s.seen {
			if strings.Contains(line, w) {
				continue next
			}
		}
		t.Errorf("no request %q among %q", w, s.seen)
	}
}

var (
	sdkCreds      = Credentials{AccessKeyID: "AKIAEMBERTEST", SecretAccessKey: "Zm9v/YmFy+c2VjcmV0"}
	sdkTokenCreds = Credentials{AccessKeyID: "ASIAEMBERTEST", SecretAccessKey: "dGVtcA==", SessionToken: "IQoJb3JpZ2luX2VjE/token+=="}
	sdkKeys       = KeyMap{sdkCreds.AccessKeyID: sdkCreds, sdkTokenCreds.AccessKeyID: sdkTokenCreds}
)

// aws-sdk-go-v2's signer, on requests shaped like the Lambda API's.
func TestVerifyGoSDKSigner(t *testing.T) {
	srv := newVerifyingServer(t, sdkKeys)
	signer := v4.NewSigner()
	for _, c := range []struct {
		method, path, body string
		header             map[string]string
		creds              Credentials
	}{
		{"POST", "/2015-03-31/functions/" + arnEscaped + "/invocations?Qualifier=1", `{"k":"v"}`,
			map[string]string{"X-Amz-Invocation-Type": "RequestResponse", "X-Amz-Log-Type": "Tail"}, sdkCreds},
		{"POST", "/2015-03-31/functions/" + url.PathEscape(fnARN+":prod") + "/invocations", ``, nil, sdkTokenCreds},
		{"GET", "/2015-03-31/functions?MaxItems=10&Marker=abc%2Fdef%3D%3D", ``, nil, sdkCreds},
		{"GET", "/2015-03-31/functions/my-fn/configuration?Qualifier=%24LATEST", ``, nil, sdkCreds},
		{"PUT", "/2015-03-31/functions/my-fn/code", `{"ZipFile":"UEsDBA=="}`, map[string]string{"Content-Type": "application/json"}, sdkTokenCreds},
		{"DELETE", "/2015-03-31/functions/my-fn?Qualifier=3", ``, nil, sdkCreds},
	} {
		req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		ac := aws.Credentials{AccessKeyID: c.creds.AccessKeyID, SecretAccessKey: c.creds.SecretAccessKey, SessionToken: c.creds.SessionToken}
		if err := signer.SignHTTP(context.Background(), ac, req, hashHex([]byte(c.body)), "lambda", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s %s: status %d", c.method, c.path, resp.StatusCode)
		}
	}
	srv.check(t, "functions/"+arnEscaped+"/invocations?Qualifier=1",
		"functions/"+fnARN+":prod/invocations",
		"Marker=abc%2Fdef%3D%3D")
}

// aws-sdk-go-v2's presigner: a presigned request is good within its
// X-Amz-Expires and refused after it.
func TestVerifyGoSDKPresigned(t *testing.T) {
	signer := v4.NewSigner()
	at := time.Now().UTC().Truncate(time.Second)
	req, err := http.NewRequest("GET", "http://127.0.0.1:3001/2015-03-31/functions/"+arnEscaped+"/configuration?Qualifier=1&X-Amz-Expires=900", nil)
	if err != nil {
		t.Fatal(err)
	}
	ac := aws.Credentials{AccessKeyID: sdkTokenCreds.AccessKeyID, SecretAccessKey: sdkTokenCreds.SecretAccessKey, SessionToken: sdkTokenCreds.SessionToken}
	signedURL, hdr, err := signer.PresignHTTP(context.Background(), ac, req, hashHex(nil), "lambda", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(signedURL)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Query().Has("X-Amz-Signature") {
		t.Fatalf("not presigned: %s", signedURL)
	}
	server := func() *http.Request {
		r := httptest.NewRequest("GET", u.RequestURI(), nil)
		r.Host = u.Host
		for k, v := range hdr {
			r.Header[k] = v
		}
		return r
	}
	for _, now := range []time.Time{at, at.Add(899 * time.Second), at.Add(-MaxSkew)} {
		if _, err := Verify(server(), nil, sdkKeys, "lambda", now); err != nil {
			t.Errorf("at %v: %v", now.Sub(at), err)
		}
	}
	_, err = Verify(server(), nil, sdkKeys, "lambda", at.Add(901*time.Second))
	wantError(t, err, CodeInvalidSignature, 403, "Signature expired: "+at.Format(timeFormat)+" is now earlier than "+
		at.Add(time.Second).Format(timeFormat)+" ("+at.Add(901*time.Second).Format(timeFormat)+" - 15 min.)")
	_, err = Verify(server(), nil, sdkKeys, "lambda", at.Add(-MaxSkew-time.Second))
	wantError(t, err, CodeInvalidSignature, 403, "")

	r := server()
	r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "Qualifier=1", "Qualifier=2", 1)
	_, err = Verify(r, nil, sdkKeys, "lambda", at)
	wantError(t, err, CodeInvalidSignature, 403, "")
}

// The Lambda client of aws-sdk-go-v2, end to end.
func TestVerifyGoSDKLambdaClient(t *testing.T) {
	srv := newVerifyingServer(t, sdkKeys)
	for _, creds := range []Credentials{sdkCreds, sdkTokenCreds} {
		client := lambda.New(lambda.Options{
			Region:           "us-east-1",
			BaseEndpoint:     aws.String(srv.URL),
			Credentials:      credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken),
			RetryMaxAttempts: 1,
		})
		ctx := context.Background()
		out, err := client.Invoke(ctx, &lambda.InvokeInput{
			FunctionName: aws.String(fnARN),
			Qualifier:    aws.String("1"),
			Payload:      []byte(`{"hello":"world"}`),
			LogType:      "Tail",
		})
		if err != nil {
			t.Fatal(err)
		}
		if string(out.Payload) != `{"ok":true}` {
			t.Errorf("payload %s", out.Payload)
		}
		if _, err := client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("my-fn:prod")}); err != nil {
			t.Fatal(err)
		}
		pages := lambda.NewListFunctionsPaginator(client, &lambda.ListFunctionsInput{MaxItems: aws.Int32(10)})
		n := 0
		for pages.HasMorePages() {
			if _, err := pages.NextPage(ctx); err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 2 {
			t.Errorf("%d pages, want 2", n)
		}
	}
	srv.check(t,
		"POST /2015-03-31/functions/"+arnEscaped+"/invocations?Qualifier=1",
		"GET /2015-03-31/functions/my-fn%3Aprod/configuration",
		"GET /2015-03-31/functions?MaxItems=10",
		"Marker=page%202%2Fof%2B2%3Dok")

	// The client sees a refusal in AWS's terms.
	client := lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(sdkCreds.AccessKeyID, "wrong", ""),
		RetryMaxAttempts: 1,
	})
	_, err := client.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("my-fn")})
	if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Errorf("wrong secret: %v", err)
	}
}

// The AWS CLI (botocore's signer), when installed.
func TestVerifyAWSCLI(t *testing.T) {
	aws := testenv.Command(t, "aws")
	version, err := exec.Command(aws, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("aws --version: %v\n%s", err, version)
	}
	invoke := []string{"lambda", "invoke", "--function-name", fnARN, "--qualifier", "1", "--payload", `{"a":1}`, "--log-type", "Tail"}
	if strings.HasPrefix(string(version), "aws-cli/2") {
		invoke = append(invoke, "--cli-binary-format", "raw-in-base64-out")
	}
	srv := newVerifyingServer(t, sdkKeys)
	dir := t.TempDir()
	for _, creds := range []Credentials{sdkCreds, sdkTokenCreds} {
		for _, args := range [][]string{
			append(invoke, filepath.Join(dir, "out.json")),
			{"lambda", "list-functions", "--page-size", "10"},
			{"lambda", "get-function-configuration", "--function-name", "my-fn", "--qualifier", "$LATEST"},
		} {
			cmd := exec.Command(aws, append(args, "--endpoint-url", srv.URL, "--region", "us-east-1")...)
			cmd.Env = append(withoutAWSEnv(),
				"AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
				"AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"),
				"AWS_MAX_ATTEMPTS=1", "AWS_PAGER=")
			if creds.SessionToken != "" {
				cmd.Env = append(cmd.Env, "AWS_SESSION_TOKEN="+creds.SessionToken)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("aws %s: %v\n%s", strings.Join(args[:2], " "), err, out)
			}
		}
	}
	srv.check(t,
		"POST /2015-03-31/functions/"+arnEscaped+"/invocations?Qualifier=1",
		"GET /2015-03-31/functions?MaxItems=10",
		"Marker=page%202%2Fof%2B2%3Dok",
		"Qualifier=%24LATEST")
}

// withoutAWSEnv is the environment without the AWS_ variables that would
// pick other credentials or settings for a client.
func withoutAWSEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

// boto3 (botocore's signer as a Python program uses it), when installed.
func TestVerifyBoto3(t *testing.T) {
	python := testenv.Command(t, "python3")
	testenv.PythonModule(t, python, "boto3")
	srv := newVerifyingServer(t, sdkKeys)
	const program = `
import sys, boto3
from botocore.config import Config
endpoint, key, secret, token = sys.argv[1:5]
c = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1",
    aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token or None,
    config=Config(retries={"max_attempts": 1}))
arn = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
r = c.invoke(FunctionName=arn + ":prod", Payload=b'{"x":[1,2]}', ClientContext="eyJhIjoxfQ==")
assert r["Payload"].read() == b'{"ok":true}'
c.list_functions(MaxItems=10, Marker="m/1 2")
c.get_function_configuration(FunctionName=arn, Qualifier="7")
`
	for _, creds := range []Credentials{sdkCreds, sdkTokenCreds} {
		cmd := exec.Command(python, "-c", program, srv.URL, creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
		cmd.Env = append(withoutAWSEnv(), "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("boto3: %v\n%s", err, out)
		}
	}
	srv.check(t,
		"POST /2015-03-31/functions/"+arnEscaped+"%3Aprod/invocations",
		"Marker=m%2F1%202",
		"configuration?Qualifier=7")
}

// Sign's requests verify by the same rules the AWS clients follow, on the
// server side of a real connection.
func TestSignThroughServer(t *testing.T) {
	srv := newVerifyingServer(t, sdkKeys)
	body := []byte(`{"x":1}`)
	req, err := http.NewRequest("POST", srv.URL+"/2015-03-31/functions/"+arnEscaped+"/invocations?Qualifier=1", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := Sign(req, body, sdkTokenCreds, "us-east-1", "lambda", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv.check(t, "functions/"+arnEscaped+"/invocations?Qualifier=1")
}
