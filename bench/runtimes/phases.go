package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	// coldIdleTimeout is the --idle-timeout of the cold-start ember: an
	// environment is shut down as soon as its invocation ends, so that
	// every Invoke starts a new one.
	coldIdleTimeout = "1ms"
	// quiesceTimeout bounds the wait for ember's environments to end
	// before a cold-start turn. Ember gives a runtime 500 ms after SIGTERM
	// before it kills it.
	quiesceTimeout = 10 * time.Second
	// quiescePoll is how often that wait looks at ember's children.
	quiescePoll = 5 * time.Millisecond
	// settle is the pause after ember's last child ended, in which ember
	// removes the environment's cgroup, mounts and files.
	settle = 30 * time.Millisecond
	// noProcWait replaces the wait for ember's children where /proc
	// cannot list them: longer than the 500 ms a runtime has after
	// SIGTERM.
	noProcWait = time.Second
	// reportWait bounds the wait for the REPORT lines of the last warm
	// Invokes in ember's log.
	reportWait = 2 * time.Second
	// seqBlock is how many sequential warm Invokes go to one function
	// before the next function's turn.
	seqBlock = 100
)

// bench runs the phases and collects their figures.
type bench struct {
	cfg      config
	progress func(format string, a ...any)
	res      *results
	hc       *http.Client
	fns      []*fn
}

// createAll creates every function in the ember at em.
func (b *bench) createAll(ctx context.Context, em harness.Server) error {
	c := harness.NewLambdaClient(em.URL, b.hc)
	for _, f := range b.fns {
		if err := create(ctx, c, f); err != nil {
			return err
		}
	}
	return nil
}

// quiesce waits until ember at em has no child process left but the
// sandboxes it keeps started ahead, none of its environments' runtimes nor
// of the tools it runs for them, and then settle, so that a cold-start
// turn does not share the machine with the end of the last environment.
func (b *bench) quiesce(ctx context.Context, em harness.Server) error {
	deadline := time.Now().Add(quiesceTimeout)
	for {
		kids, err := harness.ChildPIDs(em.Pid())
		if errors.Is(err, harness.ErrNoProc) {
			return sleep(ctx, noProcWait)
		}
		if err != nil {
			return fmt.Errorf("children of %s: %w", em.Name, err)
		}
		kids = slices.DeleteFunc(kids, idleSandbox)
		if len(kids) == 0 {
			return sleep(ctx, settle)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still had %d child processes (pids %v) %v after the last cold start", em.Name, len(kids), kids, quiesceTimeout)
		}
		if err := sleep(ctx, quiescePoll); err != nil {
			return err
		}
	}
}

