// Package client is a small typed client of ember's Lambda API, for the
// ember CLI and for tests: it speaks the AWS Lambda REST-JSON wire (the
// 2015-03-31 paths, methods, statuses and shapes) and ember's own log
// endpoint, and signs its requests with SigV4 when it has credentials.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/emberfn/ember/internal/sigv4"
)

// service is the SigV4 signing name of the Lambda API.
const service = "lambda"

// Options configure a Client.
type Options struct {
	Endpoint    string             // e.g. "http://127.0.0.1:3001"
	Region      string             // the signing region; default "us-east-1"
	Credentials *sigv4.Credentials // nil: requests go unsigned
	HTTPClient  *http.Client       // nil: http.DefaultClient
}

// Client calls ember's Lambda API. It is safe for concurrent use.
type Client struct {
	endpoint string
	region   string
	creds    *sigv4.Credentials
	hc       *http.Client
}

// New returns a client of the API at o.Endpoint.
func New(o Options) *Client {
	c := &Client{
		endpoint: strings.TrimRight(o.Endpoint, "/"),
		region:   o.Region,
		hc:       o.HTTPClient,
	}
	if c.region == "" {
		c.region = "us-east-1"
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	if o.Credentials != nil {
		creds := *o.Credentials
		c.creds = &creds
	}
	return c
}

// APIError is an error response of the API, in AWS's terms: the HTTP
// status, the error code of the x-amzn-ErrorType header (without the
// ":http://internal.amazon.com/…" that AWS may append), the message of the
// body's "message" or "Message", its "Reason", and the request id.
type APIError struct {
	Status    int
	Code      string
	Message   string
	Reason    string
	RequestID string
}

func (e *APIError) Error() string {
	code := e.Code
	if code == "" {
		code = fmt.Sprintf("HTTP %d", e.Status)
	}
	msg := code
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	if e.RequestID != "" {
		msg += " [request " + e.RequestID + "]"
	}
	return msg
}

// request is one call of the API.
type request struct {
	method string
	path   string      // escaped, as built with functionPath
	query  [][2]string // name and value, unescaped
	header http.Header
	body   []byte
	json   bool // body is JSON
}

// functionPath is the path of a function resource: prefix, the escaped
// name (an ARN's ':' becomes %3A, as the AWS SDKs send it) and suffix.
func functionPath(prefix, name, suffix string) string {
	return prefix + "/" + escape(name) + suffix
}

// escape percent-encodes every byte of s but RFC 3986's unreserved
// characters, as the AWS SDKs escape path and query values.
func escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// newRequest builds and signs the HTTP request of r.
func (c *Client) newRequest(ctx context.Context, r request) (*http.Request, error) {
	target := c.endpoint + r.path
	if len(r.query) > 0 {
		q := make([]string, 0, len(r.query))
		for _, p := range r.query {
			q = append(q, escape(p[0])+"="+escape(p[1]))
		}
		sort.Strings(q)
		target += "?" + strings.Join(q, "&")
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, err
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.json {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.creds != nil {
		if err := sigv4.Sign(req, r.body, *c.creds, c.region, service, time.Now()); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// do sends r and reads the whole response. A status other than one of ok
// is an *APIError.
func (c *Client) do(ctx context.Context, r request, ok ...int) (*http.Response, []byte, error) {
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("read response: %w", err)
	}
	for _, s := range ok {
		if resp.StatusCode == s {
			return resp, body, nil
		}
	}
	return nil, nil, apiError(resp, body)
}

// doJSON sends r with in as its JSON body (none when nil) and decodes a
// response of status ok into out (when not nil).
func (c *Client) doJSON(ctx context.Context, r request, in, out any, ok ...int) error {
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		r.body, r.json = b, true
	}
	_, body, err := c.do(ctx, r, ok...)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

// apiError reads an AWS error response.
func apiError(resp *http.Response, body []byte) *APIError {
	e := &APIError{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Amzn-Requestid")}
	code := resp.Header.Get("X-Amzn-Errortype")
	var b struct {
		Type       string `json:"__type"`
		LowMessage string `json:"message"`
		Message    string `json:"Message"`
		Reason     string `json:"Reason"`
	}
	if json.Unmarshal(body, &b) == nil {
		e.Message, e.Reason = b.LowMessage, b.Reason
		if e.Message == "" {
			e.Message = b.Message
		}
		if code == "" {
			code = b.Type
			if i := strings.LastIndexByte(code, '#'); i >= 0 {
				code = code[i+1:]
			}
		}
	} else if text := strings.TrimSpace(string(body)); len(text) <= 512 {
		e.Message = text
	}
	e.Code, _, _ = strings.Cut(code, ":")
	return e
}
