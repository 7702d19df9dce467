package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	// payloadSize is the size of an invocation's event, a JSON object.
	payloadSize = 100
	// functionName is the echo function's name in ember serve.
	functionName = "echo"
	// seqBlock is how many sequential requests go through one path before
	// the next path's turn.
	seqBlock = 100
	// concRound is the length of a turn of the concurrent clients.
	concRound = time.Second
	// concWarmup is how long the concurrent clients warm up each path,
	// long enough for ember to start an environment for every client.
	concWarmup = 500 * time.Millisecond
	// settle is the pause after the CPUs of the processes change: a Go
	// program (every server here, and the benchmark) looks at the CPUs it
	// may run on about once a second, and sets GOMAXPROCS to their number.
	settle = 1500 * time.Millisecond
	// The CPU of the client and of the servers in the sequential phase.
	clientCPU, serverCPU = 0, 1
	// benchRole is the execution role of every function; ember checks its
	// form only.
	benchRole = "arn:aws:iam::123456789012:role/ember-bench"
)

// The kinds of path, as the JSON names them.
const (
	kindEcho         = "echo"
	kindRie          = "rie"
	kindRieNoSandbox = "rie_no_sandbox"
	kindServeHTTP    = "serve_http"
	kindServeSDK     = "serve_sdk"
)

// labels are the names of the kinds of path in the tables.
var labels = map[string]string{
	kindEcho:         "echo (net/http)",
	kindRie:          "ember rie",
	kindRieNoSandbox: "ember rie --no-sandbox",
	kindServeHTTP:    "ember serve, Invoke (raw HTTP)",
	kindServeSDK:     "ember serve, Invoke (aws-sdk-go-v2)",
}

// beforePrefix starts the name of a path through the older ember.
const beforePrefix = "before: "

// bench runs the phases and collects their figures.
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
	kind   string
	before bool
	pid    int
	// sequential and concurrent are the measurements of each phase;
	// Path holds the one under way.
	sequential, concurrent harness.Path
}

// payload is a compact JSON object of payloadSize bytes, which the echo
// function answers byte for byte.
func payload() []byte {
	const head, tail = `{"bench":"ember warm","pad":"`, `"}`
	return []byte(head + strings.Repeat("x", payloadSize-len(head)-len(tail)) + tail)
}

// warm starts the echo server and the embers, and measures warm
// invocations through each path: sequential, pinned, then concurrent,
// unpinned.
func (b *bench) warm(ctx context.Context) error {
	body := payload()
	echo, err := harness.StartBaseline(ctx, b.procs, b.tmp, "echo", harness.EchoServerArg)
	if err != nil {
		return err
	}
	paths := []*path{{Path: harness.Path{Name: labels[kindEcho], Do: harness.PostEcho(b.hc, echo.URL+"/", body)}, kind: kindEcho, pid: echo.Pid()}}
	zipped, err := zipBootstrap(b.bins.Bootstrap)
	if err != nil {
		return err
	}
	var stops []func()
	embers := []string{b.bins.Ember}
	if b.bins.Before != "" {
		embers = append(embers, b.bins.Before)
	}
	for i, bin := range embers {
		ps, stop, err := b.startEmbers(ctx, bin, i == 1, zipped, body)
		stops = append(stops, stop)
		if err != nil {
			return err
		}
		paths = append(paths, ps...)
	}

	if err := b.sequential(ctx, paths); err != nil {
		return err
	}
	if err := b.concurrentPhase(ctx, paths); err != nil {
		return err
	}
	for _, p := range paths {
		b.res.addPath(p)
	}
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	if err := echo.Child.Stop(); err != nil {
		b.res.Note("%v", err)
	}
	return nil
}

