package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/emberfn/ember/bench/internal/harness"
)

// The paths a request takes: which client, to which server.
const (
	pathEmberSDK  = "ember (SDK)"
	pathEmberHTTP = "ember (net/http)"
	pathEchoHTTP  = "echo (net/http)"
	pathEchoSDK   = "echo (SDK)"
)

// The phases, as the checks and the CPU table name them.
const (
	phaseSequential = "sequential"
	phaseRecord     = "recording"
	phaseCreate     = "CreateFunction 10 MiB"
	phaseSmall      = "CreateFunction small"
	phaseList       = "ListFunctions all"
)

const (
	// payloadSize is the size of an Invoke's payload, a JSON object.
	payloadSize = 100
	// echoFunction is the name of the echo function in ember.
	echoFunction = "echo"
	// seqBlock is how many sequential requests go through one path before
	// the next path's turn.
	seqBlock = 100
	// concRound is the length of a turn of the concurrent clients.
	concRound = time.Second
	// concWarmup is how long the concurrent clients warm up each path,
	// long enough for ember to start an environment for every client.
	concWarmup = 500 * time.Millisecond
	// pageSize is the MaxItems of each ListFunctions page, ember's and
	// Lambda's default.
	pageSize = 50
	// listRounds is how many times each path lists all the functions.
	listRounds = 5
)

// bench runs the phases and collects their figures.
type bench struct {
	cfg      config
	progress func(format string, a ...any)
	res      *results
	hc       *http.Client
	echo     harness.Server
	// echoSDK is a Lambda client of the echo server.
	echoSDK *lambda.Client
	code    code
}

// path is a way to send a request, and what came of those it sent.
type path = harness.Path

// payload is a compact JSON object of payloadSize bytes, which the echo
// function answers byte for byte.
func payload() []byte {
	const head, tail = `{"bench":"ember serve","pad":"`, `"}`
	return []byte(head + strings.Repeat("x", payloadSize-len(head)-len(tail)) + tail)
}

// warmup sends n requests through each path and notes any error.
func (b *bench) warmup(ctx context.Context, phase string, paths []*path, n int) {
	b.noteWarmups(phase, paths, harness.Warmup(ctx, paths, n))
}

// warmupConcurrent runs cfg.clients concurrent clients through each path
// for concWarmup, long enough for ember to start an environment for each
// client, and notes any error.
func (b *bench) warmupConcurrent(ctx context.Context, phase string, paths []*path) {
	b.noteWarmups(phase, paths, harness.WarmupConcurrent(ctx, paths, b.cfg.clients, concWarmup))
}

func (b *bench) noteWarmups(phase string, paths []*path, tallies []harness.Tally) {
	for i, t := range tallies {
		if d := t.Describe(); d != "" {
			b.res.note("%s warm-up, %s: %s", phase, paths[i].Name, d)
			b.res.warmupFailed = true
		}
	}
}

// inBlocks sends n requests through each of paths, one after the other,
// in blocks of seqBlock that take turns, each within a turn of cpu.
func inBlocks(ctx context.Context, cpu *cpuMeter, paths []*path, n int) {
	harness.RunSequential(ctx, paths, n, seqBlock, cpu.turn)
}

// inRounds runs clients concurrent clients through each of paths for d
// in all, in turns of concRound, each within a turn of cpu.
func inRounds(ctx context.Context, cpu *cpuMeter, paths []*path, clients int, d time.Duration) {
	harness.RunConcurrent(ctx, paths, clients, d, concRound, cpu.turn)
}

