package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emberfn/ember/internal/testenv"
)

// Debian's AWS CLI and boto3, which scripts/install-test-deps.sh installs.
const (
	awsCLI     = "/usr/bin/aws"
	python3Bin = "/usr/bin/python3"
)

// awsEnv is the environment of an AWS client run by a test: the test's
// keys, no configuration of the machine's.
func awsEnv(t *testing.T) []string {
	home := t.TempDir()
	return []string{
		"HOME=" + home, "PATH=/usr/bin:/bin",
		"AWS_ACCESS_KEY_ID=" + testKeyID, "AWS_SECRET_ACCESS_KEY=" + testSecret,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
	}
}

func TestServeAWSCLI(t *testing.T) {
	testenv.Command(t, awsCLI)
	p := startServe(t, t.TempDir())
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "echo.zip")
	if err := os.WriteFile(zipPath, zipFunction(t, "echo"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := awsEnv(t)
	aws := func(args ...string) (map[string]any, string) {
		t.Helper()
		cmd := exec.Command(awsCLI, append(append([]string{"lambda"}, args...), "--endpoint-url", p.url, "--output", "json")...)
		cmd.Env = env
		out, err := cmd.Output()
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		if err != nil {
			return nil, stderr
		}
		var m map[string]any
		if len(strings.TrimSpace(string(out))) > 0 {
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("aws lambda %v printed %s: %v", args, out, err)
			}
		}
		return m, ""
	}
	must := func(args ...string) map[string]any {
		t.Helper()
		m, stderr := aws(args...)
		if m == nil && stderr != "" {
			t.Fatalf("aws lambda %v failed: %s", args, stderr)
		}
		return m
	}

	m := must("create-function", "--function-name", "cli-echo", "--runtime", "provided.al2023", "--handler", "bootstrap",
		"--role", testRole, "--zip-file", "fileb://"+zipPath)
	if m["FunctionName"] != "cli-echo" || m["FunctionArn"] != "arn:aws:lambda:us-east-1:123456789012:function:cli-echo" {
		t.Errorf("create-function printed %v", m)
	}
	outFile := filepath.Join(dir, "out.json")
	m = must("invoke", "--function-name", "cli-echo", "--cli-binary-format", "raw-in-base64-out", "--payload", `{"from":"cli"}`, outFile)
	if m["StatusCode"] != float64(200) || m["ExecutedVersion"] != "$LATEST" {
		t.Errorf("invoke printed %v", m)
	}
	if b, err := os.ReadFile(outFile); err != nil || !strings.Contains(string(b), `"from":"cli"`) {
		t.Errorf("invoke wrote %s, %v", b, err)
	}
	m = must("list-functions")
	if fns, _ := m["Functions"].([]any); len(fns) != 1 {
		t.Errorf("list-functions printed %v", m)
	}
	m = must("update-function-configuration", "--function-name", "cli-echo", "--memory-size", "256", "--timeout", "10")
	if m["MemorySize"] != float64(256) || m["Timeout"] != float64(10) {
		t.Errorf("update-function-configuration printed %v", m)
	}
	m = must("publish-version", "--function-name", "cli-echo")
	if m["Version"] != "1" || m["MemorySize"] != float64(256) {
		t.Errorf("publish-version printed %v", m)
	}
	m = must("create-alias", "--function-name", "cli-echo", "--name", "live", "--function-version", "1")
	if m["AliasArn"] != "arn:aws:lambda:us-east-1:123456789012:function:cli-echo:live" {
		t.Errorf("create-alias printed %v", m)
	}
	m = must("invoke", "--function-name", "cli-echo", "--qualifier", "live", outFile)
	if m["ExecutedVersion"] != "1" {
		t.Errorf("invoke of the alias printed %v", m)
	}
	must("delete-function", "--function-name", "cli-echo")
	if _, stderr := aws("get-function", "--function-name", "cli-echo"); !strings.Contains(stderr, "ResourceNotFoundException") {
		t.Errorf("get-function after delete-function printed %q; want ResourceNotFoundException", stderr)
	}
}

const boto3Script = `
import json, sys, zipfile
import boto3, botocore
url, zip_path = sys.argv[1], sys.argv[2]
c = boto3.client("lambda", endpoint_url=url, region_name="us-east-1",
                 config=botocore.config.Config(retries={"max_attempts": 1}))
out = {}
code = open(zip_path, "rb").read()
r = c.create_function(FunctionName="py-echo", Runtime="provided.al2023", Role=sys.argv[3],
                      Handler="bootstrap", Code={"ZipFile": code}, MemorySize=512)
out["create"] = {"name": r["FunctionName"], "memory": r["MemorySize"], "sha": r["CodeSha256"]}
r = c.invoke(FunctionName="py-echo", Payload=json.dumps({"from": "boto3"}), LogType="Tail")
out["invoke"] = {"status": r["StatusCode"], "payload": json.loads(r["Payload"].read()),
                 "version": r["ExecutedVersion"], "log": "LogResult" in r}
names = []
for page in c.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1}):
    names += [f["FunctionName"] for f in page["Functions"]]
out["list"] = names
try:
    c.get_function(FunctionName="missing")
    out["missing"] = "found"
except c.exceptions.ResourceNotFoundException as e:
    out["missing"] = e.response["Error"]["Code"]
c.delete_function(FunctionName="py-echo")
print(json.dumps(out))
`

func TestServeBoto3(t *testing.T) {
	testenv.PythonModule(t, python3Bin, "boto3")
	p := startServe(t, t.TempDir())
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "echo.zip")
	if err := os.WriteFile(zipPath, zipFunction(t, "echo"), 0o644); err != nil {
		t.Fatal(err)
	}
	createFunction(t, sdkClient(p.url, testSecret), "other", zipFunction(t, "echo"))
	cmd := exec.Command(python3Bin, "-c", boto3Script, p.url, zipPath, testRole)
	cmd.Env = awsEnv(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3 script: %v\n%s", err, out)
	}
	var got struct {
		Create struct {
			Name   string
			Memory int
			Sha    string
		}
		Invoke struct {
			Status  int
			Payload map[string]any
			Version string
			Log     bool
		}
		List    []string
		Missing string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("boto3 script printed %s: %v", out, err)
	}
	if got.Create.Name != "py-echo" || got.Create.Memory != 512 || got.Create.Sha == "" {
		t.Errorf("create_function: %+v", got.Create)
	}
	if got.Invoke.Status != 200 || got.Invoke.Payload["from"] != "boto3" || got.Invoke.Version != "$LATEST" || !got.Invoke.Log {
		t.Errorf("invoke: %+v", got.Invoke)
	}
	if strings.Join(got.List, ",") != "other,py-echo" {
		t.Errorf("paginated list_functions: %v", got.List)
	}
	if got.Missing != "ResourceNotFoundException" {
		t.Errorf("get_function of a missing function: %q", got.Missing)
	}
}
