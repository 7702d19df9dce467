// Command telemetryext is an external extension for the tests of the
// Telemetry and Logs APIs. It registers for INVOKE and SHUTDOWN, listens
// on sandbox.localdomain (127.0.0.1 where that name is unknown) on a free
// port, and subscribes to platform, function and extension events with
// 25 ms of buffering: through the Telemetry API when it runs as
// telemetryext, through the Logs API (schema 2021-03-18) as logsext. It
// prints each event it receives on a line of its own, "<name> EVENT
// <json>", except the events that are its own printed lines (or another
// subscriber's), and "<name> shutdown" at SHUTDOWN, 200 ms after it, then
// exits.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

func main() {
	name := filepath.Base(os.Args[0])
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API")
	req, _ := http.NewRequest(http.MethodPost, base+"/2020-01-01/extension/register", strings.NewReader(`{"events":["INVOKE","SHUTDOWN"]}`))
	req.Header.Set("Lambda-Extension-Name", name)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(name, "register:", err)
		os.Exit(1)
	}
	resp.Body.Close()
	id := resp.Header.Get("Lambda-Extension-Identifier")

	l, err := net.Listen("tcp", "sandbox.localdomain:0")
	if err != nil {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		fmt.Println(name, "listen:", err)
		os.Exit(1)
	}
	port := l.Addr().(*net.TCPAddr).Port
	var mu sync.Mutex
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var events []json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&events); err != nil {
			fmt.Println(name, "bad batch:", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, raw := range events {
			var ev struct {
				Type   string `json:"type"`
				Record any    `json:"record"`
			}
			json.Unmarshal(raw, &ev)
			if s, ok := ev.Record.(string); ok && (ev.Type == "function" || ev.Type == "extension") && echoed(s) {
				continue
			}
			fmt.Printf("%s EVENT %s\n", name, raw)
		}
	}))
	fmt.Println(name, "listening")

	path, body := "/2022-07-01/telemetry", `{"schemaVersion":"2022-07-01",`
	if name == "logsext" {
		path, body = "/2020-08-15/logs", `{"schemaVersion":"2021-03-18",`
	}
	body += fmt.Sprintf(`"types":["platform","function","extension"],"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":25},"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:%d"}}`, port)
	req, _ = http.NewRequest(http.MethodPut, base+path, strings.NewReader(body))
	req.Header.Set("Lambda-Extension-Identifier", id)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(name, "subscribe:", err)
		os.Exit(1)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%s subscribed %d %s\n", name, resp.StatusCode, answer)

	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/2020-01-01/extension/event/next", nil)
		req.Header.Set("Lambda-Extension-Identifier", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(name, "next:", err)
			os.Exit(1)
		}
		var ev struct {
			EventType string `json:"eventType"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ev)
		resp.Body.Close()
		if err != nil {
			fmt.Println(name, "next:", err)
			os.Exit(1)
		}
		if ev.EventType == "SHUTDOWN" {
			time.Sleep(200 * time.Millisecond)
			mu.Lock()
			fmt.Println(name, "shutdown")
			os.Exit(0)
		}
	}
}

// echoed reports whether a log line is one a subscriber printed: printing
// it again would never end.
func echoed(line string) bool {
	for _, prefix := range []string{"telemetryext ", "logsext "} {
		if strings.HasPrefix(line, prefix) && !strings.HasPrefix(line, prefix+"listening") {
			return true
		}
	}
	return false
}
