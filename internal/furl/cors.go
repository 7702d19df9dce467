package furl

import (
	"net/http"
	"strconv"
	"strings"
)

// IsPreflight reports whether r is a CORS preflight request: an OPTIONS
// with an Origin and an Access-Control-Request-Method. A URL with a Cors
// configuration answers it itself, without invoking its function.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// WritePreflight answers a preflight request with 200 and, when its
// origin, method and headers are allowed, the CORS headers that let the
// browser send the real request: allowed origin, methods, headers,
// credentials and max age. A request that is not allowed gets the 200
// alone, which the browser takes as a refusal.
func (c *Cors) WritePreflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	requested := splitList(r.Header.Get("Access-Control-Request-Headers"))
	if allowed := c.allowOrigin(origin); allowed != "" && c.methodAllowed(method) && c.headersAllowed(requested) {
		h.Set("Access-Control-Allow-Origin", allowed)
		if contains(c.AllowMethods, "*") {
			h.Set("Access-Control-Allow-Methods", method)
		} else {
			h.Set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ","))
		}
		switch {
		case contains(c.AllowHeaders, "*") && len(requested) > 0:
			h.Set("Access-Control-Allow-Headers", strings.Join(requested, ","))
		case len(c.AllowHeaders) > 0 && !contains(c.AllowHeaders, "*"):
			h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ","))
		}
		if c.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if c.MaxAge > 0 {
			h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
		}
		if allowed != "*" {
			h.Add("Vary", "Origin")
		}
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// Apply sets the CORS headers of a response to r on h, replacing those
// the function set: the configuration takes precedence, as in Lambda. A
// request without an Origin, or from an origin not allowed, gets none.
func (c *Cors) Apply(h http.Header, r *http.Request) {
	allowed := c.allowOrigin(r.Header.Get("Origin"))
	if allowed == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", allowed)
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(c.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ","))
	}
	if allowed != "*" {
		h.Add("Vary", "Origin")
	}
}

// allowOrigin returns the Access-Control-Allow-Origin for a request from
// origin: "*" when every origin is allowed and credentials are not, the
// origin itself when it is allowed, or "" when it is not.
func (c *Cors) allowOrigin(origin string) string {
	if origin == "" {
		return ""
	}
	for _, o := range c.AllowOrigins {
		switch {
		case o == "*":
			if c.AllowCredentials {
				return origin
			}
			return "*"
		case strings.EqualFold(o, origin), originMatches(o, origin):
			return origin
		}
	}
	return ""
}

// originMatches matches an origin against a pattern with one "*" in its
// host, such as https://*.example.com.
func originMatches(pattern, origin string) bool {
	before, after, ok := strings.Cut(strings.ToLower(pattern), "*")
	origin = strings.ToLower(origin)
	return ok && len(origin) > len(before)+len(after) && strings.HasPrefix(origin, before) && strings.HasSuffix(origin, after)
}

func (c *Cors) methodAllowed(method string) bool {
	return contains(c.AllowMethods, "*") || contains(c.AllowMethods, method)
}

func (c *Cors) headersAllowed(requested []string) bool {
	if contains(c.AllowHeaders, "*") {
		return true
	}
	for _, name := range requested {
		if !contains(c.AllowHeaders, name) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// splitList splits a comma-separated header value.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
