package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

// The streams of each phase. The throughput's chunks are 64 KB writes, as
// a function that streams a large body makes them; the seeds differ so
// that no phase can pass with another's bytes.
var (
	firstShape = shape{chunks: 10, size: 1 << 10, pause: 100 * time.Millisecond, seed: 7}
	warmShape  = shape{chunks: 2, size: 16, seed: 1}
)

const (
	// bigChunk is the size of each write of the throughput's streams.
	bigChunk = 64 << 10
	// bigSeed and cappedSeed seed those streams.
	bigSeed    = 42
	cappedSeed = 9
	// slack is room in a buffer past the body, for the prelude.
	slack = 64 << 10
)

// bigShape is a stream of sizeMB MB in 64 KB writes.
func bigShape(sizeMB int, seed uint64) shape {
	return shape{chunks: sizeMB * mb / bigChunk, size: bigChunk, seed: seed}
}

// bench runs the phases and collects their figures.
type bench struct {
	cfg      config
	progress func(format string, a ...any)
	res      *results
	hc       *http.Client
	fnDir    string
	plain    harness.Server
}

// path is one way a phase's streams come, and what came of them.
type path struct {
	name string
	// get fetches one stream into buf.
	get   func(ctx context.Context, buf []byte) (received, error)
	tally harness.Tally
	// first and total are the times of the streams that succeeded.
	first, total harness.Samples
	// serverCPU and clientCPU are the CPU times of the server's side
	// (ember, its sandboxes and the function; or the plain server) and of
	// the benchmark's process over the timed streams; cpuOK says that
	// both were read.
	serverCPU, clientCPU time.Duration
	cpuOK                bool
}

// paths returns the plain server's path and ember's for the stream s, in
// the turns' order.
func (b *bench) paths(em harness.Server, s shape) ([]*path, error) {
	event, err := urlEvent(s)
	if err != nil {
		return nil, err
	}
	query := s.query().Encode()
	return []*path{
		{name: pathPlain, get: func(ctx context.Context, buf []byte) (received, error) {
			return getPlain(ctx, b.hc, b.plain.URL, query, buf)
		}},
		{name: pathEmber, get: func(ctx context.Context, buf []byte) (received, error) {
			return invokeStream(ctx, b.hc, em.URL, event, buf, false)
		}},
	}, nil
}

// warmUp creates the streamer in the ember at em and has it stream once,
// a cold start, with its log tail, whose REPORT line says whether ember
// enforced the function's limits; the plain server sends once too.
func (b *bench) warmUp(ctx context.Context, em harness.Server) error {
	c := harness.NewLambdaClient(em.URL, b.hc)
	if err := createStreamer(ctx, c, b.fnDir); err != nil {
		return err
	}
	event, err := urlEvent(warmShape)
	if err != nil {
		return err
	}
	want := warmShape.expected()
	buf := make([]byte, len(want)+slack)
	r, err := invokeStream(ctx, b.hc, em.URL, event, buf, true)
	if err == nil {
		err = checkStreamed(buf[:r.n], want)
	}
	if err != nil {
		return fmt.Errorf("first stream of %s: %w", em.Name, err)
	}
	b.progress("first stream of %s, a cold start: %.1f ms", em.Name, harness.Millis(r.total))
	off, found := unlimited(r.log)
	if !found {
		b.res.note("the log tail of the first stream of %s had no REPORT line", em.Name)
	} else {
		b.res.sandboxed(em.Name, !off)
	}
	r, err = getPlain(ctx, b.hc, b.plain.URL, warmShape.query().Encode(), buf)
	if err == nil {
		err = checkBody(buf[:r.n], want)
	}
	if err != nil {
		return fmt.Errorf("first stream of the plain server: %w", err)
	}
	return nil
}

