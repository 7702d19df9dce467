package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/emberfn/ember/bench/internal/harness"
)

// functionsPath is where CreateFunction posts and ListFunctions gets.
const functionsPath = "/2015-03-31/functions"

// post sends body to url and returns the answer and how long the
// exchange took.
func post(ctx context.Context, hc *http.Client, url string, body []byte) (int, []byte, time.Duration, error) {
	t0 := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, time.Since(t0), err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	_, err = buf.ReadFrom(resp.Body)
	d := time.Since(t0)
	if err != nil {
		return resp.StatusCode, nil, d, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, buf.Bytes(), d, nil
}

// createSDK creates the function name with the code zip through c, with
// memoryMB of memory (0: Lambda's default, 128 MB).
func createSDK(ctx context.Context, c *lambda.Client, name string, zip []byte, memoryMB int) (time.Duration, error) {
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Role:         aws.String(benchRole),
		Runtime:      types.Runtime(benchRuntime),
		Handler:      aws.String("bootstrap"),
		Code:         &types.FunctionCode{ZipFile: zip},
	}
	if memoryMB > 0 {
		in.MemorySize = aws.Int32(int32(memoryMB))
	}
	t0 := time.Now()
	out, err := c.CreateFunction(ctx, in)
	d := time.Since(t0)
	if err != nil {
		return d, fmt.Errorf("CreateFunction %s: %w", name, err)
	}
	if out.FunctionName == nil || *out.FunctionName != name {
		return d, fmt.Errorf("CreateFunction %s answered for function %v", name, aws.ToString(out.FunctionName))
	}
	return d, nil
}

// createHTTP posts body, a CreateFunction request, to the server at url
// with plain net/http and expects ember's 201.
func createHTTP(ctx context.Context, hc *http.Client, url string, body []byte) (time.Duration, error) {
	status, answer, d, err := post(ctx, hc, url+functionsPath, body)
	if err != nil {
		return d, fmt.Errorf("CreateFunction: %w", err)
	}
	if status != http.StatusCreated {
		return d, fmt.Errorf("CreateFunction: status %d: %s", status, harness.Clip(string(answer), 300))
	}
	return d, nil
}

// listAll pages through all functions through c, maxItems a page, and
// returns how many there are and how many pages it took.
func listAll(ctx context.Context, c *lambda.Client, maxItems int32) (time.Duration, int, int, error) {
	t0 := time.Now()
	p := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{MaxItems: aws.Int32(maxItems)})
	functions, pages := 0, 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return time.Since(t0), functions, pages, fmt.Errorf("ListFunctions, page %d: %w", pages+1, err)
		}
		functions += len(out.Functions)
		pages++
	}
	return time.Since(t0), functions, pages, nil
}

// pageBytes returns the size of the body of ListFunctions' first page of
// maxItems functions, got with plain net/http.
func pageBytes(ctx context.Context, hc *http.Client, url string, maxItems int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s%s/?MaxItems=%d", url, functionsPath, maxItems), nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("ListFunctions: %w", err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return 0, fmt.Errorf("ListFunctions: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("ListFunctions: status %d: %s", resp.StatusCode, harness.Clip(buf.String(), 300))
	}
	return buf.Len(), nil
}

// limitsEnforced invokes function once through c with its log tail and
// reports whether the REPORT line says its limits were enforced, which it
// does not say when ember ran it as a plain process or without cgroups.
func limitsEnforced(ctx context.Context, c *lambda.Client, function string, payload []byte) (bool, error) {
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(function), Payload: payload, LogType: types.LogTypeTail})
	if err != nil {
		return false, fmt.Errorf("Invoke %s with its log: %w", function, err)
	}
	tail, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if err != nil {
		return false, fmt.Errorf("Invoke %s: log result: %w", function, err)
	}
	for line := range strings.Lines(string(tail)) {
		if strings.HasPrefix(line, "REPORT RequestId: ") {
			return !strings.Contains(line, "Limits: not enforced"), nil
		}
	}
	return false, fmt.Errorf("Invoke %s: no REPORT line in the log tail %q", function, tail)
}
