package harness

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// EchoServerArg, as the first argument, makes a benchmark's own binary
// the echo server.
const EchoServerArg = "serve-baseline-echo"

// Server is a child that serves HTTP on a loopback address.
type Server struct {
	Name string
	// Addr is the address it listens on, and URL what the benchmark
	// sends its requests to: "http://" and Addr, and, where the
	// benchmark says so, a path.
	Addr  string
	URL   string
	Child *Child
}

// Pid is the server's process id.
func (s Server) Pid() int { return s.Child.Pid() }

// StartBaseline runs a baseline server as a child process (the
// benchmark's own binary started with args), so that it has a process of
// its own as ember does, and returns it once it listens. The server
// writes its address as its first line on its stdout, as Serve does.
func StartBaseline(ctx context.Context, procs *Children, dir, name string, args ...string) (Server, error) {
	exe, err := os.Executable()
	if err != nil {
		return Server{}, fmt.Errorf("find the benchmark's binary: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return Server{}, err
	}
	defer r.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout = w
	long := "baseline " + name + " server"
	c, err := procs.Start(long, cmd, filepath.Join(dir, "baseline-"+name+".stderr"), StartOptions{DeathSignal: syscall.SIGKILL})
	w.Close()
	if err != nil {
		return Server{}, err
	}

	type result struct {
		addr string
		err  error
	}
	line := make(chan result, 1)
	go func() {
		s, err := bufio.NewReader(r).ReadString('\n')
		line <- result{strings.TrimSpace(s), err}
	}()
	select {
	case res := <-line:
		if res.err != nil {
			return Server{}, fmt.Errorf("%s gave no address: %w%s", long, res.err, c.StderrTail())
		}
		return Server{Name: name, Addr: res.addr, URL: "http://" + res.addr, Child: c}, nil
	case <-time.After(procs.ReadyTimeout):
		return Server{}, fmt.Errorf("%s gave no address within %v%s", long, procs.ReadyTimeout, c.StderrTail())
	case <-ctx.Done():
		return Server{}, ctx.Err()
	}
}

// ServeEcho is the echo server: a plain net/http server that answers a
// POST that matches pattern with its body and a 200, and nothing more (no
// JSON check, no function). It serves as Serve does.
func ServeEcho(stdout io.Writer, pattern string) error {
	mux := http.NewServeMux()
	mux.HandleFunc(pattern, echo)
	return Serve(stdout, mux)
}

// Serve serves h on a free loopback port. It writes the address to
// stdout once it listens and serves until SIGTERM or interrupt.
func Serve(stdout io.Writer, h http.Handler) error {
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

// echo answers a POST with its body.
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
