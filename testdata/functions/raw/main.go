// Command raw is a minimal hand-written runtime loop (no aws-lambda-go) whose event "action" picks a Runtime API protocol behaviour.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

var base = "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"

func main() {
	for {
		resp, err := http.Get(base + "next")
		if err != nil {
			fatal("next: %v", err)
		}
		payload, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			fatal("next: status %d, err %v", resp.StatusCode, err)
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")

		var event struct {
			Action string `json:"action"`
		}
		json.Unmarshal(payload, &event)

		switch event.Action {
		case "respond":
			post(id, "response", `{"ok":true}`, "")
		case "respond-twice":
			post(id, "response", `{"ok":true}`, "")
			code, body := post(id, "response", `{"ok":true}`, "")
			fmt.Fprintf(os.Stderr, "second response: %d %s\n", code, body)
		case "error":
			post(id, "error", `{"errorMessage":"custom","errorType":"Custom.Failure"}`, "Custom.Failure")
		case "wrong-id":
			code, body := post("no-such-request-id", "response", `{"ok":true}`, "")
			fmt.Fprintf(os.Stderr, "wrong id: %d %s\n", code, body)
			post(id, "response", `{"ok":true}`, "")
		case "headers":
			headers := map[string]string{"Content-Type": resp.Header.Get("Content-Type")}
			for k, v := range resp.Header {
				if strings.HasPrefix(k, "Lambda-Runtime-") {
					headers[k] = strings.Join(v, ",")
				}
			}
			b, _ := json.Marshal(headers)
			post(id, "response", string(b), "")
		default:
			post(id, "error", `{"errorMessage":"unknown action","errorType":"Custom.UnknownAction"}`, "Custom.UnknownAction")
		}
	}
}

// post sends body to /invocation/<id>/<kind> and returns the status code and trimmed response body.
func post(id, kind, body, errorType string) (int, string) {
	req, err := http.NewRequest(http.MethodPost, base+id+"/"+kind, strings.NewReader(body))
	if err != nil {
		fatal("%s: %v", kind, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if errorType != "" {
		req.Header.Set("Lambda-Runtime-Function-Error-Type", errorType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fatal("%s: %v", kind, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "raw: "+format+"\n", args...)
	os.Exit(1)
}
