package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// canonicalRequest is the request as SigV4 signs it.
type canonicalRequest struct {
	method        string
	uri           string // the canonical URI: the path as sent, encoded once more
	query         string // the canonical query string
	headers       string // "name:value\n" for each signed header, in signedHeaders' order
	signedHeaders string // the signed header names, ';'-separated
	payloadHash   string // hex SHA-256 of the body, or UNSIGNED-PAYLOAD
}

func (c canonicalRequest) String() string {
	return c.method + "\n" + c.uri + "\n" + c.query + "\n" + c.headers + "\n" + c.signedHeaders + "\n" + c.payloadHash
}

// stringToSign is what the signing key signs: the algorithm, the signing
// time, the credential scope and the hash of the canonical request.
func stringToSign(amzDate, scope string, c canonicalRequest) string {
	return Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hashHex([]byte(c.String()))
}

// signingKey derives the key of one day, region and service from a secret.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, terminator)
}

// signature is the hex HMAC of a string to sign.
func signature(key []byte, sts string) string {
	return hex.EncodeToString(hmacSHA256(key, sts))
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// uriEncode percent-encodes every byte of s but RFC 3986's unreserved
// characters (and '/' when keepSlash), with upper-case hex digits, as SigV4
// wants.
func uriEncode(s string, keepSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (keepSlash && c == '/') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// canonicalURI is the canonical URI of a path as it was sent: every service
// but S3 encodes the already-encoded path once more, so that "%3A" in an ARN
// becomes "%253A".
func canonicalURI(wirePath string) string {
	if wirePath == "" {
		return "/"
	}
	return uriEncode(wirePath, true)
}

// normalizePath removes the dot segments and the empty segments of a path,
// keeping its leading and trailing slash, the way botocore and the AWS
// common runtime normalize a path before signing it. The AWS SDK for Go v2
// signs the path as it is; verification accepts either.
func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	var out []string
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	n := "/" + strings.Join(out, "/")
	if strings.HasSuffix(p, "/") && len(out) > 0 {
		n += "/"
	}
	return n
}

// canonicalQuery is the canonical form of a raw query string: each name
// and value decoded and encoded again the RFC 3986 way, sorted by name then
// value, joined by '&'. A parameter named skip (the signature itself, in a
// presigned request) is left out.
func canonicalQuery(rawQuery, skip string) string {
	if rawQuery == "" {
		return ""
	}
	type param struct{ name, value string }
	var params []param
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		name = queryUnescape(name)
		if skip != "" && name == skip {
			continue
		}
		params = append(params, param{uriEncode(name, false), uriEncode(queryUnescape(value), false)})
	}
	slices.SortFunc(params, func(a, b param) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.name)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// queryUnescape decodes a query component as the server reads it ('+' is a
// space); a component that does not decode is kept as it came.
func queryUnescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// headerValues are the values of one header of r as the signer saw them.
// Go keeps Host, and on the client side Content-Length and
// Transfer-Encoding, out of r.Header.
func headerValues(r *http.Request, lowerName, host string) []string {
	switch lowerName {
	case "host":
		return []string{host}
	case "content-length":
		if v := r.Header.Values("Content-Length"); len(v) > 0 {
			return v
		}
		if r.ContentLength > 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		return nil
	case "transfer-encoding":
		if v := r.Header.Values("Transfer-Encoding"); len(v) > 0 {
			return v
		}
		return r.TransferEncoding
	}
	if v := r.Header.Values(lowerName); len(v) > 0 {
		return v
	}
	// A name that is not a valid token is kept as it came, not canonicalized.
	for k, v := range r.Header {
		if strings.EqualFold(k, lowerName) {
			return v
		}
	}
	return nil
}

// canonicalHeaders writes "name:value\n" for each signed header name in
// order: values trimmed, runs of spaces made one, several values of a name
// joined by ','.
func canonicalHeaders(r *http.Request, host string, names []string) string {
	var b strings.Builder
	for _, name := range names {
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range headerValues(r, name, host) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimValue(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// trimValue trims a header value and makes each run of spaces inside it
// one space.
func trimValue(v string) string {
	v = strings.Trim(v, " \t")
	if !strings.Contains(v, "  ") {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	space := false
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
