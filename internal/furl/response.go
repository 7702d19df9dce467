package furl

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// response is the structured answer a function gives a function URL.
type response struct {
	StatusCode      *json.Number               `json:"statusCode"`
	Headers         map[string]json.RawMessage `json:"headers"`
	Cookies         []string                   `json:"cookies"`
	Body            *string                    `json:"body"`
	IsBase64Encoded bool                       `json:"isBase64Encoded"`
}

// WriteResponse maps a function's buffered answer to the HTTP response,
// as Lambda does: a JSON object with a statusCode is a response (status,
// headers, cookies as Set-Cookie headers, a body in base64 when
// isBase64Encoded says so); any other JSON value is the body of a 200
// with content-type application/json. An answer that is not JSON, or an
// object whose members have the wrong types, is answered with 502; the
// error returned says why.
func WriteResponse(w http.ResponseWriter, payload []byte) error {
	trimmed := bytes.TrimSpace(payload)
	if !json.Valid(trimmed) {
		BadGateway.Write(w)
		return errors.New("the function's response is not JSON")
	}
	var probe map[string]json.RawMessage
	if trimmed[0] != '{' || json.Unmarshal(trimmed, &probe) != nil || probe["statusCode"] == nil {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(payload)))
		w.WriteHeader(http.StatusOK)
		w.Write(payload)
		return nil
	}
	var resp response
	d := json.NewDecoder(bytes.NewReader(trimmed))
	d.UseNumber()
	if err := d.Decode(&resp); err != nil {
		BadGateway.Write(w)
		return fmt.Errorf("the function's response: %w", err)
	}
	status, err := statusCode(resp.StatusCode)
	if err != nil {
		BadGateway.Write(w)
		return err
	}
	var body []byte
	if resp.Body != nil {
		body = []byte(*resp.Body)
		if resp.IsBase64Encoded {
			if body, err = base64.StdEncoding.DecodeString(*resp.Body); err != nil {
				BadGateway.Write(w)
				return fmt.Errorf("the function's response body: %w", err)
			}
		}
	}
	if err := setHeaders(w.Header(), resp.Headers, resp.Cookies); err != nil {
		BadGateway.Write(w)
		return err
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
	return nil
}

// statusCode reads a response's statusCode: an integer from 100 to 599.
func statusCode(n *json.Number) (int, error) {
	if n == nil {
		return http.StatusOK, nil
	}
	code, err := strconv.Atoi(n.String())
	if err != nil || code < 100 || code > 599 {
		return 0, fmt.Errorf("the function's response has status code %s", n)
	}
	return code, nil
}

// setHeaders puts a response's headers and cookies on h. A header's value
// is a string, or a number or boolean written as its JSON text; the
// content type is application/json unless the function names one.
func setHeaders(h http.Header, headers map[string]json.RawMessage, cookies []string) error {
	h.Set("Content-Type", "application/json")
	for name, raw := range headers {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			var v any
			if json.Unmarshal(raw, &v) != nil {
				return fmt.Errorf("the function's response header %s: %s", name, raw)
			}
			switch v.(type) {
			case float64, bool, json.Number:
				s = string(raw)
			default:
				return fmt.Errorf("the function's response header %s is not a string: %s", name, raw)
			}
		}
		h.Set(name, s)
	}
	for _, c := range cookies {
		h.Add("Set-Cookie", c)
	}
	return nil
}

// Streamed responses.
const (
	// maxPrelude bounds the HTTP prelude of a streamed response.
	maxPrelude = 1 << 20
	// streamChunk is the size of the reads relayed to the client.
	streamChunk = 32 * 1024
)

// separator ends a streamed response's prelude.
var separator = [8]byte{}

// prelude is the JSON head of a streamed response.
type prelude struct {
	StatusCode *json.Number               `json:"statusCode"`
	Headers    map[string]json.RawMessage `json:"headers"`
	Cookies    []string                   `json:"cookies"`
}

// WriteStream relays a function's streamed response of the given content
// type as it arrives, flushing each part. A stream that begins with the
// HTTP prelude (a JSON object of statusCode, headers and cookies followed
// by 8 NUL bytes) has its status and headers from it and the rest as the
// body; any other stream is the body of a 200. A prelude that does not
// decode is answered with 502. The error returned is a failed read of the
// stream or a malformed prelude; a client that went away is not an error.
func WriteStream(w http.ResponseWriter, contentType string, s io.Reader) error {
	head, rest, found, err := readPrelude(contentType, s)
	if err != nil && !errors.Is(err, io.EOF) && !found && len(head) == 0 {
		BadGateway.Write(w)
		return fmt.Errorf("read the function's stream: %w", err)
	}
	h := w.Header()
	status := http.StatusOK
	var body []byte
	if found {
		var p prelude
		d := json.NewDecoder(bytes.NewReader(head))
		d.UseNumber()
		derr := d.Decode(&p)
		if derr != nil {
			BadGateway.Write(w)
			return fmt.Errorf("the function's response prelude: %w", derr)
		}
		if status, derr = statusCode(p.StatusCode); derr != nil {
			BadGateway.Write(w)
			return derr
		}
		if derr := setHeaders(h, p.Headers, p.Cookies); derr != nil {
			BadGateway.Write(w)
			return derr
		}
		if !hasHeader(p.Headers, "content-type") {
			h.Set("Content-Type", "application/octet-stream")
		}
		body = rest
	} else {
		ct := contentType
		if ct == "" || ct == StreamContentType {
			ct = "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		body = head
	}
	w.WriteHeader(status)
	rc := http.NewResponseController(w)
	if len(body) > 0 {
		if _, werr := w.Write(body); werr != nil {
			return nil
		}
	}
	rc.Flush()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("read the function's stream: %w", err)
	}
	buf := make([]byte, streamChunk)
	for {
		n, rerr := s.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil
			}
			rc.Flush()
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("read the function's stream: %w", rerr)
		}
	}
}

func hasHeader(headers map[string]json.RawMessage, name string) bool {
	for k := range headers {
		if http.CanonicalHeaderKey(k) == http.CanonicalHeaderKey(name) {
			return true
		}
	}
	return false
}

// readPrelude reads the start of a stream. When the stream may carry a
// prelude (its content type says so, or it begins with '{') it reads
// until the separator, maxPrelude bytes, or the stream's end; found says
// whether the separator came, and then head is the prelude and rest what
// followed it. Otherwise head is what was read, to be relayed as body.
// err is the read's error (io.EOF at the stream's end).
func readPrelude(contentType string, s io.Reader) (head, rest []byte, found bool, err error) {
	var buf []byte
	chunk := make([]byte, streamChunk)
	for {
		n, rerr := s.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if len(buf) > 0 && contentType != StreamContentType && buf[0] != '{' {
			return buf, nil, false, rerr
		}
		if i := bytes.Index(buf, separator[:]); i >= 0 {
			return buf[:i], buf[i+len(separator):], true, rerr
		}
		if rerr != nil || len(buf) >= maxPrelude {
			return buf, nil, false, rerr
		}
	}
}