// idleSandbox reports whether pid is a sandbox's init stage (ember's own
// binary, re-executed with ember-sandbox-init) without a runtime: a
// sandbox started ahead, waiting for a function.
func idleSandbox(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.HasSuffix(string(b), "\x00ember-sandbox-init\x00") {
		return false
	}
	kids, err := harness.ChildPIDs(pid)
	return err == nil && len(kids) == 0
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// coldPath is what the cold starts of one function and the runs of its
// baseline came to.
type coldPath struct {
	f *fn
	// invokes and execs count the Invokes and the baseline's runs.
	invokes, execs harness.Tally
	// lat are the times of the Invokes that were cold starts, inits
	// their Init Durations, base the times of the baseline's runs.
	lat, inits, base harness.Samples
	// cold counts the Invokes whose REPORT had an Init Duration,
	// unlimited those whose REPORT said "Limits: not enforced".
	cold, unlimited int
}

// cold measures cold starts of each function in the ember at em, started
// with --idle-timeout coldIdleTimeout, beside the runs of its baseline, in
// alternating turns, each after ember's last environment has ended.
func (b *bench) cold(ctx context.Context, em harness.Server) error {
	if err := b.createAll(ctx, em); err != nil {
		return err
	}
	// The first cold start of each function is not measured: ember's
	// first also makes the first /tmp image, and each function's first
	// finds its code and makes its pool.
	for _, f := range b.fns {
		if err := b.quiesce(ctx, em); err != nil {
			return err
		}
		a, err := invoke(ctx, b.hc, em.URL, f, true)
		if err != nil {
			return fmt.Errorf("first Invoke of %s: %w", f.name, err)
		}
		b.progress("first cold start of %s: %.1f ms", f.name, harness.Millis(a.d))
	}

	paths := make([]*coldPath, len(b.fns))
	// quiesceErr ends the phase: ember's environments did not end.
	var quiesceErr error
	quiet := func() bool {
		if quiesceErr == nil {
			quiesceErr = b.quiesce(ctx, em)
		}
		return quiesceErr == nil
	}
	var turns []func()
	for i, f := range b.fns {
		p := &coldPath{f: f}
		paths[i] = p
		turns = append(turns, func() {
			if !quiet() {
				return
			}
			a, err := invoke(ctx, b.hc, em.URL, f, true)
			if !p.invokes.Record(err) {
				return
			}
			if a.report.unlimited {
				p.unlimited++
			}
			if a.report.init == 0 {
				return
			}
			p.cold++
			p.lat.Lat = append(p.lat.Lat, a.d)
			p.inits.Lat = append(p.inits.Lat, a.report.init)
		}, func() {
			if !quiet() {
				return
			}
			d, err := forkExec(ctx, f)
			if p.execs.Record(err) {
				p.base.Lat = append(p.base.Lat, d)
			}
		})
	}
	b.progress("cold starts: %d of each function, each beside a run of its baseline, each turn after ember's last environment ended", b.cfg.cold)
	start := time.Now()
	harness.Alternate(ctx, b.cfg.cold, turns...)
	if err := ctx.Err(); err != nil {
		return err
	}
	if quiesceErr != nil {
		return quiesceErr
	}
	b.progress("cold starts done in %.1f s", time.Since(start).Seconds())

	unlimited, reports := 0, 0
	for _, p := range paths {
		rt := p.f.runtime
		cold := p.cold
		b.res.addCheck(phaseCold, rt, pathEmber, p.invokes, &cold)
		b.res.addCheck(phaseCold, rt, pathPlain, p.execs, nil)
		if n := p.invokes.Requests - p.invokes.Errors - p.cold; n > 0 {
			b.res.note("%d of the %d cold-start Invokes of %s had no Init Duration in their REPORT: they found an environment; their times are left out",
				n, p.invokes.Requests, p.f.name)
		}
		unlimited += p.unlimited
		reports += p.invokes.Requests - p.invokes.Errors
		if len(p.lat.Lat) > 0 {
			b.res.add(idColdP50, rt, "cold start p50", harness.Millis(p.lat.Percentile(50)))
			b.res.add(idColdP90, rt, "cold start p90", harness.Millis(p.lat.Percentile(90)))
			b.res.add(idInitP50, rt, "Init Duration p50", harness.Millis(p.inits.Percentile(50)))
		}
		if len(p.base.Lat) > 0 {
			b.res.add(idExecP50, rt, "plain process p50", harness.Millis(p.base.Percentile(50)))
			b.res.add(idExecP90, rt, "plain process p90", harness.Millis(p.base.Percentile(90)))
		}
	}
	if reports > 0 {
		enforced := unlimited == 0
		b.res.Sandboxed = &enforced
		switch {
		case !b.cfg.noSandbox && unlimited > 0:
			b.res.note("%d of %d REPORT lines say \"Limits: not enforced\": ember ran the functions as plain processes or without cgroups "+
				"(it sandboxes functions only as root on Linux; its warnings say why), so these are not a sandboxed ember's figures, "+
				"nor at one vCPU", unlimited, reports)
		case b.cfg.noSandbox && unlimited < reports:
			b.res.note("ember ran with --no-sandbox, yet %d of %d REPORT lines do not say \"Limits: not enforced\"", reports-unlimited, reports)
		}
	}
	return nil
}

// warm measures sequential warm Invokes of each function in the ember at
// em, in alternating blocks of seqBlock, and counts from ember's log the
// cold starts among them, of which there should be none.
func (b *bench) warm(ctx context.Context, em harness.Server) error {
	if err := b.createAll(ctx, em); err != nil {
		return err
	}
	for _, f := range b.fns {
		// With its log tail, so that its REPORT is written before the
		// measured Invokes begin.
		a, err := invoke(ctx, b.hc, em.URL, f, true)
		if err != nil {
			return fmt.Errorf("first Invoke of %s: %w", f.name, err)
		}
		b.progress("first Invoke of %s, a cold start: %.1f ms", f.name, harness.Millis(a.d))
	}
	b.progress("warm Invokes: %d warm-up and %d measured of each function, in blocks of %d", b.cfg.warmup, b.cfg.n, seqBlock)
	for _, f := range b.fns {
		var t harness.Tally
		harness.Sequential(ctx, warmInvoke(b.hc, em.URL, f), b.cfg.warmup, &t)
		if d := t.Describe(); d != "" {
			b.res.note("warm-up, %s: %s", f.name, d)
			b.res.warmupFailed = true
		}
	}

	since := time.Now()
	tallies := make([]harness.Tally, len(b.fns))
	lats := make([]harness.Samples, len(b.fns))
	sends := make([]func(int), len(b.fns))
	for i, f := range b.fns {
		sends[i] = func(k int) { lats[i].Add(harness.Sequential(ctx, warmInvoke(b.hc, em.URL, f), k, &tallies[i])) }
	}
	start := time.Now()
	harness.InBlocks(ctx, b.cfg.n, seqBlock, sends...)
	if err := ctx.Err(); err != nil {
		return err
	}
	b.progress("warm Invokes done in %.1f s", time.Since(start).Seconds())

	for i, f := range b.fns {
		var cold *int
		want := tallies[i].Requests - tallies[i].Errors
		reports, inits, err := b.warmReports(ctx, em, f, since, want)
		if err != nil {
			b.res.note("cold starts of the warm Invokes of %s not counted: %v", f.name, err)
		} else {
			cold = &inits
			if inits > 0 {
				b.res.note("%d of the %d warm Invokes of %s were cold starts (REPORT lines with an Init Duration in ember's log): "+
					"a request came before the last invocation's environment was free again, so ember started another", inits, want, f.name)
			}
			if reports < want {
				b.res.note("ember's log kept %d REPORT lines of %s since the warm Invokes began, fewer than the %d Invokes answered: "+
					"it keeps the last 10,000 lines of a function; the cold starts were counted among those", reports, f.name, want)
			}
		}
		b.res.addCheck(phaseWarm, f.runtime, pathEmber, tallies[i], cold)
		if len(lats[i].Lat) > 0 {
			b.res.add(idWarmP50, f.runtime, "warm Invoke p50", harness.Millis(lats[i].Percentile(50)))
			b.res.add(idWarmP90, f.runtime, "warm Invoke p90", harness.Millis(lats[i].Percentile(90)))
			b.res.add(idWarmP99, f.runtime, "warm Invoke p99", harness.Millis(lats[i].Percentile(99)))
		}
	}
	return nil
}

// warmReports counts the REPORT lines of f in ember's log since the warm
// Invokes began, and those with an Init Duration. Ember writes an
// Invoke's REPORT a moment after its answer, when the runtime asks for its
// next event: it reads the log again until it has want of them, or for
// reportWait.
func (b *bench) warmReports(ctx context.Context, em harness.Server, f *fn, since time.Time, want int) (reports, inits int, err error) {
	deadline := time.Now().Add(reportWait)
	for {
		reports, inits, err = logReports(ctx, b.hc, em.URL, f, since)
		if err != nil || reports >= want || time.Now().After(deadline) {
			return reports, inits, err
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return reports, inits, err
		}
	}
}