// invoke creates the echo function in ember at em and measures its warm
// invocations, sequential and concurrent, beside the echo server's.
func (b *bench) invoke(ctx context.Context, em harness.Server) error {
	emSDK := harness.NewLambdaClient(em.URL, b.hc)
	b.progress("creating the echo function (a %d-byte zip, %d MB)", len(b.code.echo), b.cfg.memory)
	if _, err := createSDK(ctx, emSDK, echoFunction, b.code.echo, b.cfg.memory); err != nil {
		return err
	}
	body := payload()
	paths := []*path{
		{Name: pathEmberSDK, Do: harness.InvokeSDK(emSDK, echoFunction, body)},
		{Name: pathEchoHTTP, Do: harness.PostEcho(b.hc, b.echo.URL+"/2015-03-31/functions/"+echoFunction+"/invocations", body)},
		{Name: pathEchoSDK, Do: harness.InvokeSDK(b.echoSDK, echoFunction, body)},
	}
	first, err := paths[0].Do(ctx)
	if err != nil {
		return fmt.Errorf("first Invoke of the echo function: %w", err)
	}
	b.res.note("the first Invoke of the echo function, a cold start, took %.1f ms", harness.Millis(first))

	b.progress("sequential: %d warm-up and %d measured invocations through each of %d paths", b.cfg.warmup, b.cfg.n, len(paths))
	b.warmup(ctx, phaseSequential, paths, b.cfg.warmup)
	cpu := newCPUMeter(em.Pid(), b.echo.Pid())
	inBlocks(ctx, cpu, paths, b.cfg.n)
	if err := ctx.Err(); err != nil {
		return err
	}
	b.res.addPaths(phaseSequential, cpu, paths)
	label := fmt.Sprintf("warm Invoke p%%g (%d B)", payloadSize)
	for _, p := range []float64{50, 90, 99} {
		b.res.addMetric(invokeMetric(fmt.Sprintf("warm_p%g", p), fmt.Sprintf(label, p), harness.UnitMillis, paths,
			func(s harness.Samples) float64 { return harness.Millis(s.Percentile(p)) }))
	}
	b.res.addMetric(invokeMetric("warm_rate", "warm Invokes/s, sequential", harness.UnitPerSecond, paths, harness.Samples.Rate))

	enforced, err := limitsEnforced(ctx, emSDK, echoFunction, body)
	if err != nil {
		return err
	}
	b.res.Sandboxed = &enforced
	switch {
	case !b.cfg.noSandbox && !enforced:
		b.res.note("ember's REPORT lines say \"Limits: not enforced\": it ran the function as a plain process or without cgroups " +
			"(it sandboxes functions only as root on Linux; its warnings say why), so these are not a sandboxed ember's figures")
	case b.cfg.noSandbox && enforced:
		b.res.note("ember ran with --no-sandbox, yet its REPORT lines do not say \"Limits: not enforced\"")
	}

	return b.concurrent(ctx, em, paths)
}

// invokeMetric is a figure of the three paths of the invoke phases.
func invokeMetric(id, label, unit string, paths []*path, f func(harness.Samples) float64) metric {
	sdk := f(paths[2].Samples)
	return metric{Group: groupInvoke, ID: id, Label: label, Unit: unit,
		Ember: f(paths[0].Samples), Baseline: f(paths[1].Samples), EchoSDK: &sdk}
}

// concurrent measures cfg.clients clients that each send their next
// Invoke when the last is answered, in turns of concRound through each
// path.
func (b *bench) concurrent(ctx context.Context, em harness.Server, seq []*path) error {
	phase := fmt.Sprintf("%d clients", b.cfg.clients)
	paths := make([]*path, len(seq))
	for i, p := range seq {
		paths[i] = &path{Name: p.Name, Do: p.Do}
	}
	b.progress("%s: %v warm-up and %v measured through each path, in turns of %v", phase, concWarmup, b.cfg.duration, concRound)
	b.warmupConcurrent(ctx, phase, paths)
	cpu := newCPUMeter(em.Pid(), b.echo.Pid())
	inRounds(ctx, cpu, paths, b.cfg.clients, b.cfg.duration)
	if err := ctx.Err(); err != nil {
		return err
	}
	b.res.addPaths(phase, cpu, paths)
	b.res.addMetric(invokeMetric("concurrent_rate", fmt.Sprintf("warm Invokes/s, %s", phase), harness.UnitPerSecond, paths, harness.Samples.Rate))
	return nil
}

// createPath is a path of the CreateFunction phases: next makes the
// request of its i-th create, untimed, before it is sent.
type createPath struct {
	path
	next func(i int) (harness.Request, error)
	i    int
}

// send makes and sends the path's next request, within cpu's turn when
// cpu is set, and records it when measured.
func (p *createPath) send(ctx context.Context, cpu *cpuMeter, measured bool) error {
	do, err := p.next(p.i)
	p.i++
	if err != nil {
		return err
	}
	var d time.Duration
	if cpu == nil {
		d, err = do(ctx)
	} else {
		cpu.turn(p.Name, func() { d, err = do(ctx) })
	}
	switch {
	case !measured:
		if err != nil {
			return fmt.Errorf("warm-up, %s: %w", p.Name, err)
		}
	case p.Tally.Record(err):
		p.Samples.Lat = append(p.Samples.Lat, d)
		p.Samples.Wall += d
	}
	return nil
}

