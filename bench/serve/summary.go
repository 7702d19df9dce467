package main

import (
	"fmt"
	"strings"

	"github.com/emberfn/ember/bench/internal/harness"
)

// whereTimeGoes says in words where the time of an Invoke and of a
// CreateFunction goes, what recording each invocation costs, and what
// memory the functions take, computed from the figures; it leaves out
// what they lack.
func (r *results) whereTimeGoes() string {
	var s []string
	add := func(format string, a ...any) { s = append(s, fmt.Sprintf(format, a...)) }

	if m, ok := r.metric("warm_p50"); ok && m.EchoSDK != nil {
		sdk := *m.EchoSDK
		add("A warm Invoke through ember serve with the SDK took %.3f ms at p50, %.2f× a plain net/http round trip to the echo server (%.3f ms). "+
			"Through the SDK the echo server's round trip took %.3f ms, so the SDK itself added %.3f ms, and ember's path beyond it %.3f ms: "+
			"the Lambda API, the event's way to the runtime and the answer's way back (two more HTTP exchanges)%s.",
			m.Ember, m.Ratio, m.Baseline, sdk, sdk-m.Baseline, m.Ember-sdk, r.sandboxWork())
		e, eok := r.cpu(phaseSequential, pathEmberSDK)
		h, hok := r.cpu(phaseSequential, pathEchoHTTP)
		k, kok := r.cpu(phaseSequential, pathEchoSDK)
		if eok && hok && kok {
			add("Per sequential Invoke the client used %.0f µs of CPU with the SDK (%.0f µs on the echo server's path, against %.0f µs with net/http), "+
				"ember %.0f µs and the runtime %.0f µs.", e.Client, k.Client, h.Client, e.Ember, e.Runtimes)
		}
	}
	if m, ok := r.metric("concurrent_rate"); ok && m.EchoSDK != nil {
		add("With %d clients ember served %.0f Invokes/s, %.1f%% of the echo server's %.0f round trips/s with net/http and %.1f%% of its %.0f/s through the SDK.",
			r.Settings.Clients, m.Ember, 100*m.Ratio, m.Baseline, 100*harness.Ratio(m.Ember, *m.EchoSDK), *m.EchoSDK)
	}

	if m, ok := r.metric("record_p50"); ok && m.OverheadPct != nil && m.TargetPct != nil {
		verdict := "within"
		if *m.OverheadPct > *m.TargetPct {
			verdict = "over"
		}
		add("Keeping a record of each invocation and counting it in the metrics changed a warm Invoke's p50 by %s, %.3f ms against %.3f ms "+
			"in an ember started with --record=false, %s the target of at most %g%%.",
			signedPct(m.OverheadPct), m.Ember, m.Baseline, verdict, *m.TargetPct)
		if c, ok := r.metric("record_cpu"); ok && c.OverheadPct != nil {
			add("Ember's CPU per sequential Invoke changed by %s (%.0f µs against %.0f µs).", signedPct(c.OverheadPct), c.Ember, c.Baseline)
		}
		if c, ok := r.metric("record_concurrent_rate"); ok {
			add("With %d clients the ember that records served %.0f Invokes/s, the other %.0f/s.", r.Settings.Clients, c.Ember, c.Baseline)
		}
	}

	d, dok := r.metric("create_p50")
	same, sok := r.metric("create_same_p50")
	if dok && sok && d.EmberHTTP != nil && same.EmberHTTP != nil {
		add("A CreateFunction of the %d-byte zip (a %d-byte body: the zip in base64, in JSON) took %.1f ms at p50 through the SDK and %.1f ms with "+
			"the same body sent with net/http, so the SDK's building of the body (base64, JSON, and the SHA-256 of it that SigV4 signs) took "+
			"about %.1f ms; posting the body to the echo server and reading it back took %.1f ms. With the same code each time, which ember "+
			"keeps once and finds by its SHA-256, it took %.1f ms through the SDK and %.1f ms with net/http: keeping a new 10 MiB object in "+
			"JetStream took about %.1f ms of a create with code of its own, and the other %.1f ms of ember's %.1f ms (with net/http) went to "+
			"receiving the body, decoding its JSON and base64, checking and hashing the zip and saving the function.",
			r.Settings.ZipBytes, r.Settings.CreateBodyBytes, d.Ember, *d.EmberHTTP, d.Ember-*d.EmberHTTP, d.Baseline,
			same.Ember, *same.EmberHTTP, *d.EmberHTTP-*same.EmberHTTP, *same.EmberHTTP, *d.EmberHTTP)
		sd, ok1 := r.cpu(phaseCreate, pathEmberSDK+", distinct")
		hd, ok2 := r.cpu(phaseCreate, pathEmberHTTP+", distinct")
		hs, ok3 := r.cpu(phaseCreate, pathEmberHTTP+", same")
		if ok1 && ok2 && ok3 {
			add("Per create with code of its own ember used %.0f ms of CPU, and %.0f ms with the same code, %.0f%% of that create's p50 "+
				"with net/http (CPU time passes wall time when the garbage collector runs beside the harness.Request); the client used %.0f ms "+
				"through the SDK against %.0f ms with net/http.",
				hd.Ember/1000, hs.Ember/1000, 100*harness.Ratio(hs.Ember/1000, *same.EmberHTTP), sd.Client/1000, hd.Client/1000)
		}
	}
	if m, ok := r.metric("create_small_p50"); ok {
		add("A CreateFunction of the %d-byte zip took %.2f ms at p50, %.2f× a round trip of its body to the echo server (%.3f ms).",
			r.Settings.SmallZipBytes, m.Ember, m.Ratio, m.Baseline)
	}

	if m := r.Memory; m != nil {
		add("The fresh ember's resident memory went from %.1f MiB at idle to %.1f MiB with %d functions, %s a function, and reached at most %.1f MiB "+
			"(VmHWM); after they were all listed it was %.1f MiB.",
			float64(m.Idle.RSS)/(1<<20), float64(m.Created.RSS)/(1<<20), m.Functions, perFunction(m.PerFunctionRSS),
			float64(m.Created.HWM)/(1<<20), float64(m.Listed.RSS)/(1<<20))
	}
	if m, ok := r.metric("list_all"); ok && r.Settings.Pages > 0 {
		pages := r.Settings.Pages
		add("Listing them all took %.1f ms at p50, %.2f ms a page of %d (%d bytes), against %.3f ms a round trip of a page's bytes to the echo server.",
			m.Ember, m.Ember/float64(pages), r.Settings.PageSize, r.Settings.PageBytes, m.Baseline/float64(pages))
		if c, ok := r.cpu(phaseList, pathEmberSDK); ok {
			add("Ember used %.1f ms of CPU a page, the client %.2f ms.", c.Ember/1000/float64(pages), c.Client/1000/float64(pages))
		}
	}
	return strings.Join(s, " ")
}

// sandboxWork names what a sandbox adds to a warm Invoke, when there was
// one.
func (r *results) sandboxWork() string {
	if r.Sandboxed != nil && *r.Sandboxed {
		return ", and the sandbox's thaw before the event and freeze after the answer"
	}
	return ""
}
