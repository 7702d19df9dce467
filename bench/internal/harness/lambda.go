package harness

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// NewLambdaClient returns an aws-sdk-go-v2 Lambda client of the server at
// url, over hc. It signs its requests with made-up keys, which ember does
// not check on loopback, and never retries: a failed request counts as
// one, rather than taking the time of several.
func NewLambdaClient(url string, hc *http.Client) *lambda.Client {
	return lambda.New(lambda.Options{
		BaseEndpoint: aws.String(url),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEMBERBENCH000001", "ember/bench/made/up/secret/key/00000000", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   hc,
	})
}
