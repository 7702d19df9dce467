// Command extension is an external extension for the tests of the
// Extensions API. What it does depends on the name it runs under:
//
//   - extcount registers for INVOKE and SHUTDOWN, prints a line per event
//     and, at SHUTDOWN, how many INVOKEs it saw and the reason, then exits;
//   - extslow registers for INVOKE and sleeps 300 ms after each before it
//     asks for the next;
//   - extfail registers and reports an init error, then exits;
//   - extcrash registers and exits with status 3 without asking for an
//     event;
//   - extdie registers for INVOKE and exits with status 5 at its first.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	name := filepath.Base(os.Args[0])
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2020-01-01/extension"
	events := `["INVOKE"]`
	if name == "extcount" {
		events = `["INVOKE","SHUTDOWN"]`
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/register", strings.NewReader(`{"events":`+events+`}`))
	req.Header.Set("Lambda-Extension-Name", name)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(name, "register:", err)
		os.Exit(1)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("Lambda-Extension-Identifier")
	fmt.Printf("%s registered %d %s handler-env=%q\n", name, resp.StatusCode, body, os.Getenv("_HANDLER"))

	switch name {
	case "extfail":
		req, _ := http.NewRequest(http.MethodPost, base+"/init/error", strings.NewReader(`{"errorMessage":"no API key","errorType":"Extension.ConfigInvalid"}`))
		req.Header.Set("Lambda-Extension-Identifier", id)
		req.Header.Set("Lambda-Extension-Function-Error-Type", "Extension.ConfigInvalid")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			fmt.Println(name, "init/error:", resp.StatusCode)
			resp.Body.Close()
		}
		os.Exit(1)
	case "extcrash":
		os.Exit(3)
	}

	invokes := 0
	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/event/next", nil)
		req.Header.Set("Lambda-Extension-Identifier", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(name, "next:", err)
			os.Exit(1)
		}
		var ev struct {
			EventType      string `json:"eventType"`
			RequestID      string `json:"requestId"`
			ShutdownReason string `json:"shutdownReason"`
			DeadlineMs     int64  `json:"deadlineMs"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ev)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			fmt.Println(name, "next:", resp.StatusCode, err)
			os.Exit(1)
		}
		switch ev.EventType {
		case "INVOKE":
			invokes++
			fmt.Printf("%s invoke %d %s\n", name, invokes, ev.RequestID)
			switch name {
			case "extslow":
				time.Sleep(300 * time.Millisecond)
			case "extdie":
				os.Exit(5)
			}
		case "SHUTDOWN":
			left := time.Until(time.UnixMilli(ev.DeadlineMs))
			fmt.Printf("%s shutdown reason=%s invokes=%d budget-ok=%v\n", name, ev.ShutdownReason, invokes, left > time.Second && left <= 2*time.Second)
			os.Exit(0)
		}
	}
}
