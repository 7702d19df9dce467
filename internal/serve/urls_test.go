package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/sigv4"
)

// urlEvent is the part of a payload format 2.0 event the tests read.
type urlEvent struct {
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters"`
	Body                  string            `json:"body"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
	RequestContext        struct {
		APIID      string `json:"apiId"`
		AccountID  string `json:"accountId"`
		Authorizer *struct {
			IAM struct {
				AccessKey string `json:"accessKey"`
			} `json:"iam"`
		} `json:"authorizer"`
		HTTP struct {
			Method string `json:"method"`
			Path   string `json:"path"`
		} `json:"http"`
	} `json:"requestContext"`
}

// urlClient calls function URLs on the server at base: by Host, as a
// client that resolves <id>.lambda-url.<region>.localhost would, or by the
// path fallback.
type urlClient struct {
	t    *testing.T
	base string
}

// request builds a request to the function URL at address (a FunctionUrl),
// path and query included, sent to the server's own address.
func (c urlClient) request(method, address, pathQuery string, body []byte, byPath bool) *http.Request {
	c.t.Helper()
	u, err := url.Parse(address)
	if err != nil {
		c.t.Fatal(err)
	}
	id, _, _ := strings.Cut(u.Host, ".")
	target := c.base + pathQuery
	if byPath {
		target = c.base + "/lambda-url/" + id + pathQuery
	}
	r, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if !byPath {
		r.Host = u.Host
	}
	return r
}

func (c urlClient) do(r *http.Request) (*http.Response, []byte) {
	c.t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		c.t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, b
}

func (c urlClient) event(r *http.Request) urlEvent {
	c.t.Helper()
	resp, b := c.do(r)
	var e urlEvent
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		c.t.Fatalf("%s %s: %d (%s) %s", r.Method, r.URL, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		c.t.Fatalf("the event %s: %v", b, err)
	}
	return e
}

// TestFunctionURLs configures function URLs through the AWS SDK and calls
// them over HTTP: events of the echo function for cookies, repeated query
// keys, binary bodies and both ways of addressing a URL; CORS preflights
// and headers; responses of urlresponder mapped to HTTP, a malformed one
// and a failure; AWS_IAM with and without a signature; and the URLs'
// removal with their function.
func TestFunctionURLs(t *testing.T) {
	creds := sigv4.Credentials{AccessKeyID: "AKIDEMBERTEST", SecretAccessKey: "secret"}
	base := start(t, Config{
		Region:         function.DefaultRegion,
		AccountID:      function.DefaultAccountID,
		AllowLocalCode: true,
		IdleTimeout:    time.Minute,
		Keys:           sigv4.KeyMap{creds.AccessKeyID: creds},
	})
	c := sdkClient(base)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Zipping is slow under the race detector: echo's zip serves twice.
	zips := map[string][]byte{"echo": zipped(t, "echo"), "urlresponder": zipped(t, "urlresponder"), "urlstream": zipped(t, "urlstream")}
	for _, name := range []string{"echo", "urlresponder", "urlstream"} {
		if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String(name), Role: aws.String(testRole),
			Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
			Code: &types.FunctionCode{ZipFile: zips[name]}, Timeout: aws.Int32(10),
		}); err != nil {
			t.Fatalf("CreateFunction %s: %v", name, err)
		}
	}

	// Configuration through the SDK.
	echoURL, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{
		FunctionName: aws.String("echo"), AuthType: types.FunctionUrlAuthTypeNone,
		Cors: &types.Cors{AllowOrigins: []string{"https://site.test"}, AllowMethods: []string{"GET", "POST"},
			AllowHeaders: []string{"x-custom"}, ExposeHeaders: []string{"x-out"}, MaxAge: aws.Int32(300)},
	})
	if err != nil {
		t.Fatalf("CreateFunctionUrlConfig: %v", err)
	}
	fnARN := "arn:aws:lambda:" + function.DefaultRegion + ":" + function.DefaultAccountID + ":function:echo"
	if !strings.HasPrefix(aws.ToString(echoURL.FunctionUrl), "http://") || !strings.Contains(aws.ToString(echoURL.FunctionUrl), ".lambda-url."+function.DefaultRegion+".localhost:") ||
		aws.ToString(echoURL.FunctionArn) != fnARN || echoURL.InvokeMode != types.InvokeModeBuffered || aws.ToString(echoURL.CreationTime) == "" {
		t.Errorf("CreateFunctionUrlConfig answered %+v", echoURL)
	}
	var conflict *types.ResourceConflictException
	if _, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("echo"), AuthType: types.FunctionUrlAuthTypeNone}); !errors.As(err, &conflict) {
		t.Errorf("a second CreateFunctionUrlConfig: %v; want ResourceConflictException", err)
	}
	var notFound *types.ResourceNotFoundException
	if _, err := c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("urlresponder")}); !errors.As(err, &notFound) {
		t.Errorf("GetFunctionUrlConfig without a URL: %v; want ResourceNotFoundException", err)
	}
	respURL, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("urlresponder"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatalf("CreateFunctionUrlConfig urlresponder: %v", err)
	}
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("echo")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("echo"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	liveURL, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("echo"), Qualifier: aws.String("live"), AuthType: types.FunctionUrlAuthTypeAwsIam})
	if err != nil {
		t.Fatalf("CreateFunctionUrlConfig echo:live: %v", err)
	}
	if aws.ToString(liveURL.FunctionArn) != fnARN+":live" || aws.ToString(liveURL.FunctionUrl) == aws.ToString(echoURL.FunctionUrl) {
		t.Errorf("the alias's URL: %+v", liveURL)
	}
	var invalid *types.InvalidParameterValueException
	_, err = c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("echo"), Qualifier: aws.String("1"), AuthType: types.FunctionUrlAuthTypeNone})
	if err == nil || errors.As(err, &invalid) {
		t.Errorf("a URL of version 1: %v; want a validation error", err)
	}
	upd, err := c.UpdateFunctionUrlConfig(ctx, &lambda.UpdateFunctionUrlConfigInput{FunctionName: aws.String("echo"),
		Cors: &types.Cors{AllowOrigins: []string{"https://site.test"}, AllowMethods: []string{"GET", "POST"},
			AllowHeaders: []string{"x-custom"}, ExposeHeaders: []string{"x-out"}, MaxAge: aws.Int32(600)}})
	if err != nil || upd.Cors == nil || aws.ToInt32(upd.Cors.MaxAge) != 600 || upd.AuthType != types.FunctionUrlAuthTypeNone || aws.ToString(upd.LastModifiedTime) == "" {
		t.Errorf("UpdateFunctionUrlConfig: %+v, %v", upd, err)
	}
	got, err := c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("echo"), Qualifier: aws.String("live")})
	if err != nil || got.AuthType != types.FunctionUrlAuthTypeAwsIam || aws.ToString(got.FunctionUrl) != aws.ToString(liveURL.FunctionUrl) {
		t.Errorf("GetFunctionUrlConfig echo:live: %+v, %v", got, err)
	}
	list, err := c.ListFunctionUrlConfigs(ctx, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("echo")})
	if err != nil || len(list.FunctionUrlConfigs) != 2 {
		t.Fatalf("ListFunctionUrlConfigs: %+v, %v", list, err)
	}

	h := urlClient{t: t, base: base}
	echo := aws.ToString(echoURL.FunctionUrl)

	// Cookies, repeated query keys and headers, by Host.
	r := h.request("GET", echo, "/my/path?a=1&a=2&b=x%20y", nil, false)
	r.Header.Set("Cookie", "c1=one; c2=two")
	r.Header.Add("X-Custom", "first")
	r.Header.Add("X-Custom", "second")
	e := h.event(r)
	if e.RawPath != "/my/path" || e.RawQueryString != "a=1&a=2&b=x%20y" || !reflect.DeepEqual(e.Cookies, []string{"c1=one", "c2=two"}) ||
		!reflect.DeepEqual(e.QueryStringParameters, map[string]string{"a": "1,2", "b": "x y"}) || e.Headers["x-custom"] != "first,second" ||
		e.Headers["cookie"] != "" || e.RequestContext.HTTP.Method != "GET" || e.RequestContext.AccountID != function.DefaultAccountID ||
		e.RequestContext.Authorizer != nil || len(e.RequestContext.APIID) != 32 {
		t.Errorf("the event of a GET by Host: %+v", e)
	}

	// A binary body, by the path fallback; then a JSON one.
	png := []byte{0x89, 'P', 'N', 'G', 0, 0xff, 0xfe}
	r = h.request("POST", echo, "/up/load", png, true)
	r.Header.Set("Content-Type", "image/png")
	e = h.event(r)
	if raw, err := base64.StdEncoding.DecodeString(e.Body); !e.IsBase64Encoded || err != nil || !bytes.Equal(raw, png) || e.RawPath != "/up/load" || e.RequestContext.HTTP.Path != "/up/load" {
		t.Errorf("the event of a binary POST by path: %+v", e)
	}
	r = h.request("POST", echo, "/", []byte(`{"k":"v"}`), true)
	r.Header.Set("Content-Type", "application/json")
	if e = h.event(r); e.IsBase64Encoded || e.Body != `{"k":"v"}` {
		t.Errorf("the event of a JSON POST: %+v", e)
	}

	// CORS: a preflight answered by ember, and headers on the answer.
	r = h.request("OPTIONS", echo, "/", nil, false)
	r.Header.Set("Origin", "https://site.test")
	r.Header.Set("Access-Control-Request-Method", "POST")
	r.Header.Set("Access-Control-Request-Headers", "x-custom")
	resp, body := h.do(r)
	if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Access-Control-Allow-Origin") != "https://site.test" ||
		resp.Header.Get("Access-Control-Allow-Methods") != "GET,POST" || resp.Header.Get("Access-Control-Allow-Headers") != "x-custom" ||
		resp.Header.Get("Access-Control-Max-Age") != "600" {
		t.Errorf("preflight: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	r = h.request("GET", echo, "/", nil, false)
	r.Header.Set("Origin", "https://site.test")
	if resp, _ := h.do(r); resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://site.test" || resp.Header.Get("Access-Control-Expose-Headers") != "x-out" {
		t.Errorf("CORS headers on a response: %d %v", resp.StatusCode, resp.Header)
	}

	// urlresponder answers mapped to HTTP.
	responder := aws.ToString(respURL.FunctionUrl)
	ask := func(v string) (*http.Response, []byte) {
		r := h.request("POST", responder, "/", []byte(v), false)
		r.Header.Set("Content-Type", "application/json")
		return h.do(r)
	}
	resp, body = ask(`{"respond":{"statusCode":201,"headers":{"Content-Type":"text/plain","X-R":"1"},"cookies":["a=1; Path=/","b=2"],"body":"aGk=","isBase64Encoded":true}}`)
	if resp.StatusCode != 201 || string(body) != "hi" || resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("X-R") != "1" ||
		!reflect.DeepEqual(resp.Header.Values("Set-Cookie"), []string{"a=1; Path=/", "b=2"}) {
		t.Errorf("a structured answer: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	resp, body = ask(`{"respond":{"message":"Hello"}}`)
	if resp.StatusCode != 200 || string(body) != `{"message":"Hello"}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("an answer without statusCode: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	resp, body = ask(`{"respond":{"statusCode":"abc"}}`)
	if resp.StatusCode != 502 || string(body) != "Internal Server Error" {
		t.Errorf("a malformed answer: %d %q", resp.StatusCode, body)
	}
	resp, body = ask(`{"fail":"boom"}`)
	if resp.StatusCode != 502 || string(body) != "Internal Server Error" {
		t.Errorf("a failure: %d %q", resp.StatusCode, body)
	}

	// A response streamed behind the HTTP prelude (aws-lambda-go's
	// lambdaurl), relayed with the prelude's status, headers and cookies.
	streamURL, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("urlstream"),
		AuthType: types.FunctionUrlAuthTypeNone, InvokeMode: types.InvokeModeResponseStream})
	if err != nil || streamURL.InvokeMode != types.InvokeModeResponseStream {
		t.Fatalf("CreateFunctionUrlConfig urlstream: %+v, %v", streamURL, err)
	}
	resp, body = h.do(h.request("GET", aws.ToString(streamURL.FunctionUrl), "/streamed", nil, true))
	if resp.StatusCode != 202 || string(body) != "part-1\npart-2 /streamed\n" || resp.Header.Get("Content-Type") != "text/plain" ||
		resp.Header.Get("X-Stream") != "yes" || resp.Header.Get("Set-Cookie") != "s=1" {
		t.Errorf("a streamed response: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	// Its first part arrives as the function writes it, 300 ms before
	// the second.
	streamed, err := http.DefaultClient.Do(h.request("GET", aws.ToString(streamURL.FunctionUrl), "/live", nil, true))
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len("part-1\n"))
	_, err = io.ReadFull(streamed.Body, first)
	firstAt := time.Now()
	rest, restErr := io.ReadAll(streamed.Body)
	streamed.Body.Close()
	if err != nil || restErr != nil || string(first) != "part-1\n" || string(rest) != "part-2 /live\n" {
		t.Errorf("a live stream: %q %q, %v, %v", first, rest, err, restErr)
	} else if gap := time.Since(firstAt); gap < 100*time.Millisecond {
		t.Errorf("the stream's first part came %v before its end; want it as written, about 300 ms before", gap)
	}

	// AWS_IAM: signed with the server's key, then unsigned.
	live := aws.ToString(liveURL.FunctionUrl)
	payload := []byte(`{"signed":true}`)
	r = h.request("POST", live, "/iam?x=1", payload, false)
	r.Header.Set("Content-Type", "application/json")
	if err := sigv4.Sign(r, payload, creds, function.DefaultRegion, "lambda", time.Now()); err != nil {
		t.Fatal(err)
	}
	if e = h.event(r); e.RequestContext.Authorizer == nil || e.RequestContext.Authorizer.IAM.AccessKey != creds.AccessKeyID || e.Body != string(payload) {
		t.Errorf("the event of a signed request: %+v", e)
	}
	r = h.request("POST", live, "/iam", payload, false)
	if resp, body := h.do(r); resp.StatusCode != 403 || string(body) != `{"Message":"Forbidden"}` {
		t.Errorf("an unsigned request to an AWS_IAM URL: %d %q", resp.StatusCode, body)
	}

	// Deleting the function removes its URLs.
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("echo")}); err != nil {
		t.Fatal(err)
	}
	if resp, body := h.do(h.request("GET", echo, "/", nil, false)); resp.StatusCode != 403 {
		t.Errorf("the URL of a deleted function: %d %q", resp.StatusCode, body)
	}
	if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("echo"), Role: aws.String(testRole), Runtime: types.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: zips["echo"]},
	}); err != nil {
		t.Fatal(err)
	}
	if list, err := c.ListFunctionUrlConfigs(ctx, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("echo")}); err != nil || len(list.FunctionUrlConfigs) != 0 {
		t.Errorf("the URLs of a function made again under the deleted one's name: %+v, %v", list, err)
	}
}
