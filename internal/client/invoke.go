package client

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
)

// InvokeInput is one invocation of a function.
type InvokeInput struct {
	FunctionName   string
	Qualifier      string // version or alias; "" is $LATEST
	Payload        []byte // the event, sent as it is
	InvocationType string // "" (RequestResponse), "RequestResponse", "Event" or "DryRun"
	LogTail        bool   // ask for the last 4 KB of the log (X-Amz-Log-Type: Tail)
	ClientContext  []byte // raw JSON, sent base64-encoded in X-Amz-Client-Context
}

// InvokeOutput is the answer to an invocation: the HTTP status (200, 202
// for Event, 204 for DryRun), the function's response or error payload, and
// the response headers, with the log tail decoded.
type InvokeOutput struct {
	StatusCode      int
	Payload         []byte
	FunctionError   string // X-Amz-Function-Error: "Unhandled" when the function failed
	ExecutedVersion string // X-Amz-Executed-Version
	LogResult       string // X-Amz-Log-Result, decoded
	RequestID       string // x-amzn-RequestId
}

// Invoke invokes a function (POST …/{name}/invocations?Qualifier=). A
// function's own error is no error here: it is in FunctionError and Payload.
func (c *Client) Invoke(ctx context.Context, in InvokeInput) (InvokeOutput, error) {
	h := http.Header{}
	if in.InvocationType != "" {
		h.Set("X-Amz-Invocation-Type", in.InvocationType)
	}
	if in.LogTail {
		h.Set("X-Amz-Log-Type", "Tail")
	}
	if len(in.ClientContext) > 0 {
		h.Set("X-Amz-Client-Context", base64.StdEncoding.EncodeToString(in.ClientContext))
	}
	payload := in.Payload
	if payload == nil {
		payload = []byte{}
	}
	r := request{
		method: http.MethodPost,
		path:   functionPath(functionsPath, in.FunctionName, "/invocations"),
		query:  qualifierQuery(in.Qualifier),
		header: h,
		body:   payload,
		json:   true,
	}
	resp, body, err := c.do(ctx, r, http.StatusOK, http.StatusAccepted, http.StatusNoContent)
	if err != nil {
		return InvokeOutput{}, fmt.Errorf("Invoke %s: %w", in.FunctionName, err)
	}
	out := InvokeOutput{
		StatusCode:      resp.StatusCode,
		Payload:         body,
		FunctionError:   resp.Header.Get("X-Amz-Function-Error"),
		ExecutedVersion: resp.Header.Get("X-Amz-Executed-Version"),
		RequestID:       resp.Header.Get("X-Amzn-Requestid"),
	}
	if lr := resp.Header.Get("X-Amz-Log-Result"); lr != "" {
		b, err := base64.StdEncoding.DecodeString(lr)
		if err != nil {
			return out, fmt.Errorf("Invoke %s: decode X-Amz-Log-Result: %w", in.FunctionName, err)
		}
		out.LogResult = string(b)
	}
	return out, nil
}
