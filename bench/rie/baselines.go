package main

import (
	"fmt"
	"io"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

// proxyServerArg, as the first argument, makes the benchmark's own binary
// the proxy, followed by the echo server's address and the idle
// connections it keeps to it; harness.EchoServerArg makes it the echo
// server.
const proxyServerArg = "serve-baseline-proxy"

// serveBaseline runs the baseline server that args, the command line
// after the program name, ask for.
func serveBaseline(args []string, stdout io.Writer) error {
	switch {
	case len(args) == 1 && args[0] == harness.EchoServerArg:
		// The first baseline: it answers a POST with its body, and nothing
		// more (no JSON check, no function).
		return harness.ServeEcho(stdout, "POST "+invokePath)
	case len(args) == 3 && args[0] == proxyServerArg:
		conns, err := strconv.Atoi(args[2])
		if err != nil {
			return fmt.Errorf("idle connections %q: %w", args[2], err)
		}
		return harness.Serve(stdout, newProxy(args[1], conns))
	}
	return fmt.Errorf("unexpected arguments %q", args)
}

// newProxy is the second baseline: a plain reverse proxy to the echo
// server at addr, over keep-alive connections of which it keeps conns
// idle. It is the cost of one more process and HTTP hop, with nothing of
// Lambda's.
func newProxy(addr string, conns int) *httputil.ReverseProxy {
	target := &url.URL{Scheme: "http", Host: addr}
	return &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: harness.NewTransport(0, conns, time.Minute),
	}
}