// create measures CreateFunction of a 10 MiB zip, through the SDK and
// with the same body through plain net/http, each with code of its own
// and with the same code each time, beside posting that body to the echo
// server.
func (b *bench) create(ctx context.Context, em harness.Server) error {
	emSDK := harness.NewLambdaClient(em.URL, b.hc)
	same, err := b.code.big.zip(-1)
	if err != nil {
		return err
	}
	echoBody, err := createBody("big-echo", same)
	if err != nil {
		return err
	}
	b.res.Settings.ZipBytes = len(same)
	b.res.Settings.ZipRandomBytes = len(b.code.big.random)
	b.res.Settings.CreateBodyBytes = len(echoBody)
	// Each distinct zip inverts a byte of its own.
	flips := 0
	distinct := func() ([]byte, error) {
		flips++
		return b.code.big.zip(flips - 1)
	}
	sdk := func(name string, zip func() ([]byte, error)) func(int) (harness.Request, error) {
		return func(i int) (harness.Request, error) {
			z, err := zip()
			if err != nil {
				return nil, err
			}
			fn := fmt.Sprintf("%s-%d", name, i)
			return func(ctx context.Context) (time.Duration, error) { return createSDK(ctx, emSDK, fn, z, 0) }, nil
		}
	}
	plain := func(name string, zip func() ([]byte, error)) func(int) (harness.Request, error) {
		return func(i int) (harness.Request, error) {
			z, err := zip()
			if err != nil {
				return nil, err
			}
			body, err := createBody(fmt.Sprintf("%s-%d", name, i), z)
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context) (time.Duration, error) { return createHTTP(ctx, b.hc, em.URL, body) }, nil
		}
	}
	sameZip := func() ([]byte, error) { return same, nil }
	toEcho := harness.PostEcho(b.hc, b.echo.URL+functionsPath, echoBody)
	paths := []*createPath{
		{path: path{Name: pathEmberSDK + ", distinct"}, next: sdk("big-sdk", distinct)},
		{path: path{Name: pathEmberHTTP + ", distinct"}, next: plain("big-http", distinct)},
		{path: path{Name: pathEmberSDK + ", same"}, next: sdk("same-sdk", sameZip)},
		{path: path{Name: pathEmberHTTP + ", same"}, next: plain("same-http", sameZip)},
		{path: path{Name: pathEchoHTTP}, next: func(int) (harness.Request, error) { return toEcho, nil }},
	}

	b.progress("CreateFunction of a %d-byte zip (a %d-byte body): 1 warm-up and %d measured through each of %d paths",
		len(same), len(echoBody), b.cfg.creates, len(paths))
	// The first create with the same code stores it; the others find it.
	for _, p := range paths {
		if err := p.send(ctx, nil, false); err != nil {
			return err
		}
	}
	cpu := newCPUMeter(em.Pid(), b.echo.Pid())
	var sendErr error
	turns := make([]func(), len(paths))
	for i, p := range paths {
		turns[i] = func() {
			if sendErr == nil {
				sendErr = p.send(ctx, cpu, true)
			}
		}
	}
	harness.Alternate(ctx, b.cfg.creates, turns...)
	if err := errors.Join(sendErr, ctx.Err()); err != nil {
		return err
	}
	ps := make([]*path, len(paths))
	for i, p := range paths {
		ps[i] = &p.path
	}
	b.res.addPaths(phaseCreate, cpu, ps)
	for _, v := range []struct {
		id, what  string
		sdk, http *path
	}{
		{"create", "distinct code", ps[0], ps[1]},
		{"create_same", "same code", ps[2], ps[3]},
	} {
		for _, p := range []float64{50, 90} {
			f := func(s harness.Samples) float64 { return harness.Millis(s.Percentile(p)) }
			plain := f(v.http.Samples)
			b.res.addMetric(metric{Group: groupCreate, ID: fmt.Sprintf("%s_p%g", v.id, p),
				Label: fmt.Sprintf("CreateFunction p%g, %s", p, v.what), Unit: harness.UnitMillis,
				Ember: f(v.sdk.Samples), Baseline: f(ps[4].Samples), EmberHTTP: &plain})
		}
	}
	return nil
}

