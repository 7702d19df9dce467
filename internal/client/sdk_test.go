package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The same operations from this client and from aws-sdk-go-v2's Lambda
// client reach the server as the same request: method, escaped path and
// query, JSON body and Lambda headers.
func TestWireMatchesAWSSDK(t *testing.T) {
	respond := func(w http.ResponseWriter, c call) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case c.method == "POST" && c.uri == "/2015-03-31/functions":
			w.WriteHeader(http.StatusCreated)
			w.Write(golden(t))
		case c.method == "GET" && strings.HasPrefix(c.uri, "/2015-03-31/functions?"):
			w.Write([]byte(`{"Functions":[]}`))
		case strings.Contains(c.uri, "/invocations"):
			w.Write([]byte(`{}`))
		case strings.HasSuffix(c.uri, "/versions"):
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"Version":"2"}`))
		case c.method == "DELETE":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Write(golden(t))
		}
	}
	ours, c := newFakeAPI(t, testKeys, respond)
	theirs, _ := newFakeAPI(t, testKeys, respond)
	sdk := lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(theirs.url),
		Credentials:      credentials.NewStaticCredentialsProvider(testCreds.AccessKeyID, testCreds.SecretAccessKey, testCreds.SessionToken),
		RetryMaxAttempts: 1,
	})

	ctx := context.Background()
	zip := []byte("PK\x03\x04 zip bytes")
	mem, timeout, tmp := 1024, 60, 4096
	desc := "updated"
	clientContext := []byte(`{"custom":{"k":"v"}}`)
	steps := []struct {
		name   string
		ours   func() error
		theirs func() error
	}{
		{"CreateFunction", func() error {
			_, err := c.CreateFunction(ctx, CreateFunctionInput{FunctionName: "my-fn", Runtime: "python3.13", Role: "arn:aws:iam::123456789012:role/r",
				Handler: "app.handler", Description: "d", ZipFile: zip, MemorySize: &mem, Timeout: &timeout,
				Environment: map[string]string{"A": "1", "B": "two words"}, EphemeralStorageMB: &tmp,
				Architectures: []string{"arm64"}, Publish: true, Layers: []string{"arn:aws:lambda:us-east-1:123456789012:layer:l:1"}})
			return err
		}, func() error {
			_, err := sdk.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("my-fn"), Runtime: "python3.13",
				Role: aws.String("arn:aws:iam::123456789012:role/r"), Handler: aws.String("app.handler"), Description: aws.String("d"),
				Code: &types.FunctionCode{ZipFile: zip}, MemorySize: aws.Int32(int32(mem)), Timeout: aws.Int32(int32(timeout)),
				Environment:      &types.Environment{Variables: map[string]string{"A": "1", "B": "two words"}},
				EphemeralStorage: &types.EphemeralStorage{Size: aws.Int32(int32(tmp))}, Architectures: []types.Architecture{"arm64"},
				Publish: true, Layers: []string{"arn:aws:lambda:us-east-1:123456789012:layer:l:1"}})
			return err
		}},
		{"GetFunctionConfiguration", func() error {
			_, err := c.GetFunctionConfiguration(ctx, fnARN+":prod", "$LATEST")
			return err
		}, func() error {
			_, err := sdk.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fnARN + ":prod"), Qualifier: aws.String("$LATEST")})
			return err
		}},
		{"UpdateFunctionCode", func() error {
			_, err := c.UpdateFunctionCode(ctx, fnARN, zip, true)
			return err
		}, func() error {
			_, err := sdk.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(fnARN), ZipFile: zip, Publish: true})
			return err
		}},
		{"UpdateFunctionConfiguration", func() error {
			_, err := c.UpdateFunctionConfiguration(ctx, UpdateFunctionConfigurationInput{FunctionName: "my-fn", Description: &desc,
				MemorySize: &mem, EphemeralStorageMB: &tmp, Environment: map[string]string{}})
			return err
		}, func() error {
			_, err := sdk.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("my-fn"),
				Description: &desc, MemorySize: aws.Int32(int32(mem)), EphemeralStorage: &types.EphemeralStorage{Size: aws.Int32(int32(tmp))},
				Environment: &types.Environment{Variables: map[string]string{}}})
			return err
		}},
		{"PublishVersion", func() error {
			_, err := c.PublishVersion(ctx, "my-fn", "v2")
			return err
		}, func() error {
			_, err := sdk.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("my-fn"), Description: aws.String("v2")})
			return err
		}},
		{"DeleteFunction", func() error {
			return c.DeleteFunction(ctx, fnARN, "3")
		}, func() error {
			_, err := sdk.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(fnARN), Qualifier: aws.String("3")})
			return err
		}},
		{"Invoke", func() error {
			_, err := c.Invoke(ctx, InvokeInput{FunctionName: fnARN, Qualifier: "live", Payload: []byte(`{"a": [1, 2]}`),
				InvocationType: "Event", LogTail: true, ClientContext: clientContext})
			return err
		}, func() error {
			_, err := sdk.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fnARN), Qualifier: aws.String("live"),
				Payload: []byte(`{"a": [1, 2]}`), InvocationType: "Event", LogType: "Tail",
				ClientContext: aws.String(base64.StdEncoding.EncodeToString(clientContext))})
			return err
		}},
	}
	for i, s := range steps {
		if err := s.ours(); err != nil {
			t.Fatalf("%s (ours): %v", s.name, err)
		}
		if err := s.theirs(); err != nil {
			t.Fatalf("%s (aws-sdk-go-v2): %v", s.name, err)
		}
		a, b := ours.all()[i], theirs.all()[i]
		if a.method != b.method || a.uri != b.uri {
			t.Errorf("%s: ours %s %s, aws-sdk-go-v2 %s %s", s.name, a.method, a.uri, b.method, b.uri)
		}
		if !sameBody(a.body, b.body) {
			t.Errorf("%s: body\n ours %s\n aws-sdk-go-v2 %s", s.name, a.body, b.body)
		}
		for _, h := range []string{"X-Amz-Invocation-Type", "X-Amz-Log-Type", "X-Amz-Client-Context"} {
			if a.header.Get(h) != b.header.Get(h) {
				t.Errorf("%s: %s ours %q, aws-sdk-go-v2 %q", s.name, h, a.header.Get(h), b.header.Get(h))
			}
		}
	}
}

// sameBody: equal JSON values, or equal bytes when not JSON.
func sameBody(a, b []byte) bool {
	var av, bv any
	if json.Unmarshal(a, &av) != nil || json.Unmarshal(b, &bv) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(av, bv)
}
