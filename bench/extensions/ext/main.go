// Command ext is the external extension of bench/extensions: it registers
// for INVOKE events alone and asks for the next event as soon as it has
// one, and prints nothing, so that what the benchmark measures is what
// the platform adds for an extension, not what the extension does. It
// registers under the name of its file, as Lambda has extensions do, and
// writes to stderr only when the Extensions API fails it, then exits.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(os.Getenv("AWS_LAMBDA_RUNTIME_API"), filepath.Base(os.Args[0])); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run registers with the Extensions API at api as name and then loops on
// event/next until the API fails it.
func run(api, name string) error {
	base := "http://" + api + "/2020-01-01/extension"
	// The API never closes a connection between events: one kept alive
	// serves every event/next.
	hc := &http.Client{}
	req, err := http.NewRequest(http.MethodPost, base+"/register", strings.NewReader(`{"events":["INVOKE"]}`))
	if err != nil {
		return err
	}
	req.Header.Set("Lambda-Extension-Name", name)
	id, err := send(hc, req)
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	for {
		req, err := http.NewRequest(http.MethodGet, base+"/event/next", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Lambda-Extension-Identifier", id)
		if _, err := send(hc, req); err != nil {
			return fmt.Errorf("event/next: %w", err)
		}
	}
}

// send sends req, reads its answer to the end, so that the connection
// serves the next request, and returns the extension's identifier that
// the answer's header holds.
func send(hc *http.Client, req *http.Request) (string, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return "", fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return resp.Header.Get("Lambda-Extension-Identifier"), nil
}
