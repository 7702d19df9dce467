package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/emberfn/ember/bench/internal/harness"
)

// The runtimes the benchmark measures, by Lambda's names.
const (
	pythonRuntime = "python3.11"
	nodeRuntime   = "nodejs20.x"
	goRuntime     = "provided.al2023"
)

const (
	// memoryMB is every function's memory. In a sandbox ember gives a
	// function Lambda's CPU share, memory/1769 of a vCPU: at 1769 MB one
	// vCPU, so that the CPU limit does not make the figures.
	memoryMB = 1769
	// functionTimeout is every function's timeout, in seconds.
	functionTimeout = 10
	// benchRole is the execution role of every function; ember checks its
	// form only.
	benchRole = "arn:aws:iam::123456789012:role/ember-bench"
	// localBucket, as a function's S3Bucket, makes ember take its code from
	// the directory its S3Key names.
	localBucket = "ember-local"
	// event is every Invoke's payload.
	event = `{"bench":"ember runtimes"}`
)

// The hello functions, as a Lambda user writes them.
const (
	pythonHello = `def handler(event, context):
    return {"statusCode": 200, "body": "hello from python"}
`
	nodeHello = `export const handler = async (event) => ({ statusCode: 200, body: "hello from node" });
`
)

// fn is a function the benchmark measures, and the plain process that
// is its baseline.
type fn struct {
	// runtime is Lambda's name of the function's runtime; column names it
	// in the tables.
	runtime, column string
	// name is the function's name in ember, handler its handler, dir the
	// directory of its code.
	name, handler, dir string
	// answer checks the function's answer to event.
	answer func(payload []byte) error
	// base is the baseline's command: the runtime's interpreter with
	// nothing to run, or the Go function's bootstrap without a Runtime
	// API; shown is the command as the results give it (the bootstrap,
	// built in a temporary directory, by its name), baseLabel how the
	// tables name it.
	base, shown []string
	baseLabel   string
	// baseFails says that the baseline ends with an error, as the
	// bootstrap does without a Runtime API.
	baseFails bool
}

// interpreters runs `ember runtimes` and returns, for each runtime name it
// lists, the interpreter it shows: "" where it shows none.
func interpreters(ctx context.Context, ember string) (map[string]string, error) {
	cmd := exec.CommandContext(ctx, ember, "runtimes")
	cmd.Env = harness.ServeEnv()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ember runtimes: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "RUNTIME") {
		return nil, fmt.Errorf("ember runtimes printed no table: %q", harness.Clip(string(out), 200))
	}
	found := make(map[string]string)
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		path := f[1]
		if !filepath.IsAbs(path) {
			// "-", or a provided runtime's "(the function's bootstrap)".
			path = ""
		}
		found[f[0]] = path
	}
	return found, nil
}

// makeFunctions writes the hello functions' code under dir and returns
// the functions whose runtime `ember runtimes` shows an interpreter for,
// and the Go echo function, with a note for each runtime skipped.
func makeFunctions(ctx context.Context, bins harness.Binaries, dir string) ([]*fn, []string, error) {
	interp, err := interpreters(ctx, bins.Ember)
	if err != nil {
		return nil, nil, err
	}
	var fns []*fn
	var skipped []string
	for _, h := range []struct {
		runtime, name, handler, file, code, body string
		base                                     []string
	}{
		{pythonRuntime, "python-hello", "app.handler", "app.py", pythonHello, "hello from python", []string{"-c", "pass"}},
		{nodeRuntime, "node-hello", "index.handler", "index.mjs", nodeHello, "hello from node", []string{"-e", "0"}},
	} {
		path, listed := interp[h.runtime]
		switch {
		case !listed:
			skipped = append(skipped, fmt.Sprintf("%s skipped: `ember runtimes` does not list it", h.runtime))
			continue
		case path == "":
			skipped = append(skipped, fmt.Sprintf("%s skipped: `ember runtimes` shows no interpreter for it on this machine", h.runtime))
			continue
		}
		code := filepath.Join(dir, h.name)
		if err := os.Mkdir(code, 0o755); err != nil {
			return nil, nil, err
		}
		if err := os.WriteFile(filepath.Join(code, h.file), []byte(h.code), 0o644); err != nil {
			return nil, nil, err
		}
		fns = append(fns, &fn{
			runtime: h.runtime, column: h.runtime, name: h.name, handler: h.handler, dir: code,
			answer:    helloAnswer(h.body),
			base:      append([]string{path}, h.base...),
			shown:     append([]string{path}, h.base...),
			baseLabel: filepath.Base(path) + " " + strings.Join(h.base, " "),
		})
	}
	fns = append(fns, &fn{
		runtime: goRuntime, column: "Go echo (" + goRuntime + ")", name: "go-echo", handler: "bootstrap", dir: bins.FnDir,
		answer: func(payload []byte) error {
			if !bytes.Equal(payload, []byte(event)) {
				return fmt.Errorf("answered %q, not the event", harness.Clip(string(payload), 200))
			}
			return nil
		},
		base: []string{bins.Bootstrap}, shown: []string{"bootstrap"}, baseLabel: "bootstrap, no Runtime API", baseFails: true,
	})
	return fns, skipped, nil
}

// helloAnswer checks a hello function's answer.
func helloAnswer(body string) func([]byte) error {
	return func(payload []byte) error {
		var got struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
		}
		if err := json.Unmarshal(payload, &got); err != nil || got.StatusCode != 200 || got.Body != body {
			return fmt.Errorf("answered %q, not a 200 with %q", harness.Clip(string(payload), 200), body)
		}
		return nil
	}
}

// create creates f in the ember of c, its code taken from its directory.
func create(ctx context.Context, c *lambda.Client, f *fn) error {
	out, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(f.name),
		Role:         aws.String(benchRole),
		Runtime:      types.Runtime(f.runtime),
		Handler:      aws.String(f.handler),
		MemorySize:   aws.Int32(memoryMB),
		Timeout:      aws.Int32(functionTimeout),
		Code:         &types.FunctionCode{S3Bucket: aws.String(localBucket), S3Key: aws.String(f.dir)},
	})
	if err != nil {
		return fmt.Errorf("CreateFunction %s: %w", f.name, err)
	}
	if aws.ToString(out.FunctionName) != f.name {
		return errors.New("CreateFunction " + f.name + " answered for function " + aws.ToString(out.FunctionName))
	}
	return nil
}
