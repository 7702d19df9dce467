package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	// payloadSize is the size of an invocation's event, a JSON object.
	payloadSize = 100
	// seqBlock is how many sequential requests go through one path before
	// the next path's turn.
	seqBlock = 100
)

// The kinds of path, as the JSON names them.
const (
	kindEcho      = "echo"
	kindRie       = "rie"
	kindExtension = "rie_extension"
)

// labels are the names of the kinds of path in the tables.
var labels = map[string]string{
	kindEcho:      "echo (net/http)",
	kindRie:       "ember rie, no extension",
	kindExtension: "ember rie, one extension",
}

// bench runs the phase and collects its figures.
type bench struct {
	cfg      config
	progress func(format string, a ...any)
	res      *results
	procs    *harness.Children
	bins     binaries
	tmp      string
	hc       *http.Client
}

// path is a way to send a request, the server it goes to, and what came
// of the requests.
type path struct {
	harness.Path
	kind string
	// server is the child that answers; log, for an ember, its function
	// log, read in two stretches: up to the end of the warm-up (the
	// first invocation's cold start included), and the measured requests.
	server           harness.Server
	log              *reportLog
	warmup, measured logCounts
}

// payload is a compact JSON object of payloadSize bytes, which the echo
// function answers byte for byte.
func payload() []byte {
	const head, tail = `{"bench":"ember extensions","pad":"`, `"}`
	return []byte(head + strings.Repeat("x", payloadSize-len(head)-len(tail)) + tail)
}

// measure starts the echo server and the two embers, warms each up and
// sends cfg.n sequential requests through each, in blocks of seqBlock
// that take turns, then reads the embers' REPORT lines of both stretches
// and stops the servers.
func (b *bench) measure(ctx context.Context) error {
	body := payload()
	echo, err := harness.StartBaseline(ctx, b.procs, b.tmp, "echo", harness.EchoServerArg)
	if err != nil {
		return err
	}
	paths := []*path{{Path: harness.Path{Name: labels[kindEcho], Do: harness.PostEcho(b.hc, echo.URL+"/", body)}, kind: kindEcho, server: echo}}
	mode := "sandboxed"
	if b.cfg.noSandbox {
		mode = "--no-sandbox"
	}
	for _, kind := range []string{kindRie, kindExtension} {
		b.progress("starting %s (%s)", labels[kind], mode)
		p, err := b.startRie(ctx, kind, body)
		if err != nil {
			return err
		}
		paths = append(paths, p)
	}

	hp := make([]*harness.Path, len(paths))
	for i, p := range paths {
		hp[i] = &p.Path
	}
	b.progress("sequential: %d warm-up and %d measured requests through each of %d paths, in blocks of %d", b.cfg.warmup, b.cfg.n, len(paths), seqBlock)
	for i, t := range harness.Warmup(ctx, hp, b.cfg.warmup) {
		if d := t.Describe(); d != "" {
			b.res.Note("warm-up, %s: %s", paths[i].Name, d)
			b.res.warmupFailed = true
		}
	}
	// The first invocation and the warm-up each wrote a REPORT.
	for _, p := range paths[1:] {
		if p.warmup, err = b.awaitLog(ctx, p, 1+b.cfg.warmup); err != nil {
			return err
		}
	}
	harness.RunSequential(ctx, hp, b.cfg.n, seqBlock, nil)
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, p := range paths[1:] {
		if p.measured, err = b.awaitLog(ctx, p, p.Tally.Requests); err != nil {
			return err
		}
	}

	for i := len(paths) - 1; i >= 1; i-- {
		b.progress("stopping %s", paths[i].server.Name)
		harness.StopServe(paths[i].server, b.res.Note)
	}
	if err := echo.Child.Stop(); err != nil {
		b.res.Note("%v", err)
	}
	for _, p := range paths {
		b.res.addPath(p)
	}
	return nil
}

// startRie starts the ember rie of kind, with the extension in its --opt
// for kindExtension, and invokes it once: its cold start.
func (b *bench) startRie(ctx context.Context, kind string, body []byte) (*path, error) {
	var extra []string
	if kind == kindExtension {
		extra = append(extra, "--opt", b.bins.OptDir)
	}
	rie, err := harness.StartRie(ctx, b.procs, b.hc, harness.RieOptions{
		Ember: b.bins.Ember, FnDir: b.bins.FnDir, Bootstrap: b.bins.Bootstrap,
		Dir: b.tmp, Name: "ember-" + strings.ReplaceAll(kind, "_", "-"),
		NoSandbox: b.cfg.noSandbox,
		Env:       []string{fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", b.cfg.memory)},
		Extra:     extra,
		Retried:   func(msg string) { b.res.Note("%s", msg) },
	})
	if err != nil {
		return nil, err
	}
	p := &path{Path: harness.Path{Name: labels[kind], Do: harness.PostEcho(b.hc, rie.URL, body)}, kind: kind,
		server: rie.Server, log: &reportLog{tail: harness.LogTail{Path: rie.Stdout}}}
	if _, err := p.Do(ctx); err != nil {
		return nil, fmt.Errorf("first invocation through %s: %w", p.Name, err)
	}
	return p, nil
}

// awaitLog reads the REPORT lines of p until want have come since the
// last read, and notes when fewer came.
func (b *bench) awaitLog(ctx context.Context, p *path, want int) (logCounts, error) {
	c, err := p.log.await(ctx, want)
	if err != nil {
		return c, fmt.Errorf("%s: %w", p.Name, err)
	}
	if c.reports < want {
		b.res.Note("%s: %d REPORT lines within %v of the last request, want %d", p.Name, c.reports, logWait, want)
	}
	return c, nil
}
