package furl

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata")

const (
	testURLID     = "abcdefghijklmnopqrstuvwxyz012345"
	testRegion    = "us-east-1"
	testAccount   = "123456789012"
	testRequestID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
)

var testTime = time.Date(2026, time.March, 12, 19, 3, 58, 390_000_000, time.UTC)

// eventCases are requests whose events are kept in testdata/event-<name>.json.
func eventCases() map[string]func() (*http.Request, []byte) {
	return map[string]func() (*http.Request, []byte){
		"get-cookies-query": func() (*http.Request, []byte) {
			r := httptest.NewRequest("GET", "http://"+testURLID+".lambda-url.us-east-1.localhost:9001/my/path?parameter1=value1&parameter1=value2&parameter2=a%20b", nil)
			r.Header.Set("Cookie", "cookie1=one; cookie2=two")
			r.Header.Add("X-Multi", "first")
			r.Header.Add("X-Multi", "second")
			r.Header.Set("User-Agent", "agent/1.0")
			r.RemoteAddr = "192.0.2.7:53211"
			return r, nil
		},
		"post-json": func() (*http.Request, []byte) {
			body := []byte(`{"key1":"value1"}`)
			r := httptest.NewRequest("POST", "http://"+testURLID+".lambda-url.us-east-1.localhost/", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json; charset=utf-8")
			r.Header.Set("User-Agent", "curl/8.0")
			r.RemoteAddr = "127.0.0.1:40000"
			return r, body
		},
		"post-binary": func() (*http.Request, []byte) {
			body := []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 0xff}
			r := httptest.NewRequest("PUT", "http://127.0.0.1:9001/upload/img.png", bytes.NewReader(body))
			r.Header.Set("Content-Type", "image/png")
			r.RemoteAddr = "127.0.0.1:40001"
			return r, body
		},
		"post-form": func() (*http.Request, []byte) {
			body := []byte("a=1&b=two")
			r := httptest.NewRequest("POST", "http://"+testURLID+".lambda-url.us-east-1.localhost/form", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.RemoteAddr = "127.0.0.1:40002"
			return r, body
		},
	}
}

// TestEventGolden builds the events of a few requests and compares them,
// member by member, with testdata's.
func TestEventGolden(t *testing.T) {
	for name, mk := range eventCases() {
		t.Run(name, func(t *testing.T) {
			r, body := mk()
			got, err := Event(r, body, testURLID, testRegion, testAccount, testTime, testRequestID)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "event-"+name+".json")
			if *update {
				var out bytes.Buffer
				json.Indent(&out, got, "", "  ")
				out.WriteByte('\n')
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			compareJSON(t, got, want)
		})
	}
}

// compareJSON compares two JSON objects member by member.
func compareJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w map[string]any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got %s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("golden: %v", err)
	}
	compareMembers(t, "", g, w)
}

func compareMembers(t *testing.T, prefix string, got, want map[string]any) {
	t.Helper()
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		gv, gok := got[k]
		wv, wok := want[k]
		gm, gIsMap := gv.(map[string]any)
		wm, wIsMap := wv.(map[string]any)
		switch {
		case !gok:
			t.Errorf("%s%s: missing; want %v", prefix, k, wv)
		case !wok:
			t.Errorf("%s%s: %v; want no such member", prefix, k, gv)
		case gIsMap && wIsMap:
			compareMembers(t, prefix+k+".", gm, wm)
		case !reflect.DeepEqual(gv, wv):
			t.Errorf("%s%s: %v; want %v", prefix, k, gv, wv)
		}
	}
}

func TestIsText(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/plain":                        true,
		"text/html; charset=utf-8":          true,
		"application/json":                  true,
		"Application/JSON; charset=UTF-8":   true,
		"application/vnd.api+json":          true,
		"application/atom+xml":              true,
		"application/xml":                   true,
		"application/javascript":            true,
		"application/yaml":                  true,
		"":                                  false,
		"application/octet-stream":          false,
		"image/png":                         false,
		"multipart/form-data; boundary=x":   false,
		"application/x-www-form-urlencoded": false,
	} {
		if got := isText(ct); got != want {
			t.Errorf("isText(%q) = %v; want %v", ct, got, want)
		}
	}
}

// TestEventCaller puts an AWS_IAM caller in requestContext.authorizer.
func TestEventCaller(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	b, err := buildEvent(r, nil, testURLID, testRegion, testAccount, testTime, testRequestID, &Caller{AccessKey: "AKID", AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		RequestContext struct {
			Authorizer map[string]map[string]any `json:"authorizer"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	iam := e.RequestContext.Authorizer["iam"]
	if iam["accessKey"] != "AKID" || iam["accountId"] != testAccount {
		t.Errorf("authorizer.iam = %v", iam)
	}
	if v, ok := iam["cognitoIdentity"]; !ok || v != nil {
		t.Errorf("authorizer.iam.cognitoIdentity = %v (present %v); want null", v, ok)
	}
}
