package sigv4

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The error codes of AWS Lambda's SigV4 verification, as its x-amzn-ErrorType
// header names them. Lambda answers each with HTTP 403 and the JSON body
// {"message": Message}.
const (
	// CodeMissingAuthenticationToken: the request carries no signature.
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	// CodeIncompleteSignature: the signature is malformed or lacks a part.
	CodeIncompleteSignature = "IncompleteSignatureException"
	// CodeInvalidSignature: the signature, its scope or its time is wrong.
	CodeInvalidSignature = "InvalidSignatureException"
	// CodeUnrecognizedClient: the access key or session token is unknown.
	CodeUnrecognizedClient = "UnrecognizedClientException"
)

// Error is a verification failure in AWS's terms: the error code that goes
// in the x-amzn-ErrorType header, the HTTP status and the message that goes
// in the body as {"message": Message}.
type Error struct {
	Code    string
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func refuse(code, msg string) *Error {
	return &Error{Code: code, Status: http.StatusForbidden, Message: msg}
}

func errMissingToken() *Error {
	return refuse(CodeMissingAuthenticationToken, "Missing Authentication Token")
}

func errUnknownKey() *Error {
	return refuse(CodeUnrecognizedClient, "The security token included in the request is invalid.")
}

func errMismatch() *Error {
	return refuse(CodeInvalidSignature, "The request signature we calculated does not match the signature you provided. "+
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
}

func errBadDate(got string) *Error {
	return refuse(CodeIncompleteSignature,
		fmt.Sprintf("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", got))
}

func errHostUnsigned() *Error {
	return refuse(CodeInvalidSignature, "'Host' must be a 'SignedHeader' in the AWS Authorization.")
}

func errAlgorithm(alg string) *Error {
	return refuse(CodeIncompleteSignature,
		fmt.Sprintf("Unsupported AWS 'algorithm': '%s' (only %s for now). ", alg, Algorithm))
}

func errCredentialForm(cred string) *Error {
	return refuse(CodeIncompleteSignature,
		fmt.Sprintf("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", cred))
}

// errExpired and errNotYetCurrent word a signing time outside the window
// around now the way AWS does:
//
//	Signature expired: 20240101T000000Z is now earlier than 20240101T001000Z (20240101T001500Z - 5 min.)
//	Signature not yet current: 20240101T003000Z is still later than 20240101T002000Z (20240101T001500Z + 5 min.)
func errExpired(signed, now time.Time, window time.Duration) *Error {
	return refuse(CodeInvalidSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
		signed.Format(timeFormat), now.Add(-window).Format(timeFormat), now.Format(timeFormat), span(window)))
}

func errNotYetCurrent(signed, now time.Time) *Error {
	return refuse(CodeInvalidSignature, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s.)",
		signed.Format(timeFormat), now.Add(MaxSkew).Format(timeFormat), now.Format(timeFormat), span(MaxSkew)))
}

// span words a window as AWS does, "5 min", or in seconds when it is not a
// whole number of minutes (a presigned request's X-Amz-Expires).
func span(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return fmt.Sprintf("%d sec", d/time.Second)
}

// errScope words every way a credential scope fails to fit the request, in
// one message, as AWS does: each sentence but the last about the date ends
// in ". ", so that a message of one sentence keeps its trailing space.
func errScope(problems []string) *Error {
	return refuse(CodeInvalidSignature, strings.Join(problems, ""))
}
