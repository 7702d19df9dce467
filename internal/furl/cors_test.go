package furl

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func preflight(origin, method, headers string) *http.Request {
	r := httptest.NewRequest("OPTIONS", "/", nil)
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		r.Header.Set("Access-Control-Request-Headers", headers)
	}
	return r
}

func TestPreflight(t *testing.T) {
	specific := &Cors{AllowOrigins: []string{"https://example.com", "https://*.example.org"}, AllowMethods: []string{"GET", "POST"},
		AllowHeaders: []string{"X-Custom", "Content-Type"}, AllowCredentials: true, MaxAge: 300}
	any := &Cors{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}}
	cases := []struct {
		name string
		cors *Cors
		r    *http.Request
		want map[string]string // "" means absent
	}{
		{"allowed", specific, preflight("https://example.com", "POST", "x-custom, content-type"), map[string]string{
			"Access-Control-Allow-Origin": "https://example.com", "Access-Control-Allow-Methods": "GET,POST",
			"Access-Control-Allow-Headers": "X-Custom,Content-Type", "Access-Control-Allow-Credentials": "true",
			"Access-Control-Max-Age": "300", "Vary": "Origin"}},
		{"wildcard subdomain", specific, preflight("https://app.example.org", "GET", ""), map[string]string{
			"Access-Control-Allow-Origin": "https://app.example.org"}},
		{"origin refused", specific, preflight("https://evil.test", "GET", ""), map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""}},
		{"method refused", specific, preflight("https://example.com", "DELETE", ""), map[string]string{
			"Access-Control-Allow-Origin": ""}},
		{"header refused", specific, preflight("https://example.com", "GET", "X-Other"), map[string]string{
			"Access-Control-Allow-Origin": ""}},
		{"any", any, preflight("https://x.test", "PATCH", "X-A,X-B"), map[string]string{
			"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "PATCH", "Access-Control-Allow-Headers": "X-A,X-B",
			"Access-Control-Allow-Credentials": "", "Access-Control-Max-Age": "", "Vary": ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !IsPreflight(c.r) {
				t.Fatal("IsPreflight is false")
			}
			w := httptest.NewRecorder()
			c.cors.WritePreflight(w, c.r)
			if w.Code != 200 || w.Body.Len() != 0 {
				t.Errorf("answered %d %q; want an empty 200", w.Code, w.Body)
			}
			for k, v := range c.want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q; want %q", k, got, v)
				}
			}
		})
	}
	if IsPreflight(httptest.NewRequest("OPTIONS", "/", nil)) {
		t.Error("an OPTIONS without Origin is a preflight")
	}
}

func TestApply(t *testing.T) {
	c := &Cors{AllowOrigins: []string{"https://example.com"}, ExposeHeaders: []string{"X-A", "X-B"}, AllowCredentials: true}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Origin", "https://example.com")
	h := http.Header{"Access-Control-Allow-Origin": {"https://function.test"}}
	c.Apply(h, r)
	if h.Get("Access-Control-Allow-Origin") != "https://example.com" || h.Get("Access-Control-Expose-Headers") != "X-A,X-B" ||
		h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("headers %v", h)
	}
	r.Header.Set("Origin", "https://other.test")
	h = http.Header{}
	c.Apply(h, r)
	if len(h) != 0 {
		t.Errorf("a refused origin got headers %v", h)
	}
}
