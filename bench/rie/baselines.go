package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// The first argument that makes the benchmark's own binary a baseline
// server: the echo server, or the proxy, which is followed by the echo
// server's address and the idle connections it keeps to it.
const (
	echoServerArg  = "serve-baseline-echo"
	proxyServerArg = "serve-baseline-proxy"
)

// serveBaseline runs the baseline server that args, the command line
// after the program name, ask for.
func serveBaseline(args []string, stdout io.Writer) error {
	switch {
	case len(args) == 1 && args[0] == echoServerArg:
		mux := http.NewServeMux()
		mux.HandleFunc("POST "+invokePath, echo)
		return serve(stdout, mux)
	case len(args) == 3 && args[0] == proxyServerArg:
		conns, err := strconv.Atoi(args[2])
		if err != nil {
			return fmt.Errorf("idle connections %q: %w", args[2], err)
		}
		return serve(stdout, newProxy(args[1], conns))
	}
	return fmt.Errorf("unexpected arguments %q", args)
}

// serve serves h on a free loopback port. It writes the address to stdout
// once it listens and serves until SIGTERM or interrupt.
func serve(stdout io.Writer, h http.Handler) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if _, err := fmt.Fprintln(stdout, l.Addr()); err != nil {
		l.Close()
		return fmt.Errorf("write address: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// echo is the first baseline: it answers a POST with its body, and nothing
// more (no JSON check, no function).
func echo(w http.ResponseWriter, r *http.Request) {
	size := int64(512)
	if r.ContentLength > 0 {
		size = r.ContentLength + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := buf.ReadFrom(r.Body); err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

// newProxy is the second baseline: a plain reverse proxy to the echo
// server at addr, over keep-alive connections of which it keeps conns
// idle. It is the cost of one more process and HTTP hop, with nothing of
// Lambda's.
func newProxy(addr string, conns int) *httputil.ReverseProxy {
	target := &url.URL{Scheme: "http", Host: addr}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}