// startEmbers starts the servers of one ember binary: ember rie,
// sandboxed and with --no-sandbox, and ember serve with the echo
// function, and returns their paths, each invoked once (its cold start),
// and the function that stops them.
func (b *bench) startEmbers(ctx context.Context, bin string, before bool, zipped, body []byte) ([]*path, func(), error) {
	prefix, file := "", "ember"
	if before {
		prefix, file = beforePrefix, "before"
	}
	var servers []harness.Server
	// rieLog checks the sandboxed ember rie's REPORT lines, which it
	// writes once the runtime asks for its next event.
	rieLog := func() {}
	stop := func() {
		rieLog()
		for i := len(servers) - 1; i >= 0; i-- {
			b.progress("stopping %s", servers[i].Name)
			harness.StopServe(servers[i], b.res.Note)
		}
	}
	b.progress("starting %sember rie (sandboxed and --no-sandbox) and ember serve: %s", prefix, bin)
	var paths []*path
	for _, kind := range []string{kindRie, kindRieNoSandbox} {
		rie, err := harness.StartRie(ctx, b.procs, b.hc, harness.RieOptions{
			Ember: bin, FnDir: b.bins.FnDir, Bootstrap: b.bins.Bootstrap,
			Dir: b.tmp, Name: file + "-" + strings.ReplaceAll(kind, "_", "-"),
			NoSandbox: kind == kindRieNoSandbox,
			Env:       []string{fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", b.cfg.memory)},
			Extra:     []string{"--max-concurrency", fmt.Sprint(b.cfg.clients), "--queue-timeout", "5s"},
			Retried:   func(msg string) { b.res.Note("%s", msg) },
		})
		if err != nil {
			return nil, stop, err
		}
		servers = append(servers, rie.Server)
		p := &path{Path: harness.Path{Name: prefix + labels[kind], Do: harness.PostEcho(b.hc, rie.URL, body)}, kind: kind, before: before, pid: rie.Pid()}
		if _, err := p.Do(ctx); err != nil {
			return nil, stop, fmt.Errorf("first invocation through %s: %w", p.Name, err)
		}
		if kind == kindRie {
			rieLog = func() { b.checkSandboxedRie(p.Name, rie.Stdout) }
		}
		paths = append(paths, p)
	}

	serve, err := harness.StartServe(ctx, b.procs, bin, b.tmp, file+"-serve", false)
	if err != nil {
		return nil, stop, err
	}
	servers = append(servers, serve)
	sdk := harness.NewLambdaClient(serve.URL, b.hc)
	if err := createFunction(ctx, sdk, functionName, zipped, b.cfg.memory); err != nil {
		return nil, stop, fmt.Errorf("%s: %w", serve.Name, err)
	}
	url := serve.URL + "/2015-03-31/functions/" + functionName + "/invocations"
	raw := &path{Path: harness.Path{Name: prefix + labels[kindServeHTTP], Do: harness.PostEcho(b.hc, url, body)}, kind: kindServeHTTP, before: before, pid: serve.Pid()}
	if _, err := raw.Do(ctx); err != nil {
		return nil, stop, fmt.Errorf("first invocation through %s: %w", raw.Name, err)
	}
	if err := b.checkSandboxedServe(ctx, raw.Name, url, body); err != nil {
		return nil, stop, err
	}
	paths = append(paths, raw,
		&path{Path: harness.Path{Name: prefix + labels[kindServeSDK], Do: harness.InvokeSDK(sdk, functionName, body)}, kind: kindServeSDK, before: before, pid: serve.Pid()})
	return paths, stop, nil
}

// checkSandboxedRie notes when the REPORT lines of a sandboxed ember rie
// say that it enforced no limits.
func (b *bench) checkSandboxedRie(name, stdout string) {
	log, err := os.ReadFile(stdout)
	if err != nil {
		b.res.Note("%s: %v", name, err)
		return
	}
	b.sandboxed(name, bytes.Contains(log, []byte("REPORT")), !bytes.Contains(log, []byte("Limits: not enforced")))
}

// checkSandboxedServe invokes the function once with its log tail, whose
// REPORT line says whether ember enforced its limits.
func (b *bench) checkSandboxedServe(ctx context.Context, name, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Amz-Log-Type", "Tail")
	resp, err := b.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s, an invocation with its log tail: %w", name, err)
	}
	resp.Body.Close()
	tail, err := base64.StdEncoding.DecodeString(resp.Header.Get("X-Amz-Log-Result"))
	if err != nil {
		return fmt.Errorf("%s: the log tail: %w", name, err)
	}
	b.sandboxed(name, bytes.Contains(tail, []byte("REPORT")), !bytes.Contains(tail, []byte("Limits: not enforced")))
	return nil
}

// sandboxed records whether the REPORT lines of the ember of the path
// name say that it enforced its limits: in a sandbox with cgroups.
func (b *bench) sandboxed(name string, reported, enforced bool) {
	switch {
	case !reported:
		b.res.Note("%s: no REPORT line to tell whether it ran the function in a sandbox", name)
	case !enforced:
		b.res.Note("%s: its REPORT lines say \"Limits: not enforced\": it ran the function as a plain process or without cgroups "+
			"(ember sandboxes functions only as root on Linux), so these are not a sandboxed ember's figures", name)
	}
	if reported {
		b.res.Sandboxed[name] = enforced
	}
}

// sequential measures cfg.n requests through each path, one after the
// other, in blocks of seqBlock that take turns, with the client and the
// servers pinned to different CPUs (-pin).
func (b *bench) sequential(ctx context.Context, paths []*path) error {
	unpin, err := b.pin(paths)
	if err != nil {
		return err
	}
	defer unpin()
	hp := harnessPaths(paths)
	b.progress("sequential: %d warm-up and %d measured requests through each of %d paths, in blocks of %d", b.cfg.warmup, b.cfg.n, len(paths), seqBlock)
	b.noteWarmup("sequential", paths, harness.Warmup(ctx, hp, b.cfg.warmup))
	meter := harness.NewCPUMeter(pids(paths))
	harness.RunSequential(ctx, hp, b.cfg.n, seqBlock, meter.Turn)
	if err := ctx.Err(); err != nil {
		return err
	}
	b.checkPinned(paths)
	err = b.res.addCPU("sequential", paths, meter)
	for _, p := range paths {
		p.sequential, p.Path = p.Path, harness.Path{Name: p.Name, Do: p.Do}
	}
	return err
}

