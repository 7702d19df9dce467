package sigv4

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// signed is what a request says about its signature, from the
// Authorization header or from a presigned query string.
type signed struct {
	algorithm     string
	credential    string // keyid/date/region/service/aws4_request
	signedHeaders string
	signature     string
	amzDate       string // the signing time as the string to sign has it
	when          time.Time
	token         string        // X-Amz-Security-Token
	payloadHash   string        // X-Amz-Content-Sha256, if sent
	expires       time.Duration // X-Amz-Expires of a presigned request; 0 without
	presigned     bool
}

// Verify checks r's SigV4 signature and returns the credentials that made
// it. body is the full request body, already read by the caller: the
// payload hash is computed from it, or X-Amz-Content-Sha256 is checked
// against it when the request carries one other than UNSIGNED-PAYLOAD.
// service is the signing name ("lambda"); now is the server's clock.
//
// The signature may be in the Authorization header or in a presigned query
// string (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders,
// X-Amz-Signature and optionally X-Amz-Expires). Each failure is an *Error
// with the code, status and message AWS Lambda gives, found in AWS's order:
// a missing signature, a malformed one, its time, its host, its algorithm,
// its credential scope, the access key, the signature itself, and last the
// session token.
//
// The canonical URI is the path as sent, encoded once more (as for every
// service but S3); a signature over the path with its dot and empty
// segments removed is accepted too, since botocore signs that form, as is
// one over a Host without its default port.
func Verify(r *http.Request, body []byte, keys Keys, service string, now time.Time) (Credentials, error) {
	s, err := readSignature(r)
	if err != nil {
		return Credentials{}, err
	}
	now = now.UTC().Truncate(time.Second)
	if err := checkTime(s, now); err != nil {
		return Credentials{}, err
	}
	names := strings.Split(s.signedHeaders, ";")
	if !containsFold(names, "host") {
		return Credentials{}, errHostUnsigned()
	}
	if s.algorithm != Algorithm {
		return Credentials{}, errAlgorithm(s.algorithm)
	}
	scope := strings.Split(strings.TrimRight(s.credential, "/"), "/")
	if len(scope) != 5 {
		return Credentials{}, errCredentialForm(s.credential)
	}
	keyID, date, region, svc, term := scope[0], scope[1], scope[2], scope[3], scope[4]
	var problems []string
	if region == "" {
		problems = append(problems, fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", region))
	}
	if svc != service {
		problems = append(problems, fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", service))
	}
	if term != terminator {
		problems = append(problems, fmt.Sprintf("Credential should be scoped with a valid terminator: '%s', not '%s'. ", terminator, term))
	}
	if want := s.amzDate[:8]; date != want {
		problems = append(problems, fmt.Sprintf(
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			date, want, s.amzDate))
	}
	if len(problems) > 0 {
		return Credentials{}, errScope(problems)
	}
	if keys == nil {
		return Credentials{}, errUnknownKey()
	}
	creds, ok := keys.Lookup(keyID)
	if !ok {
		return Credentials{}, errUnknownKey()
	}

	payload := hashHex(body)
	if s.payloadHash != "" && s.payloadHash != UnsignedPayload {
		if !strings.EqualFold(s.payloadHash, payload) {
			return Credentials{}, errMismatch()
		}
	}
	if s.payloadHash != "" {
		payload = s.payloadHash
	}
	skip := ""
	if s.presigned {
		skip = "X-Amz-Signature"
	}
	for i, n := range names {
		names[i] = strings.ToLower(n)
	}
	c := canonicalRequest{
		method:        r.Method,
		query:         canonicalQuery(r.URL.RawQuery, skip),
		signedHeaders: s.signedHeaders,
		payloadHash:   payload,
	}
	key := signingKey(creds.SecretAccessKey, date, region, svc)
	credScope := strings.Join(scope[1:], "/")
	path := wirePath(r)
	match := 0
	for _, uri := range variants(canonicalURI(path), canonicalURI(normalizePath(path))) {
		for _, host := range variants(r.Host, withoutDefaultPort(r.Host)) {
			c.uri = uri
			c.headers = canonicalHeaders(r, host, names)
			want := signature(key, stringToSign(s.amzDate, credScope, c))
			match |= subtle.ConstantTimeCompare([]byte(want), []byte(s.signature))
		}
	}
	if match != 1 {
		return Credentials{}, errMismatch()
	}
	if subtle.ConstantTimeCompare([]byte(s.token), []byte(creds.SessionToken)) != 1 {
		return Credentials{}, errUnknownKey()
	}
	return creds, nil
}

// readSignature finds the signature of r in its Authorization header or in
// its query string.
func readSignature(r *http.Request) (signed, *Error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	query, _ := url.ParseQuery(r.URL.RawQuery)
	inQuery := query.Has("X-Amz-Algorithm") || query.Has("X-Amz-Credential") || query.Has("X-Amz-Signature")
	headerForm := strings.HasPrefix(h, "AWS4-")
	switch {
	case headerForm && inQuery:
		return signed{}, refuse(CodeIncompleteSignature, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "+
			"Signature query string parameter or the Authorization header should be specified")
	case inQuery:
		return readPresigned(r, query)
	case !headerForm:
		return signed{}, errMissingToken()
	}

	amzDate := r.Header.Get("X-Amz-Date")
	httpDate := r.Header.Get("Date")
	a, err := parseAuthorization(h, amzDate != "" || httpDate != "")
	if err != nil {
		return signed{}, err
	}
	s := signed{
		algorithm:     a.algorithm,
		credential:    a.credential,
		signedHeaders: a.signedHeaders,
		signature:     a.signature,
		token:         r.Header.Get("X-Amz-Security-Token"),
		payloadHash:   r.Header.Get("X-Amz-Content-Sha256"),
	}
	if amzDate != "" {
		t, err := time.Parse(timeFormat, amzDate)
		if err != nil {
			return signed{}, errBadDate(amzDate)
		}
		s.amzDate, s.when = amzDate, t
		return s, nil
	}
	t, perr := http.ParseTime(httpDate)
	if perr != nil {
		return signed{}, errBadDate(httpDate)
	}
	s.when = t.UTC()
	s.amzDate = s.when.Format(timeFormat)
	return s, nil
}

// readPresigned reads the signature of a presigned request from its query.
func readPresigned(r *http.Request, q url.Values) (signed, *Error) {
	for _, p := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders"} {
		if !q.Has(p) {
			return signed{}, refuse(CodeIncompleteSignature, "Query-string authentication version 4 requires the X-Amz-Algorithm, "+
				"X-Amz-Credential, X-Amz-Signature, X-Amz-Date and X-Amz-SignedHeaders parameters.")
		}
	}
	s := signed{
		algorithm:     q.Get("X-Amz-Algorithm"),
		credential:    q.Get("X-Amz-Credential"),
		signedHeaders: q.Get("X-Amz-SignedHeaders"),
		signature:     q.Get("X-Amz-Signature"),
		amzDate:       q.Get("X-Amz-Date"),
		token:         q.Get("X-Amz-Security-Token"),
		payloadHash:   q.Get("X-Amz-Content-Sha256"),
		presigned:     true,
	}
	if s.token == "" {
		s.token = r.Header.Get("X-Amz-Security-Token")
	}
	if s.payloadHash == "" {
		s.payloadHash = r.Header.Get("X-Amz-Content-Sha256")
	}
	t, err := time.Parse(timeFormat, s.amzDate)
	if err != nil {
		return signed{}, errBadDate(s.amzDate)
	}
	s.when = t
	if q.Has("X-Amz-Expires") {
		n, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
		switch {
		case err != nil:
			return signed{}, refuse(CodeIncompleteSignature, "X-Amz-Expires should be a number")
		case n <= 0:
			return signed{}, refuse(CodeIncompleteSignature, "X-Amz-Expires must be non-negative")
		case time.Duration(n) > maxExpires/time.Second:
			return signed{}, refuse(CodeIncompleteSignature, "X-Amz-Expires must be less than a week (in seconds); "+
				"that is, the given X-Amz-Expires must be less than 604800 seconds")
		}
		s.expires = time.Duration(n) * time.Second
	}
	return s, nil
}

// checkTime refuses a signing time more than MaxSkew after now, or before
// now by more than MaxSkew (a presigned request: by more than its expiry).
func checkTime(s signed, now time.Time) *Error {
	if s.when.After(now.Add(MaxSkew)) {
		return errNotYetCurrent(s.when, now)
	}
	window := MaxSkew
	if s.expires > 0 {
		window = s.expires
	}
	if s.when.Before(now.Add(-window)) {
		return errExpired(s.when, now, window)
	}
	return nil
}

// authorization is a parsed Authorization header.
type authorization struct {
	algorithm     string
	credential    string
	signedHeaders string
	signature     string
}

// parseAuthorization parses an Authorization header of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=…
//
// Parameters are separated by commas and spaces. hasDate tells whether the
// request carries X-Amz-Date or Date, whose absence AWS reports together
// with the missing parameters.
func parseAuthorization(h string, hasDate bool) (authorization, *Error) {
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	a := authorization{algorithm: alg}
	var haveCred, haveHeaders, haveSig bool
	for _, tok := range strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		k, v, ok := strings.Cut(tok, "=")
		if !ok {
			return authorization{}, refuse(CodeIncompleteSignature,
				fmt.Sprintf("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", tok, h))
		}
		switch {
		case k == "Credential" && !haveCred:
			a.credential, haveCred = v, true
		case k == "SignedHeaders" && !haveHeaders:
			a.signedHeaders, haveHeaders = v, true
		case k == "Signature" && !haveSig:
			a.signature, haveSig = v, true
		}
	}
	var msg strings.Builder
	for _, p := range []struct {
		name string
		ok   bool
	}{{"Credential", haveCred}, {"Signature", haveSig}, {"SignedHeaders", haveHeaders}} {
		if !p.ok {
			fmt.Fprintf(&msg, "Authorization header requires '%s' parameter. ", p.name)
		}
	}
	if !hasDate {
		msg.WriteString("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
	}
	if msg.Len() > 0 {
		return authorization{}, refuse(CodeIncompleteSignature, msg.String()+"Authorization="+h)
	}
	return a, nil
}

// wirePath is r's path as the client sent it, before any decoding.
func wirePath(r *http.Request) string {
	if u := r.RequestURI; strings.HasPrefix(u, "/") {
		p, _, _ := strings.Cut(u, "?")
		return p
	}
	if r.URL.RawPath != "" {
		return r.URL.RawPath
	}
	return r.URL.EscapedPath()
}

// withoutDefaultPort drops ":80" or ":443" from a host, as SDKs do when
// they sign a URL with a default port.
func withoutDefaultPort(host string) string {
	if h, ok := strings.CutSuffix(host, ":80"); ok {
		return h
	}
	if h, ok := strings.CutSuffix(host, ":443"); ok {
		return h
	}
	return host
}

// variants is a and b, or a alone when they are equal.
func variants(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
