package client

import (
	"context"
	"fmt"
	"net/http"
)

// FunctionURLConfig is a function URL's configuration.
type FunctionURLConfig struct {
	FunctionURL string `json:"FunctionUrl"`
	FunctionArn string `json:"FunctionArn"`
	AuthType    string `json:"AuthType"`
	InvokeMode  string `json:"InvokeMode"`
}

// FunctionURL returns the URL configuration of a function's $LATEST or
// alias (GET /2021-10-31/functions/{name}/url?Qualifier=, 200).
func (c *Client) FunctionURL(ctx context.Context, name, qualifier string) (FunctionURLConfig, error) {
	r := request{method: http.MethodGet, path: functionPath("/2021-10-31/functions", name, "/url"), query: qualifierQuery(qualifier)}
	var out FunctionURLConfig
	if err := c.doJSON(ctx, r, nil, &out, http.StatusOK); err != nil {
		return FunctionURLConfig{}, fmt.Errorf("GetFunctionUrlConfig %s: %w", name, err)
	}
	return out, nil
}

// CreateFunctionURL gives a function's $LATEST or alias a URL (POST
// /2021-10-31/functions/{name}/url?Qualifier=, 201); authType is NONE or
// AWS_IAM, invokeMode BUFFERED or RESPONSE_STREAM.
func (c *Client) CreateFunctionURL(ctx context.Context, name, qualifier, authType, invokeMode string) (FunctionURLConfig, error) {
	r := request{method: http.MethodPost, path: functionPath("/2021-10-31/functions", name, "/url"), query: qualifierQuery(qualifier)}
	in := struct {
		AuthType   string `json:"AuthType"`
		InvokeMode string `json:"InvokeMode,omitempty"`
	}{authType, invokeMode}
	var out FunctionURLConfig
	if err := c.doJSON(ctx, r, in, &out, http.StatusCreated); err != nil {
		return FunctionURLConfig{}, fmt.Errorf("CreateFunctionUrlConfig %s: %w", name, err)
	}
	return out, nil
}