// firstByte measures the streams of firstShape through ember and from the
// plain server, alternated one by one.
func (b *bench) firstByte(ctx context.Context, em harness.Server) error {
	paths, err := b.paths(em, firstShape)
	if err != nil {
		return err
	}
	want := firstShape.expected()
	b.progress("first byte: %d streams of %d chunks of %d B, %v apart, from each path", b.cfg.first, firstShape.chunks, firstShape.size, firstShape.pause)
	b.alternate(ctx, paths, b.cfg.first, want, false)
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, p := range paths {
		b.res.addCheck(phaseFirst, p.name, p.tally)
		if len(p.first.Lat) == 0 {
			continue
		}
		b.res.add(idFirstP50, phaseFirst, p.name, "first byte p50", unitMillis, harness.Millis(p.first.Percentile(50)))
		b.res.add(idFirstP90, phaseFirst, p.name, "first byte p90", unitMillis, harness.Millis(p.first.Percentile(90)))
		b.res.add(idTotalP50, phaseFirst, p.name, "whole stream p50", unitMillis, harness.Millis(p.total.Percentile(50)))
		b.res.add(idTotalP90, phaseFirst, p.name, "whole stream p90", unitMillis, harness.Millis(p.total.Percentile(90)))
	}
	return nil
}

// throughput measures streams of -size MB through ember and from the
// plain server, one of each unmeasured and then -n of each, alternated,
// with the CPU each side spends.
func (b *bench) throughput(ctx context.Context, em harness.Server) error {
	s := bigShape(b.cfg.sizeMB, bigSeed)
	paths, err := b.paths(em, s)
	if err != nil {
		return err
	}
	want := s.expected()
	for _, p := range paths {
		buf := make([]byte, len(want)+slack)
		r, err := p.get(ctx, buf)
		if err == nil {
			err = b.check(p, buf[:r.n], want)
		}
		if err != nil {
			return fmt.Errorf("unmeasured %d MB stream, %s: %w", b.cfg.sizeMB, p.name, err)
		}
		b.progress("unmeasured %d MB stream, %s: %.1f ms", b.cfg.sizeMB, p.name, harness.Millis(r.total))
	}
	b.progress("throughput: %d streams of %d MB from each path", b.cfg.n, b.cfg.sizeMB)
	pids := map[string]int{pathPlain: b.plain.Pid(), pathEmber: em.Pid()}
	b.alternateCPU(ctx, paths, b.cfg.n, want, pids)
	if err := ctx.Err(); err != nil {
		return err
	}
	var plainRate float64
	for _, p := range paths {
		b.res.addCheck(phaseThroughput, p.name, p.tally)
		if len(p.total.Lat) == 0 {
			continue
		}
		t := p.total.Percentile(50)
		rate := float64(s.bytes()) / mb / t.Seconds()
		b.res.add(idTimeP50, phaseThroughput, p.name, "time p50", unitMillis, harness.Millis(t))
		b.res.add(idRate, phaseThroughput, p.name, "MB/s", unitMBps, rate)
		if p.name == pathPlain {
			plainRate = rate
		} else if plainRate > 0 {
			b.res.add(idRatio, phaseThroughput, p.name, "÷ plain HTTP", unitRatio, rate/plainRate)
		}
		if p.cpuOK {
			n := len(p.total.Lat)
			b.res.add(idServerCPU, phaseThroughput, p.name, "server's CPU a stream", unitMillis, harness.Millis(p.serverCPU)/float64(n))
			b.res.add(idClientCPU, phaseThroughput, p.name, "client's CPU a stream", unitMillis, harness.Millis(p.clientCPU)/float64(n))
		}
	}
	return nil
}

// capped measures streams of -capped MB through the ember at em, which
// sends them within Lambda's bandwidth, beside the time the rule gives.
func (b *bench) capped(ctx context.Context, em harness.Server) error {
	s := bigShape(b.cfg.cappedMB, cappedSeed)
	paths, err := b.paths(em, s)
	if err != nil {
		return err
	}
	p := paths[1]
	p.name = pathCapped
	want := s.expected()
	rule := ruleTime(s.bytes())
	b.progress("Lambda's bandwidth: %d streams of %d MB through ember, %.1f s each by the rule", b.cfg.cappedN, b.cfg.cappedMB, rule.Seconds())
	b.alternate(ctx, []*path{p}, b.cfg.cappedN, want, true)
	if err := ctx.Err(); err != nil {
		return err
	}
	b.res.addCheck(phaseCapped, p.name, p.tally)
	if len(p.total.Lat) == 0 {
		return nil
	}
	t := p.total.Percentile(50)
	b.res.add(idTimeP50, phaseCapped, p.name, "time p50", unitMillis, harness.Millis(t))
	b.res.add(idRate, phaseCapped, p.name, "MB/s", unitMBps, float64(s.bytes())/mb/t.Seconds())
	b.res.add(idRule, phaseCapped, p.name, "the rule's time", unitMillis, harness.Millis(rule))
	if rule > 0 {
		b.res.add(idRatio, phaseCapped, p.name, "÷ the rule's time", unitRatio, t.Seconds()/rule.Seconds())
	}
	return nil
}