// functions measures ember at em, fresh, with cfg.functions small
// functions: the memory of its process before and after creating them
// and after listing them all, the time of each create, and the time to
// list them all, a page at a time.
func (b *bench) functions(ctx context.Context, em harness.Server) error {
	c := harness.NewLambdaClient(em.URL, b.hc)
	n := b.cfg.functions
	// Ember's API and store have answered once before the idle figure.
	_, got, _, err := listAll(ctx, c, pageSize)
	if err != nil {
		return err
	}
	if got != 0 {
		return fmt.Errorf("a fresh ember lists %d functions", got)
	}
	mem := &memory{Functions: n}
	memErr := func(err error) bool {
		if err == nil {
			return false
		}
		if !errors.Is(err, harness.ErrNoProc) {
			b.res.note("memory not measured: %v", err)
		}
		mem = nil
		return true
	}
	mem.Idle, err = harness.ReadMemory(em.Pid())
	memErr(err)

	echoBody, err := createBody("small-echo", b.code.small)
	if err != nil {
		return err
	}
	b.res.Settings.SmallZipBytes = len(b.code.small)
	created := 0
	creates := &path{Name: pathEmberSDK, Do: func(ctx context.Context) (time.Duration, error) {
		name := fmt.Sprintf("fn-%05d", created)
		created++
		return createSDK(ctx, c, name, b.code.small, 0)
	}}
	toEcho := &path{Name: pathEchoHTTP, Do: harness.PostEcho(b.hc, b.echo.URL+functionsPath, echoBody)}
	b.progress("%d CreateFunction of a %d-byte zip, in blocks of %d beside as many posts of the body to the echo server",
		n, len(b.code.small), seqBlock)
	cpu := newCPUMeter(em.Pid(), b.echo.Pid())
	paths := []*path{creates, toEcho}
	inBlocks(ctx, cpu, paths, n)
	if err := ctx.Err(); err != nil {
		return err
	}
	b.res.addPaths(phaseSmall, cpu, paths)
	b.res.addMetric(metric{Group: groupFunctions, ID: "create_small_p50", Unit: harness.UnitMillis,
		Label: fmt.Sprintf("CreateFunction p50, %d-byte zip", len(b.code.small)),
		Ember: harness.Millis(creates.Samples.Percentile(50)), Baseline: harness.Millis(toEcho.Samples.Percentile(50))})
	if mem != nil {
		mem.Created, err = harness.ReadMemory(em.Pid())
		memErr(err)
	}

	// A listing first, unmeasured, counts the pages.
	_, got, pages, err := listAll(ctx, c, pageSize)
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("ListFunctions listed %d functions, not %d", got, n)
	}
	size, err := pageBytes(ctx, b.hc, em.URL, pageSize)
	if err != nil {
		return err
	}
	b.res.Settings.Pages = pages
	b.res.Settings.PageBytes = size
	b.progress("ListFunctions of all %d functions, %d pages of %d, %d times, beside %d round trips of a page's %d bytes to the echo server",
		n, pages, pageSize, listRounds, pages, size)
	lister := &path{Name: pathEmberSDK, Do: func(ctx context.Context) (time.Duration, error) {
		d, got, _, err := listAll(ctx, c, pageSize)
		if err == nil && got != n {
			err = fmt.Errorf("ListFunctions listed %d functions, not %d", got, n)
		}
		return d, err
	}}
	page := harness.PostEcho(b.hc, b.echo.URL+functionsPath, bytes.Repeat([]byte{'x'}, size))
	echoPages := &path{Name: pathEchoHTTP, Do: func(ctx context.Context) (time.Duration, error) {
		var total time.Duration
		for range pages {
			d, err := page(ctx)
			total += d
			if err != nil {
				return total, err
			}
		}
		return total, nil
	}}
	cpu = newCPUMeter(em.Pid(), b.echo.Pid())
	paths = []*path{lister, echoPages}
	turns := make([]func(), len(paths))
	for i, p := range paths {
		turns[i] = func() { cpu.turn(p.Name, func() { p.Samples.Add(harness.Sequential(ctx, p.Do, 1, &p.Tally)) }) }
	}
	harness.Alternate(ctx, listRounds, turns...)
	if err := ctx.Err(); err != nil {
		return err
	}
	b.res.addPaths(phaseList, cpu, paths)
	b.res.addMetric(metric{Group: groupFunctions, ID: "list_all", Unit: harness.UnitMillis,
		Label: fmt.Sprintf("ListFunctions of all, %d pages of %d, p50", pages, pageSize),
		Ember: harness.Millis(lister.Samples.Percentile(50)), Baseline: harness.Millis(echoPages.Samples.Percentile(50))})
	if mem != nil {
		mem.Listed, err = harness.ReadMemory(em.Pid())
		if !memErr(err) {
			mem.PerFunctionRSS = float64(mem.Created.RSS-mem.Idle.RSS) / float64(n)
			mem.PerFunctionHWM = float64(mem.Created.HWM-mem.Idle.HWM) / float64(n)
			b.res.Memory = mem
		}
	}
	return nil
}
