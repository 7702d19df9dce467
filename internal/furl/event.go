package furl

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// timeFormat is requestContext.time's layout: "12/Mar/2020:19:03:58 +0000".
const timeFormat = "02/Jan/2006:15:04:05 -0700"

// event is payload format 2.0 as Lambda sends it to a function URL's
// function. Members Lambda leaves out when they are empty are omitempty.
type event struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	RequestContext        requestContext    `json:"requestContext"`
	Body                  *string           `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

type requestContext struct {
	AccountID    string      `json:"accountId"`
	APIID        string      `json:"apiId"`
	Authorizer   *authorizer `json:"authorizer,omitempty"`
	DomainName   string      `json:"domainName"`
	DomainPrefix string      `json:"domainPrefix"`
	HTTP         httpContext `json:"http"`
	RequestID    string      `json:"requestId"`
	RouteKey     string      `json:"routeKey"`
	Stage        string      `json:"stage"`
	Time         string      `json:"time"`
	TimeEpoch    int64       `json:"timeEpoch"`
}

type httpContext struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

type authorizer struct {
	IAM Caller `json:"iam"`
}

// Caller is the identity of a signed request to an AWS_IAM URL, as
// requestContext.authorizer.iam gives it.
type Caller struct {
	AccessKey       string  `json:"accessKey"`
	AccountID       string  `json:"accountId"`
	CallerID        string  `json:"callerId"`
	CognitoIdentity *string `json:"cognitoIdentity"`
	PrincipalOrgID  *string `json:"principalOrgId"`
	UserARN         string  `json:"userArn"`
	UserID          string  `json:"userId"`
}

// Event builds the payload format 2.0 event of a request to the function
// URL urlID, as Lambda does: headers in lower case with repeated values
// joined by commas and the cookies taken out of them into their own list,
// the query both raw and parsed, and the body as text or, for a binary
// content type, in base64. The request's URL path is the event's path.
func Event(r *http.Request, body []byte, urlID, region, accountID string, now time.Time, requestID string) ([]byte, error) {
	return buildEvent(r, body, urlID, region, accountID, now, requestID, nil)
}

func buildEvent(r *http.Request, body []byte, urlID, region, accountID string, now time.Time, requestID string, caller *Caller) ([]byte, error) {
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	e := event{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        path,
		RawQueryString: r.URL.RawQuery,
		Headers:        map[string]string{},
		RequestContext: requestContext{
			AccountID:    accountID,
			APIID:        urlID,
			DomainName:   domainName(r.Host, urlID, region),
			DomainPrefix: urlID,
			HTTP: httpContext{
				Method:    r.Method,
				Path:      path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP(r.RemoteAddr),
				UserAgent: r.UserAgent(),
			},
			RequestID: requestID,
			RouteKey:  "$default",
			Stage:     "$default",
			Time:      now.UTC().Format(timeFormat),
			TimeEpoch: now.UnixMilli(),
		},
	}
	if caller != nil {
		e.RequestContext.Authorizer = &authorizer{IAM: *caller}
	}
	for name, values := range r.Header {
		name = strings.ToLower(name)
		if name == "cookie" {
			for _, v := range values {
				e.Cookies = append(e.Cookies, splitCookies(v)...)
			}
			continue
		}
		e.Headers[name] = strings.Join(values, ",")
	}
	if r.Host != "" {
		e.Headers["host"] = r.Host
	}
	// The front end's own headers, as Lambda's adds them.
	e.Headers["x-forwarded-for"] = e.RequestContext.HTTP.SourceIP
	e.Headers["x-forwarded-proto"] = "http"
	e.Headers["x-forwarded-port"] = port(r.Host)
	if r.URL.RawQuery != "" {
		// A malformed pair is left out, as the rest still parses.
		q, _ := url.ParseQuery(r.URL.RawQuery)
		e.QueryStringParameters = make(map[string]string, len(q))
		for k, vs := range q {
			e.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	if len(body) > 0 {
		s := string(body)
		if !isText(r.Header.Get("Content-Type")) {
			s = base64.StdEncoding.EncodeToString(body)
			e.IsBase64Encoded = true
		}
		e.Body = &s
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// splitCookies splits a Cookie header into its "name=value" pairs.
func splitCookies(h string) []string {
	var out []string
	for _, c := range strings.Split(h, ";") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// domainName is the URL's host as the client named it, or its canonical
// name when the request came by the path fallback.
func domainName(host, urlID, region string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.HasPrefix(host, urlID+hostMarker) {
		return host
	}
	return urlID + hostMarker + region + ".localhost"
}

// port is the port a Host names, or HTTP's default.
func port(host string) string {
	if _, p, err := net.SplitHostPort(host); err == nil && p != "" {
		return p
	}
	return "80"
}

func sourceIP(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

// isText reports whether a body of this content type goes to the function
// as text: text/*, JSON, XML, JavaScript, YAML and the +json and +xml
// types. Anything else, a missing type included, is binary and goes in
// base64.
func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	}
	switch {
	case strings.HasPrefix(mt, "text/"), strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	switch mt {
	case "application/json", "application/javascript", "application/ecmascript", "application/x-javascript",
		"application/xml", "application/xhtml+xml", "application/yaml", "application/x-yaml", "application/graphql":
		return true
	}
	return false
}