// ruleTime is how long Lambda's bandwidth takes to send n bytes: the
// first LambdaStreamBurst at once, the rest at LambdaStreamRate.
func ruleTime(n int) time.Duration {
	const burst, rate = 6 << 20, 2 << 20
	return time.Duration(float64(max(0, n-burst)) / rate * float64(time.Second))
}

// alternate fetches n streams from each of paths, one path after the
// other, and checks each against want, untimed; with progress it says
// how long each took.
func (b *bench) alternate(ctx context.Context, paths []*path, n int, want []byte, progress bool) {
	buf := make([]byte, len(want)+slack)
	sends := make([]func(int), len(paths))
	for i, p := range paths {
		sends[i] = func(k int) {
			for range k {
				r, err := p.get(ctx, buf)
				if err == nil {
					err = b.check(p, buf[:r.n], want)
				}
				if p.tally.Record(err) {
					p.first.Lat = append(p.first.Lat, r.first)
					p.total.Lat = append(p.total.Lat, r.total)
				}
				if progress {
					b.progress("%s: %.1f ms (%v)", p.name, harness.Millis(r.total), err)
				}
			}
		}
	}
	harness.InBlocks(ctx, n, 1, sends...)
}

// alternateCPU is alternate with the CPU time, around each stream, of the
// server at pids[p.name] and its descendants, and of the benchmark's own
// process; the checks are not counted.
func (b *bench) alternateCPU(ctx context.Context, paths []*path, n int, want []byte, pids map[string]int) {
	buf := make([]byte, len(want)+slack)
	cpuErr := error(nil)
	sends := make([]func(int), len(paths))
	for i, p := range paths {
		p.cpuOK = true
		sends[i] = func(k int) {
			for range k {
				server0, self0, err0 := cpuNow(pids[p.name])
				r, err := p.get(ctx, buf)
				server1, self1, err1 := cpuNow(pids[p.name])
				if err == nil {
					err = b.check(p, buf[:r.n], want)
				}
				if !p.tally.Record(err) {
					continue
				}
				p.first.Lat = append(p.first.Lat, r.first)
				p.total.Lat = append(p.total.Lat, r.total)
				if cpuErr = errors.Join(err0, err1); cpuErr != nil {
					p.cpuOK = false
					continue
				}
				d, _ := harness.CPUBetween(server0, server1)
				p.serverCPU += d
				p.clientCPU += self1 - self0
				b.progress("%s: %.1f ms", p.name, harness.Millis(r.total))
			}
		}
	}
	harness.InBlocks(ctx, n, 1, sends...)
	if cpuErr != nil {
		b.res.note("CPU times not read: %v", cpuErr)
	}
}

// cpuNow reads the CPU time of the process pid and its descendants, and
// of the benchmark's own process.
func cpuNow(pid int) (map[harness.ProcKey]time.Duration, time.Duration, error) {
	self, err := harness.SelfCPU()
	if err != nil {
		return nil, 0, err
	}
	cpus, err := harness.DescendantsCPU(pid)
	if err != nil {
		return nil, 0, err
	}
	key, cpu, err := harness.ProcCPU(pid)
	if err != nil {
		return nil, 0, err
	}
	cpus[key] = cpu
	return cpus, self, nil
}

// check checks the answer of p against want.
func (b *bench) check(p *path, got, want []byte) error {
	if p.name == pathPlain {
		return checkBody(got, want)
	}
	return checkStreamed(got, want)
}
