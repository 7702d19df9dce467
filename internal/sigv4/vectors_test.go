package sigv4

import (
	"bufio"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The examples AWS publishes with known signatures: requests of the SigV4
// test suite (aws-sig-v4-test-suite, as kept in awslabs/aws-c-auth's
// tests/aws-signing-test-suite/v4) and the IAM ListUsers example of the
// AWS General Reference. Each request is read as a server reads it, from
// its text, so the path is the one on the wire.
var (
	suiteCreds = Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	suiteToken = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
	suiteTime  = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
)

type vector struct {
	name    string
	service string
	token   string
	request string // the signed request; "\n" line ends
	body    string
	sig     string
	url     string            // for Sign: the URL, when Sign signs the same headers
	headers map[string]string // for Sign: headers to set besides X-Amz-Date
}

func authz(service, headers, sig string) string {
	return "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/" + service +
		"/aws4_request, SignedHeaders=" + headers + ", Signature=" + sig + "\n"
}

var vectors = []vector{
	{
		name: "get-vanilla", service: "service",
		request: "GET / HTTP/1.1\nHost:example.amazonaws.com\n" +
			authz("service", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31") +
			"X-Amz-Date:20150830T123600Z\n\n",
		sig: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		url: "https://example.amazonaws.com/",
	},
	{
		name: "get-vanilla-query-order-key-case", service: "service",
		request: "GET /?Param2=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\n" +
			authz("service", "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500") +
			"X-Amz-Date:20150830T123600Z\n\n",
		sig: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
		url: "https://example.amazonaws.com/?Param2=value2&Param1=value1",
	},
	{
		name: "get-vanilla-query-unreserved", service: "service",
		request: "GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\n" +
			"Host:example.amazonaws.com\n" +
			authz("service", "host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197") +
			"X-Amz-Date:20150830T123600Z\n\n",
		sig: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
		url: "https://example.amazonaws.com/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
	},
	{
		name: "post-vanilla", service: "service",
		request: "POST / HTTP/1.1\nHost:example.amazonaws.com\n" +
			authz("service", "host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b") +
			"X-Amz-Date:20150830T123600Z\n\n",
		sig: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
		url: "https://example.amazonaws.com/",
	},
	{
		name: "get-vanilla-with-session-token", service: "service", token: suiteToken,
		request: "GET / HTTP/1.1\nHost:example.amazonaws.com\n" +
			authz("service", "host;x-amz-date;x-amz-security-token", "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8") +
			"X-Amz-Date:20150830T123600Z\nX-Amz-Security-Token:" + suiteToken + "\n\n",
		sig: "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
		url: "https://example.amazonaws.com/",
	},
	{
		name: "get-utf8", service: "service",
		request: "GET /ሴ HTTP/1.1\nHost:example.amazonaws.com\n" +
			authz("service", "host;x-amz-date", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85") +
			"X-Amz-Date:20150830T123600Z\n\n",
		sig: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
	},
	{
		name: "get-header-value-trim", service: "service",
		request: "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: \"a   b   c\"\n" +
			authz("service", "host;my-header1;my-header2;x-amz-date", "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736") +
			"X-Amz-Date:20150830T123600Z\n\n",
		sig: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
	},
	{
		name: "get-slashes-unnormalized", service: "service",
		request: "GET //example// HTTP/1.1\nHost:example.amazonaws.com\n" +
			authz("service", "host;x-amz-date", "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5") +
			"X-Amz-Date:20150830T123600Z\n\n",
		sig: "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5",
	},
	{
		name: "get-slashes-normalized", service: "service",
		request: "GET //example// HTTP/1.1\nHost:example.amazonaws.com\n" +
			authz("service", "host;x-amz-date", "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84") +
			"X-Amz-Date:20150830T123600Z\n\n",
		sig: "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
	},
	{
		name: "get-relative-relative-normalized", service: "service",
		request: "GET /example1/example2/../.. HTTP/1.1\nHost:example.amazonaws.com\n" +
			authz("service", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31") +
			"X-Amz-Date:20150830T123600Z\n\n",
		sig: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	},
	{
		name: "iam-list-users (General Reference)", service: "iam",
		request: "GET /?Action=ListUsers&Version=2010-05-08 HTTP/1.1\n" +
			"Content-Type: application/x-www-form-urlencoded; charset=utf-8\nHost: iam.amazonaws.com\n" +
			authz("iam", "content-type;host;x-amz-date", "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7") +
			"X-Amz-Date: 20150830T123600Z\n\n",
		sig:     "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
		url:     "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
		headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
	},
}

func readVector(t *testing.T, v vector) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(v.request)))
	if err != nil {
		t.Fatalf("%s: read request: %v", v.name, err)
	}
	return r
}

func TestVerifyAWSVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			c := suiteCreds
			c.SessionToken = v.token
			keys := KeyMap{c.AccessKeyID: c}
			r := readVector(t, v)
			if _, err := Verify(r, []byte(v.body), keys, v.service, suiteTime); err != nil {
				t.Fatalf("Verify: %v", err)
			}

			// One hex digit off is a wrong signature.
			bad := strings.Replace(v.request, v.sig, flipHex(v.sig), 1)
			r = readVector(t, vector{name: v.name, request: bad})
			_, err := Verify(r, []byte(v.body), keys, v.service, suiteTime)
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidSignature {
				t.Fatalf("Verify with a wrong signature: %v", err)
			}
		})
	}
}

func TestSignAWSVectors(t *testing.T) {
	for _, v := range vectors {
		if v.url == "" {
			continue // Sign does not sign that vector's headers, or its raw path
		}
		t.Run(v.name, func(t *testing.T) {
			method, _, _ := strings.Cut(v.request, " ")
			r, err := http.NewRequest(method, v.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, val := range v.headers {
				r.Header.Set(k, val)
			}
			c := suiteCreds
			c.SessionToken = v.token
			if err := Sign(r, []byte(v.body), c, "us-east-1", v.service, suiteTime); err != nil {
				t.Fatal(err)
			}
			_, want, _ := strings.Cut(v.request, "Authorization:")
			want, _, _ = strings.Cut(want, "\n")
			if got := r.Header.Get("Authorization"); got != want {
				t.Errorf("Authorization:\n got %s\nwant %s", got, want)
			}
			if got := r.Header.Get("X-Amz-Date"); got != "20150830T123600Z" {
				t.Errorf("X-Amz-Date %q", got)
			}
			if got := r.Header.Get("X-Amz-Security-Token"); got != v.token {
				t.Errorf("X-Amz-Security-Token %q, want %q", got, v.token)
			}
		})
	}
}

// The canonical request of the General Reference's worked example hashes
// to the value the example gives.
func TestCanonicalRequestOfTheWorkedExample(t *testing.T) {
	r, err := http.NewRequest("GET", "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r.Header.Set("X-Amz-Date", "20150830T123600Z")
	names := []string{"content-type", "host", "x-amz-date"}
	c := canonicalRequest{
		method:        "GET",
		uri:           canonicalURI(r.URL.EscapedPath()),
		query:         canonicalQuery(r.URL.RawQuery, ""),
		headers:       canonicalHeaders(r, r.URL.Host, names),
		signedHeaders: strings.Join(names, ";"),
		payloadHash:   hashHex(nil),
	}
	if got, want := hashHex([]byte(c.String())), "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"; got != want {
		t.Errorf("canonical request hash %s, want %s\n%s", got, want, c)
	}
}

func flipHex(s string) string {
	b := []byte(s)
	if b[0] == '0' {
		b[0] = '1'
	} else {
		b[0] = '0'
	}
	return string(b)
}
