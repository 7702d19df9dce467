// Package sigv4 owns AWS Signature Version 4 for ember: verifying the
// signature of a request to ember's Lambda API (in the Authorization header
// or in a presigned query string) with the errors AWS Lambda answers,
// signing ember's own requests, and reading access keys from an AWS shared
// credentials file.
package sigv4

import "time"

// Algorithm is the only signing algorithm SigV4 verification accepts.
const Algorithm = "AWS4-HMAC-SHA256"

// UnsignedPayload stands in X-Amz-Content-Sha256 for a payload left out of
// the signature.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// MaxSkew is how far a request's signing time may be from the server's
// clock. AWS Lambda refuses requests signed more than five minutes before
// or after its own time ("Signature expired: … (… - 5 min.)").
const MaxSkew = 5 * time.Minute

// maxExpires is the longest validity of a presigned request: seven days.
const maxExpires = 7 * 24 * time.Hour

const (
	timeFormat = "20060102T150405Z" // ISO 8601 basic format, as X-Amz-Date
	dateFormat = "20060102"         // the date of a credential scope
	terminator = "aws4_request"
)

// Credentials are an access key: its id, its secret and, for temporary
// credentials, the session token that goes with them.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// Keys looks up the secret for an access key id.
type Keys interface {
	Lookup(accessKeyID string) (Credentials, bool)
}

// KeyMap is a fixed set of keys by access key id.
type KeyMap map[string]Credentials

var _ Keys = KeyMap(nil)

// Lookup returns the credentials of the access key id.
func (m KeyMap) Lookup(accessKeyID string) (Credentials, bool) {
	c, ok := m[accessKeyID]
	return c, ok
}
