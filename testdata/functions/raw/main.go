// Command raw is a minimal hand-written runtime loop (no aws-lambda-go) whose event "action" picks a Runtime API protocol behaviour.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
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
		case "stream", "stream-fail":
			stream(id, event.Action == "stream-fail")
		case "spawn":
			// A child that outlives nothing: shutdown must kill it with the runtime.
			cmd := exec.Command("sleep", "1000")
			if err := cmd.Start(); err != nil {
				fatal("spawn: %v", err)
			}
			post(id, "response", fmt.Sprintf(`{"child":%d}`, cmd.Process.Pid), "")
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

// stream posts a response in streaming mode: three chunks 100 ms apart, then,
// when fail is set, error trailers instead of a clean end.
func stream(id string, fail bool) {
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, base+id+"/response", pr)
	if err != nil {
		fatal("stream: %v", err)
	}
	req.Header.Set("Lambda-Runtime-Function-Response-Mode", "streaming")
	req.Header.Set("Content-Type", "text/plain")
	req.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil}
	go func() {
		for i := 0; i < 3; i++ {
			fmt.Fprintf(pw, "chunk-%d\n", i)
			time.Sleep(100 * time.Millisecond)
		}
		if fail {
			req.Trailer.Set("Lambda-Runtime-Function-Error-Type", "Custom.StreamBroke")
			req.Trailer.Set("Lambda-Runtime-Function-Error-Body",
				base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"stream broke","errorType":"Custom.StreamBroke"}`)))
		}
		pw.Close()
	}()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fatal("stream: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Fprintf(os.Stderr, "stream answered: %d\n", resp.StatusCode)
}
