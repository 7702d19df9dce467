package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	// smallSize is the size of the usual request, a JSON object.
	smallSize = 100
	// bigSize is the size of the big request, a JSON string just under
	// Lambda's limit for a synchronous invoke body, 6291456 bytes.
	bigSize = 6<<20 - 100
	// seqBlock is how many sequential requests go to one server before the
	// other server's turn.
	seqBlock = 100
	// concRound is the length of a turn of the concurrent clients.
	concRound = time.Second
	// concWarmup is how long the concurrent clients warm up each server,
	// long enough for ember to start an environment for every client.
	concWarmup = 500 * time.Millisecond
	// bigWarmup is the big requests sent to each server before measuring.
	bigWarmup = 2
	// execTimeout bounds one fork/exec of the bootstrap.
	execTimeout = 10 * time.Second
	// noSandboxWarning ends the warning that ember logs at start with
	// --no-sandbox.
	noSandboxWarning = "the sandbox was switched off (--no-sandbox)"
)

// bench runs the phases and collects their figures.
type bench struct {
	cfg      config
	client   *http.Client
	progress func(format string, a ...any)
	res      *results
	// echo and proxy are the baselines.
	echo, proxy harness.Server
	// limitsNoted names the embers whose REPORT lines already had a note
	// for saying the wrong thing about limits.
	limitsNoted map[string]bool
}

// smallPayload is a compact JSON object of smallSize bytes, which the echo
// function answers byte for byte.
func smallPayload() []byte {
	const head, tail = `{"bench":"ember rie","pad":"`, `"}`
	return []byte(head + strings.Repeat("x", smallSize-len(head)-len(tail)) + tail)
}

// bigPayload is a JSON string of bigSize bytes.
func bigPayload() []byte {
	b := bytes.Repeat([]byte("x"), bigSize)
	b[0], b[len(b)-1] = '"', '"'
	return b
}