// concurrentPhase measures cfg.clients clients that each send their next
// request when the last is answered, in turns of concRound through each
// path, unpinned.
func (b *bench) concurrentPhase(ctx context.Context, paths []*path) error {
	phase := fmt.Sprintf("%d clients", b.cfg.clients)
	hp := harnessPaths(paths)
	b.progress("%s: %v warm-up and %v measured through each path, in turns of %v", phase, concWarmup, b.cfg.duration, concRound)
	b.noteWarmup(phase, paths, harness.WarmupConcurrent(ctx, hp, b.cfg.clients, concWarmup))
	meter := harness.NewCPUMeter(pids(paths))
	harness.RunConcurrent(ctx, hp, b.cfg.clients, b.cfg.duration, concRound, meter.Turn)
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, p := range paths {
		p.concurrent = p.Path
	}
	return b.res.addCPU(phase, paths, meter)
}

// pin pins the benchmark to clientCPU, its goroutine that sends the
// sequential requests locked to a thread there, and each server with its
// descendants (ember's runtimes and sandboxes, which it starts with the
// same CPUs) to serverCPU, and waits for them to settle. The returned
// function unpins them all.
func (b *bench) pin(paths []*path) (func(), error) {
	nothing := func() {}
	cpus, err := harness.OnlineCPUs()
	if err != nil {
		return nothing, err
	}
	switch {
	case !b.cfg.pin:
		b.res.Note("not pinned (-pin=false): the sequential figures depend on whether the client and a server share a CPU")
		return nothing, nil
	case cpus < 2:
		b.res.Note("not pinned: the machine has one CPU")
		return nothing, nil
	}
	self := os.Getpid()
	if _, err := harness.PinThreads(self, clientCPU); err != nil {
		if errors.Is(err, harness.ErrNoProc) {
			b.res.Note("not pinned: %v", err)
			return nothing, nil
		}
		return nothing, err
	}
	unpinAll := func() {
		// Every server is a descendant of the benchmark.
		if _, err := harness.PinTree(self); err != nil {
			b.res.Note("unpin: %v", err)
		}
	}
	for _, p := range paths {
		if _, err := harness.PinTree(p.pid, serverCPU); err != nil {
			unpinAll()
			return nothing, fmt.Errorf("pin %s: %w", p.Name, err)
		}
	}
	unlock, err := harness.LockToCPU(clientCPU)
	if err != nil {
		unpinAll()
		return nothing, err
	}
	b.res.Pinning = &pinning{ClientCPU: clientCPU, ServerCPU: serverCPU}
	time.Sleep(settle)
	return func() {
		unlock()
		unpinAll()
		time.Sleep(settle)
	}, nil
}

// checkPinned notes any thread of a server, or of its descendants, that
// was not on serverCPU at the end of the sequential phase.
func (b *bench) checkPinned(paths []*path) {
	if b.res.Pinning == nil {
		return
	}
	seen := map[int]bool{}
	for _, p := range paths {
		if seen[p.pid] {
			continue
		}
		seen[p.pid] = true
		off, err := harness.ThreadsOffCPUs(p.pid, serverCPU)
		switch {
		case err != nil:
			b.res.Note("%s: pinning not checked: %v", p.Name, err)
		case off > 0:
			b.res.Note("%s: %d threads of its process tree were not on CPU %d at the end of the sequential phase", p.Name, off, serverCPU)
		}
	}
}

func (b *bench) noteWarmup(phase string, paths []*path, tallies []harness.Tally) {
	for i, t := range tallies {
		if d := t.Describe(); d != "" {
			b.res.Note("%s warm-up, %s: %s", phase, paths[i].Name, d)
			b.res.warmupFailed = true
		}
	}
}

func harnessPaths(paths []*path) []*harness.Path {
	hp := make([]*harness.Path, len(paths))
	for i, p := range paths {
		hp[i] = &p.Path
	}
	return hp
}

func pids(paths []*path) map[string]int {
	m := make(map[string]int, len(paths))
	for _, p := range paths {
		m[p.Name] = p.pid
	}
	return m
}

// createFunction creates the echo function with code zipped and memoryMB.
func createFunction(ctx context.Context, c *lambda.Client, name string, zipped []byte, memoryMB int) error {
	_, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Role:         aws.String(benchRole),
		Runtime:      types.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		MemorySize:   aws.Int32(int32(memoryMB)),
		Code:         &types.FunctionCode{ZipFile: zipped},
	})
	if err != nil {
		return fmt.Errorf("CreateFunction %s: %w", name, err)
	}
	return nil
}

// zipBootstrap zips the file bootstrap as the only file of a function's
// code, executable.
func zipBootstrap(bootstrap string) ([]byte, error) {
	data, err := os.ReadFile(bootstrap)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip %s: %w", bootstrap, err)
	}
	return buf.Bytes(), nil
}
