package invokewire

import (
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/emberfn/ember/internal/invocation"
)

// WriteAccepted answers an Event invocation that was accepted.
func WriteAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}

// WriteResult answers a RequestResponse invocation: the payload or the
// function's error with X-Amz-Function-Error, the executed version, and
// with wantLog the log tail from the report; a streamed response is
// relayed as it comes, within bw.
func WriteResult(w http.ResponseWriter, resp invocation.Response, reports <-chan invocation.Report, wantLog bool, version string, bw Bandwidth) {
	hdr := w.Header()
	hdr.Set("X-Amz-Executed-Version", version)
	if resp.Stream != nil {
		relay(w, resp, bw)
		return
	}
	if wantLog {
		if rep, ok := <-reports; ok {
			hdr.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString(rep.LogTail))
		}
	}
	if resp.FunctionError != "" {
		hdr.Set("X-Amz-Function-Error", resp.FunctionError)
	}
	ct := resp.ContentType
	if ct == "" {
		ct = invocation.ContentTypeJSON
	}
	hdr.Set("Content-Type", ct)
	hdr.Set("Content-Length", strconv.Itoa(len(resp.Payload)))
	w.WriteHeader(http.StatusOK)
	w.Write(resp.Payload)
}

// relay copies a streamed response to the caller as it comes, and an error
// the runtime reports mid-stream as HTTP trailers.
func relay(w http.ResponseWriter, resp invocation.Response, bw Bandwidth) {
	defer resp.Stream.Close()
	hdr := w.Header()
	hdr.Set("Content-Type", resp.ContentType)
	hdr.Set("Trailer", "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	out := bw.Writer(w)
	buf := make([]byte, 32*1024)
	for {
		n, err := resp.Stream.Read(buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				return
			}
			rc.Flush()
		}
		if err != nil {
			break
		}
	}
	if fe := resp.Stream.Err(); fe != nil {
		hdr.Set("Lambda-Runtime-Function-Error-Type", fe.Type)
		hdr.Set("Lambda-Runtime-Function-Error-Body", base64.StdEncoding.EncodeToString(fe.Body))
	}
}
