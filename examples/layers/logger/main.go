// Command logger is an example external extension, shipped in a layer at
// extensions/logger: Lambda (and ember) start it with the runtime. It
// registers for INVOKE and SHUTDOWN events and writes a line for each to
// the function's log.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

type event struct {
	EventType      string `json:"eventType"`
	RequestID      string `json:"requestId"`
	ShutdownReason string `json:"shutdownReason"`
}

func main() {
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2020-01-01/extension"
	req, err := http.NewRequest(http.MethodPost, base+"/register", strings.NewReader(`{"events":["INVOKE","SHUTDOWN"]}`))
	if err != nil {
		fail(err)
	}
	req.Header.Set("Lambda-Extension-Name", "logger")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("Lambda-Extension-Identifier")
	for {
		req, err := http.NewRequest(http.MethodGet, base+"/event/next", nil)
		if err != nil {
			fail(err)
		}
		req.Header.Set("Lambda-Extension-Identifier", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fail(err)
		}
		var ev event
		err = json.NewDecoder(resp.Body).Decode(&ev)
		resp.Body.Close()
		if err != nil {
			fail(err)
		}
		switch ev.EventType {
		case "INVOKE":
			fmt.Printf("[logger] invocation %s\n", ev.RequestID)
		case "SHUTDOWN":
			fmt.Printf("[logger] shutting down: %s\n", ev.ShutdownReason)
			return
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "[logger]", err)
	os.Exit(1)
}
