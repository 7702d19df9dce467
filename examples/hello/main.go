// Command hello is an example function for Lambda's provided runtime: it
// greets the event's "name".
package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Name string `json:"name"`
}

type greeting struct {
	Message   string `json:"message"`
	RequestID string `json:"requestId"`
}

func main() {
	lambda.Start(func(ctx context.Context, e event) (greeting, error) {
		if e.Name == "" {
			e.Name = "world"
		}
		lc, _ := lambdacontext.FromContext(ctx)
		fmt.Printf("greeting %s\n", e.Name)
		return greeting{Message: "Hello, " + e.Name + "!", RequestID: lc.AwsRequestID}, nil
	})
}
