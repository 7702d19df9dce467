package sigv4

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Sign signs r for service in region with creds at time now, as the AWS
// SDKs do: it sets X-Amz-Date, X-Amz-Security-Token when creds has a
// session token, and Authorization. body is the full request body; its
// hash is signed, unless r already carries X-Amz-Content-Sha256 (such as
// UNSIGNED-PAYLOAD), which is then signed as it is.
//
// The signed headers are host, Content-Type, Content-MD5 and every X-Amz-*
// header. The path is signed as r will send it (r.URL.EscapedPath()),
// encoded once more.
func Sign(r *http.Request, body []byte, creds Credentials, region, service string, now time.Time) error {
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return errors.New("sign request: no access key")
	}
	if region == "" || service == "" {
		return errors.New("sign request: no region or service")
	}
	amzDate := now.UTC().Format(timeFormat)
	r.Header.Del("Authorization")
	r.Header.Set("X-Amz-Date", amzDate)
	if creds.SessionToken != "" {
		r.Header.Set("X-Amz-Security-Token", creds.SessionToken)
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		payload = hashHex(body)
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}

	names := []string{"host"}
	for k := range r.Header {
		l := strings.ToLower(k)
		if l == "content-type" || l == "content-md5" || strings.HasPrefix(l, "x-amz-") {
			names = append(names, l)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)

	c := canonicalRequest{
		method:        r.Method,
		uri:           canonicalURI(r.URL.EscapedPath()),
		query:         canonicalQuery(r.URL.RawQuery, ""),
		headers:       canonicalHeaders(r, host, names),
		signedHeaders: strings.Join(names, ";"),
		payloadHash:   payload,
	}
	date := amzDate[:8]
	scope := date + "/" + region + "/" + service + "/" + terminator
	sig := signature(signingKey(creds.SecretAccessKey, date, region, service), stringToSign(amzDate, scope, c))
	r.Header.Set("Authorization", Algorithm+" Credential="+creds.AccessKeyID+"/"+scope+
		", SignedHeaders="+c.signedHeaders+", Signature="+sig)
	return nil
}