// warmup sends n requests to each of bases and then to each of embers,
// notes any error, and consumes the REPORT lines the embers wrote for them.
func (b *bench) warmup(ctx context.Context, phase string, embers []*emberServer, bases []harness.Server, body []byte, n int) error {
	for _, s := range bases {
		var t tally
		harness.Sequential(ctx, echoRequest(b.client, s.URL, body), n, &t)
		b.noteWarmup(phase, s.Name, t)
	}
	for _, em := range embers {
		var et tally
		harness.Sequential(ctx, echoRequest(b.client, em.URL, body), n, &et)
		if err := b.afterWarmup(ctx, phase, em, et); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) noteWarmup(phase, name string, t tally) {
	if d := t.describe(); d != "" {
		b.res.note("%s warm-up, %s: %s", phase, name, d)
	}
}

func (b *bench) afterWarmup(ctx context.Context, phase string, em *emberServer, et tally) error {
	b.noteWarmup(phase, em.Name, et)
	_, err := em.log.await(ctx, et.ok+et.mismatched)
	return err
}

// check records what ember's answers and REPORT lines say about a
// measurement; bt and pt count the requests to the echo server and the
// proxy in the same turns.
func (b *bench) check(ctx context.Context, phase string, em *emberServer, et, bt, pt tally) (reportCounts, error) {
	counts, err := em.log.await(ctx, et.ok+et.mismatched)
	if err != nil {
		return counts, err
	}
	b.res.Checks = append(b.res.Checks, check{
		Phase:          phase,
		Ember:          em.variant(),
		Requests:       et.requests(),
		Errors:         et.errors(),
		Throttled:      et.statuses[http.StatusTooManyRequests],
		ErrorDetail:    et.describe(),
		BaselineErrors: bt.errors(),
		BaselineDetail: bt.describe(),
		ProxyErrors:    pt.errors(),
		ProxyDetail:    pt.describe(),
		Reports:        counts.reports,
		ColdStarts:     len(counts.inits),
		FailedReports:  counts.failed,
		Unlimited:      counts.unlimited,
	})
	b.checkLimits(phase, em, counts)
	return counts, nil
}

// checkLimits notes, once for each ember, REPORT lines that say the
// sandbox was not what the ember's flags ask for: a sandboxed ember's
// REPORTs say "Limits: not enforced" when it runs its runtimes as plain
// processes (not root, not Linux) or without cgroups, and then it neither
// limits nor freezes them.
func (b *bench) checkLimits(phase string, em *emberServer, c reportCounts) {
	if b.limitsNoted[em.Name] {
		return
	}
	switch {
	case em.sandboxed && c.unlimited > 0:
		b.res.note("%s, %s: %d of %d REPORT lines of the sandboxed ember say \"Limits: not enforced\": it ran its runtimes "+
			"without a sandbox or without cgroups (it runs them as plain processes unless it runs as root on Linux; its warnings say why), "+
			"so its figures are not a sandboxed ember's", phase, em.variant(), c.unlimited, c.reports)
	case !em.sandboxed && c.unlimited < c.reports:
		b.res.note("%s, %s: only %d of %d REPORT lines of the --no-sandbox ember say \"Limits: not enforced\"",
			phase, em.variant(), c.unlimited, c.reports)
	default:
		return
	}
	if b.limitsNoted == nil {
		b.limitsNoted = make(map[string]bool)
	}
	b.limitsNoted[em.Name] = true
}

// noteWarmStarts notes invocations of a warm phase that started a runtime.
func (b *bench) noteWarmStarts(phase string, em *emberServer, c reportCounts, answered int) {
	if n := len(c.inits); n > 0 {
		b.res.note("%s, %s: %d of %d warm invocations started a runtime: a request came before the previous one's environment was free again",
			phase, em.variant(), n, answered)
	}
}

// sequential measures warm invocations one after the other, in blocks
// that take turns between the sandboxed ember em, the --no-sandbox ember
// plain and the baselines.
func (b *bench) sequential(ctx context.Context, em, plain *emberServer) error {
	body := smallPayload()
	b.progress("sequential: %d warm-up and %d measured requests to each server", b.cfg.warmup, b.cfg.n)
	if err := b.warmup(ctx, "sequential", []*emberServer{em, plain}, []harness.Server{b.echo, b.proxy}, body, b.cfg.warmup); err != nil {
		return err
	}
	var (
		et, nt, bt, pt tally
		es, ns, bs, ps harness.Samples
	)
	cpu := b.startCPU(em, plain)
	// block returns what sends the next block of k requests to url, within
	// a turn of path.
	block := func(path int, url string, s *harness.Samples, t *tally) func(k int) {
		return func(k int) {
			cpu.turn(path, func() { s.Add(harness.Sequential(ctx, echoRequest(b.client, url, body), k, t)) })
		}
	}
	harness.InBlocks(ctx, b.cfg.n, seqBlock,
		block(pathEmber, em.URL, &es, &et),
		block(pathNoSandbox, plain.URL, &ns, &nt),
		block(pathEcho, b.echo.URL, &bs, &bt),
		block(pathProxy, b.proxy.URL, &ps, &pt))
	if err := ctx.Err(); err != nil {
		return err
	}
	b.stopCPU(cpu, "sequential", et, nt, bt, pt)
	for _, one := range []struct {
		em *emberServer
		t  tally
		bt tally
		pt tally
	}{{em, et, bt, pt}, {plain, nt, tally{}, tally{}}} {
		counts, err := b.check(ctx, "sequential", one.em, one.t, one.bt, one.pt)
		if err != nil {
			return err
		}
		b.noteWarmStarts("sequential", one.em, counts, one.t.ok)
	}
	label := fmt.Sprintf("warm invoke p%%d (%d B)", smallSize)
	b.res.add(latency("warm_p50", fmt.Sprintf(label, 50)+", "+em.variant(), es.Percentile(50), bs.Percentile(50), &target{Op: "<=", Ratio: 3}).
		withProxy(harness.Millis(ps.Percentile(50))))
	b.res.add(latency("warm_p99", fmt.Sprintf(label, 99)+", "+em.variant(), es.Percentile(99), bs.Percentile(99), nil).
		withProxy(harness.Millis(ps.Percentile(99))))
	b.res.add(rate("warm_rate", "warm invokes/s, sequential, "+em.variant(), es.Rate(), bs.Rate(), nil).withProxy(ps.Rate()))
	b.res.compare(compareLatency("warm_p50", fmt.Sprintf(label, 50), es.Percentile(50), ns.Percentile(50)).
		against(pathNameEcho, harness.Millis(bs.Percentile(50))).
		withTarget(bound{Of: boundDifference, Op: "<=", Value: 0.1, Why: "freeze/thaw"}))
	b.res.compare(compareLatency("warm_p99", fmt.Sprintf(label, 99), es.Percentile(99), ns.Percentile(99)).
		against(pathNameEcho, harness.Millis(bs.Percentile(99))))
	b.res.compare(compareRate("warm_rate", "warm invokes/s, sequential", es.Rate(), ns.Rate()).against(pathNameEcho, bs.Rate()))
	return nil
}

// concurrent measures the rate of concurrent clients, in turns between
// the sandboxed ember em, the --no-sandbox ember plain and the baselines.
func (b *bench) concurrent(ctx context.Context, em, plain *emberServer) error {
	body := smallPayload()
	b.progress("concurrent: %d clients for %v against each server", b.cfg.clients, b.cfg.duration)
	for _, s := range []harness.Server{b.echo, b.proxy} {
		var t tally
		harness.Concurrent(ctx, echoRequest(b.client, s.URL, body), b.cfg.clients, concWarmup, &t)
		b.noteWarmup("concurrent", s.Name, t)
	}
	for _, e := range []*emberServer{em, plain} {
		var wt tally
		harness.Concurrent(ctx, echoRequest(b.client, e.URL, body), b.cfg.clients, concWarmup, &wt)
		if err := b.afterWarmup(ctx, "concurrent", e, wt); err != nil {
			return err
		}
	}
	rounds := max(1, int(b.cfg.duration/concRound))
	turn := b.cfg.duration / time.Duration(rounds)
	var (
		et, nt, bt, pt tally
		es, ns, bs, ps harness.Samples
	)
	cpu := b.startCPU(em, plain)
	// clients returns a turn of path: the clients send to url for turn.
	clients := func(path int, url string, s *harness.Samples, t *tally) func() {
		return func() {
			cpu.turn(path, func() { s.Add(harness.Concurrent(ctx, echoRequest(b.client, url, body), b.cfg.clients, turn, t)) })
		}
	}
	harness.Alternate(ctx, rounds,
		clients(pathEmber, em.URL, &es, &et),
		clients(pathNoSandbox, plain.URL, &ns, &nt),
		clients(pathEcho, b.echo.URL, &bs, &bt),
		clients(pathProxy, b.proxy.URL, &ps, &pt))
	if err := ctx.Err(); err != nil {
		return err
	}
	phase := fmt.Sprintf("%d clients", b.cfg.clients)
	b.stopCPU(cpu, phase, et, nt, bt, pt)
	if _, err := b.check(ctx, phase, em, et, bt, pt); err != nil {
		return err
	}
	if _, err := b.check(ctx, phase, plain, nt, tally{}, tally{}); err != nil {
		return err
	}
	label := fmt.Sprintf("warm invokes/s, %d clients", b.cfg.clients)
	b.res.add(rate("concurrent_rate", label+", "+em.variant(), es.Rate(), bs.Rate(), &target{Op: ">=", Ratio: 0.2}).
		withProxy(ps.Rate()))
	b.res.compare(compareRate("concurrent_rate", label, es.Rate(), ns.Rate()).against(pathNameEcho, bs.Rate()))
	return nil
}

// big measures a request of just under 6 MB, alternating between the
// sandboxed ember and the echo server request by request.
func (b *bench) big(ctx context.Context, em *emberServer) error {
	body := bigPayload()
	b.progress("6 MB echo: %d requests to ember and the echo server", b.cfg.big)
	if err := b.warmup(ctx, "6 MB echo", []*emberServer{em}, []harness.Server{b.echo}, body, bigWarmup); err != nil {
		return err
	}
	var (
		et, bt tally
		es, bs harness.Samples
	)
	harness.Alternate(ctx, b.cfg.big, func() {
		es.Add(harness.Sequential(ctx, echoRequest(b.client, em.URL, body), 1, &et))
	}, func() {
		bs.Add(harness.Sequential(ctx, echoRequest(b.client, b.echo.URL, body), 1, &bt))
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	counts, err := b.check(ctx, "6 MB echo", em, et, bt, tally{})
	if err != nil {
		return err
	}
	b.noteWarmStarts("6 MB echo", em, counts, et.ok)
	b.res.add(latency("big_p50", fmt.Sprintf("6 MB echo p50 (%d B), %s", bigSize, em.variant()), es.Percentile(50), bs.Percentile(50), nil))
	return nil
}

// coldStarts measures requests that each land on a fresh environment of an
// ember rie whose environments die as soon as they are idle, against a
// fork/exec/wait of the bootstrap, all taking turns: the sandboxed
// onDemand, which builds the function's sandbox when the request comes
// from a sandbox started ahead, the sandboxed prepared, which takes a
// sandbox built ahead (ember's default), the sandboxed nothing, which
// starts each sandbox from nothing when the request comes, and the
// --no-sandbox plain.
func (b *bench) coldStarts(ctx context.Context, onDemand, prepared, nothing, plain *emberServer, bins harness.Binaries) error {
	body := smallPayload()
	embers := []*emberServer{onDemand, prepared, nothing, plain}
	b.progress("cold start: %d requests %v apart to each of %d embers, and as many fork/execs of the bootstrap", b.cfg.cold, b.cfg.coldGap, len(embers))
	env := benchEnv()
	// Check that the bootstrap ends at once without a Runtime API, and
	// bring it into the page cache.
	for range 3 {
		if _, err := execBootstrap(ctx, bins, env); err != nil {
			return fmt.Errorf("cold start baseline: %w", err)
		}
	}
	var (
		dt, pt, zt, nt, bt tally
		ds, ps, zs, ns, bs harness.Samples
	)
	// coldStart returns a turn that sends one request to url and then
	// leaves ember the time to reap the environment and to make ahead
	// again what it makes ahead: the next sandbox started, for onDemand
	// and prepared, and built, for prepared.
	coldStart := func(url string, s *harness.Samples, t *tally) func() {
		return func() {
			s.Add(harness.Sequential(ctx, echoRequest(b.client, url, body), 1, t))
			select {
			case <-ctx.Done():
			case <-time.After(b.cfg.coldGap):
			}
		}
	}
	// One cold start of each ember first, not measured: it brings their
	// files and the runtime's into the page cache, and lets an ember start
	// making ahead what it makes ahead.
	for _, e := range embers {
		var t tally
		coldStart(e.URL, &harness.Samples{}, &t)()
		if err := b.afterWarmup(ctx, "cold start", e, t); err != nil {
			return err
		}
	}
	harness.Alternate(ctx, b.cfg.cold,
		coldStart(onDemand.URL, &ds, &dt),
		coldStart(prepared.URL, &ps, &pt),
		coldStart(nothing.URL, &zs, &zt),
		coldStart(plain.URL, &ns, &nt),
		func() {
			d, err := execBootstrap(ctx, bins, env)
			if bt.Record(err) {
				bs.Lat = append(bs.Lat, d)
			}
		})
	if err := ctx.Err(); err != nil {
		return err
	}
	// The fork/execs' errors go with the check of ember's default, the
	// prepared one.
	onDemandCounts, err := b.check(ctx, "cold start", onDemand, dt, tally{}, tally{})
	if err != nil {
		return err
	}
	preparedCounts, err := b.check(ctx, "cold start", prepared, pt, bt, tally{})
	if err != nil {
		return err
	}
	nothingCounts, err := b.check(ctx, "cold start", nothing, zt, tally{}, tally{})
	if err != nil {
		return err
	}
	plainCounts, err := b.check(ctx, "cold start", plain, nt, tally{}, tally{})
	if err != nil {
		return err
	}
	for _, one := range []struct {
		em *emberServer
		c  reportCounts
		ok int
	}{{onDemand, onDemandCounts, dt.ok}, {prepared, preparedCounts, pt.ok}, {nothing, nothingCounts, zt.ok}, {plain, plainCounts, nt.ok}} {
		if n := len(one.c.inits); n < one.ok {
			b.res.note("cold start, %s: only %d of %d answered requests started a runtime (REPORT with Init Duration); the others found a warm environment",
				one.em.variant(), n, one.ok)
		}
	}
	// The first table has ember's default, the prepared sandbox.
	b.res.add(latency("cold_p50", "cold start p50 (vs fork/exec), "+prepared.variant(), ps.Percentile(50), bs.Percentile(50), nil))
	b.res.add(latency("cold_p90", "cold start p90 (vs fork/exec), "+prepared.variant(), ps.Percentile(90), bs.Percentile(90), nil))
	forkExec := func(p float64) float64 { return harness.Millis(bs.Percentile(p)) }
	b.res.compare(compareLatency("cold_on_demand_p50", "cold start p50, "+variantOnDemand, ds.Percentile(50), ns.Percentile(50)).
		against("fork/exec", forkExec(50)).
		withTarget(bound{Of: boundSandboxed, Op: "<=", Value: 8, Why: "built on demand"}))
	b.res.compare(compareLatency("cold_on_demand_p90", "cold start p90, "+variantOnDemand, ds.Percentile(90), ns.Percentile(90)).
		against("fork/exec", forkExec(90)))
	b.res.compare(compareLatency("cold_p50", "cold start p50, "+variantPrepared, ps.Percentile(50), ns.Percentile(50)).
		against("fork/exec", forkExec(50)).
		withTarget(bound{Of: boundSandboxed, Op: "<=", Value: 5, Why: "from sandboxes created ahead"}))
	b.res.compare(compareLatency("cold_p90", "cold start p90, "+variantPrepared, ps.Percentile(90), ns.Percentile(90)).
		against("fork/exec", forkExec(90)))
	b.res.compare(compareLatency("cold_nothing_ahead_p50", "cold start p50, "+variantNothingAhead, zs.Percentile(50), ns.Percentile(50)).
		against("fork/exec", forkExec(50)))
	b.res.compare(compareLatency("cold_nothing_ahead_p90", "cold start p90, "+variantNothingAhead, zs.Percentile(90), ns.Percentile(90)).
		against("fork/exec", forkExec(90)))
	// Runtime exec to its first /next, as ember measures it.
	plainInits := harness.Samples{Lat: plainCounts.inits}
	for _, one := range []struct {
		id, variant string
		inits       []time.Duration
	}{
		{"init_on_demand_p50", variantOnDemand, onDemandCounts.inits},
		{"init_p50", variantPrepared, preparedCounts.inits},
		{"init_nothing_ahead_p50", variantNothingAhead, nothingCounts.inits},
	} {
		inits := harness.Samples{Lat: one.inits}
		if len(inits.Lat) > 0 && len(plainInits.Lat) > 0 {
			b.res.compare(compareLatency(one.id, "Init Duration p50 (cold start), "+one.variant, inits.Percentile(50), plainInits.Percentile(50)))
		}
	}
	return nil
}

// execBootstrap runs the bootstrap without a Runtime API and waits for it;
// aws-lambda-go then exits at once with an error, so this is the cost of
// starting the process, nothing of Lambda's.
func execBootstrap(ctx context.Context, bins harness.Binaries, env []string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.Bootstrap)
	cmd.Dir = bins.FnDir
	cmd.Env = env
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return d, fmt.Errorf("bootstrap without a Runtime API still ran after %v", execTimeout)
	case errors.As(err, &exitErr):
		return d, nil
	case err == nil:
		return d, errors.New("bootstrap without a Runtime API exited 0; expected it to fail at once")
	default:
		return d, fmt.Errorf("run bootstrap: %w", err)
	}
}

// stopEmber stops an ember rie and notes what its stderr, where it logs
// only warnings and errors, says. A --no-sandbox ember's warning that
// limits are not enforced is expected and left out.
func (b *bench) stopEmber(em *emberServer) {
	if err := em.Child.Stop(); err != nil {
		b.res.note("%v", err)
	}
	var lines []string
	for _, l := range em.Child.StderrLines() {
		if !em.sandboxed && strings.Contains(l, noSandboxWarning) {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return
	}
	shown := lines
	if len(shown) > 5 {
		shown = shown[:5]
	}
	b.res.note("%s logged %d warning or error lines, first:\n\t%s", em.Name, len(lines), strings.Join(shown, "\n\t"))
}
