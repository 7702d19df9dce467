// Command context returns the invocation metadata aws-lambda-go exposes: request id, ARN, deadline, client context, identity and trace id.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type result struct {
	RequestID          string                        `json:"requestId"`
	InvokedFunctionArn string                        `json:"invokedFunctionArn"`
	TenantID           string                        `json:"tenantId"`
	DeadlineMs         int64                         `json:"deadlineMs"`
	RemainingMs        int64                         `json:"remainingMs"`
	ClientContext      lambdacontext.ClientContext   `json:"clientContext"`
	Identity           lambdacontext.CognitoIdentity `json:"identity"`
	TraceID            string                        `json:"traceId"`
	EnvTraceID         string                        `json:"envTraceId"`
}

func main() {
	lambda.Start(func(ctx context.Context) (result, error) {
		lc, ok := lambdacontext.FromContext(ctx)
		if !ok {
			return result{}, errors.New("no lambda context")
		}
		r := result{
			RequestID:          lc.AwsRequestID,
			InvokedFunctionArn: lc.InvokedFunctionArn,
			TenantID:           lc.TenantID,
			ClientContext:      lc.ClientContext,
			Identity:           lc.Identity,
			EnvTraceID:         os.Getenv("_X_AMZN_TRACE_ID"),
		}
		if deadline, ok := ctx.Deadline(); ok {
			r.DeadlineMs = deadline.UnixMilli()
			r.RemainingMs = time.Until(deadline).Milliseconds()
		}
		// aws-lambda-go stores the Lambda-Runtime-Trace-Id header under this plain string key.
		r.TraceID, _ = ctx.Value("x-amzn-trace-id").(string)
		return r, nil
	})
}
