package main

import (
	"context"
	"fmt"

	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	// pathNoRecord is the path of Invokes through the SDK to the ember
	// started with --record=false.
	pathNoRecord = "ember --record=false (SDK)"
	// recordTarget is the most, in percent, that keeping a record of each
	// invocation and counting it in the metrics may add to a warm Invoke's
	// p50.
	recordTarget = 2.0
)

// recording measures what ember's record of each invocation (priced at
// Lambda's rates) and its Prometheus metrics cost a warm Invoke: Invokes
// of the echo function in em, which records, take turns with Invokes of
// the same function in bare, an ember started with --record=false, one
// after the other and with concurrent clients.
func (b *bench) recording(ctx context.Context, em, bare harness.Server) error {
	bareSDK := harness.NewLambdaClient(bare.URL, b.hc)
	b.progress("creating the echo function in %s (%d MB)", bare.Name, b.cfg.memory)
	if _, err := createSDK(ctx, bareSDK, echoFunction, b.code.echo, b.cfg.memory); err != nil {
		return err
	}
	body := payload()
	seq := []*path{
		{Name: pathEmberSDK, Do: harness.InvokeSDK(harness.NewLambdaClient(em.URL, b.hc), echoFunction, body)},
		{Name: pathNoRecord, Do: harness.InvokeSDK(bareSDK, echoFunction, body)},
	}
	if _, err := seq[1].Do(ctx); err != nil {
		return fmt.Errorf("first Invoke of the echo function in %s: %w", bare.Name, err)
	}
	enforced, err := limitsEnforced(ctx, bareSDK, echoFunction, body)
	if err != nil {
		return err
	}
	if b.res.Sandboxed != nil && enforced != *b.res.Sandboxed {
		b.res.note("the REPORT lines of the ember with --record=false say limits enforced: %v, those of the first ember %v: the two differ in more than recording",
			enforced, *b.res.Sandboxed)
	}

	conc := fmt.Sprintf("%s, %d clients", phaseRecord, b.cfg.clients)
	b.progress("%s: %v of %d clients, %d sequential warm-up and %d measured invocations through each of %d paths",
		phaseRecord, concWarmup, b.cfg.clients, b.cfg.warmup, b.cfg.n, len(seq))
	// Both embers start an environment for each client first, as the
	// first did in the concurrent phase, so that both have as many.
	b.warmupConcurrent(ctx, conc, seq)
	b.warmup(ctx, phaseRecord, seq, b.cfg.warmup)
	cpu := newCPUMeter(em.Pid(), b.echo.Pid())
	cpu.setEmber(pathNoRecord, bare.Pid())
	inBlocks(ctx, cpu, seq, b.cfg.n)
	if err := ctx.Err(); err != nil {
		return err
	}
	b.res.addPaths(phaseRecord, cpu, seq)

	b.progress("%s: %v measured through each path, in turns of %v", conc, b.cfg.duration, concRound)
	paths := make([]*path, len(seq))
	for i, p := range seq {
		paths[i] = &path{Name: p.Name, Do: p.Do}
	}
	cpu = newCPUMeter(em.Pid(), b.echo.Pid())
	cpu.setEmber(pathNoRecord, bare.Pid())
	inRounds(ctx, cpu, paths, b.cfg.clients, b.cfg.duration)
	if err := ctx.Err(); err != nil {
		return err
	}
	b.res.addPaths(conc, cpu, paths)

	for _, p := range []float64{50, 90} {
		f := func(s harness.Samples) float64 { return harness.Millis(s.Percentile(p)) }
		m := recordMetric(fmt.Sprintf("record_p%g", p), fmt.Sprintf("warm Invoke p%g (%d B)", p, payloadSize), harness.UnitMillis,
			f(seq[0].Samples), f(seq[1].Samples))
		if p == 50 {
			t := recordTarget
			m.TargetPct = &t
		}
		b.res.addMetric(m)
	}
	b.addRecordCPU("record_cpu", "ember's CPU per Invoke, sequential", phaseRecord)
	b.res.addMetric(recordMetric("record_concurrent_rate", fmt.Sprintf("warm Invokes/s, %d clients", b.cfg.clients), harness.UnitPerSecond,
		paths[0].Samples.Rate(), paths[1].Samples.Rate()))
	b.addRecordCPU("record_concurrent_cpu", fmt.Sprintf("ember's CPU per Invoke, %d clients", b.cfg.clients), conc)
	return nil
}

// addRecordCPU adds the CPU time per Invoke of ember's process, recording
// and not, in phase, when it was measured.
func (b *bench) addRecordCPU(id, label, phase string) {
	with, ok := b.res.cpu(phase, pathEmberSDK)
	without, ok2 := b.res.cpu(phase, pathNoRecord)
	if ok && ok2 {
		b.res.addMetric(recordMetric(id, label, harness.UnitMicros, with.Ember, without.Ember))
	}
}

// recordMetric is a figure of the recording phase: with of the ember that
// records, without of the one started with --record=false.
func recordMetric(id, label, unit string, with, without float64) metric {
	m := metric{Group: groupRecord, ID: id, Label: label, Unit: unit, Ember: with, Baseline: without}
	if with > 0 && without > 0 {
		o := overhead(unit, with, without)
		m.OverheadPct = &o
	}
	return m
}

// overhead is what recording adds, in percent of the figure without it:
// of a time, or, for a rate, of the time per invocation, its inverse.
func overhead(unit string, with, without float64) float64 {
	if unit == harness.UnitPerSecond {
		return 100 * (without/with - 1)
	}
	return 100 * (with - without) / without
}
