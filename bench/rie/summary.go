package main

import (
	"fmt"
	"strings"

	"github.com/emberfn/ember/bench/internal/harness"
)

// whereTimeGoes says in words where the time and CPU of a warm invocation
// go, computed from the figures; it leaves out what they lack.
func (r *results) whereTimeGoes() string {
	var s []string
	add := func(format string, a ...any) { s = append(s, fmt.Sprintf(format, a...)) }

	if m, ok := r.metric("warm_p50"); ok && m.Baseline > 0 && m.Proxy != nil && *m.Proxy > m.Baseline {
		hop := *m.Proxy - m.Baseline
		add("A sequential invocation through the sandboxed ember took %.3f ms at p50, %.2f× the echo's round trip of %.3f ms; "+
			"through the plain proxy the round trip took %.3f ms (%.2f×), so one more process and HTTP hop cost %.3f ms.",
			m.Ember, m.Ratio, m.Baseline, *m.Proxy, *m.ProxyRatio, hop)
		// Beyond the client's request, ember answers the runtime's
		// GET /next with the event and takes the runtime's POST of the
		// response.
		hops := m.Baseline + 2*hop
		target := ""
		if m.Target != nil {
			target = " (the target is " + m.Target.bound(m.Unit) + ")"
		}
		rest := "as much as ember's p50 or more"
		if d := m.Ember - hops; d > 0 {
			rest = fmt.Sprintf("which leaves %.3f ms (%.0f%%) of ember's p50 to what ember and the runtime do besides", d, 100*d/m.Ember)
		}
		add("Ember's path has three HTTP exchanges, two more than the echo's (the event as the answer to the runtime's GET /next, "+
			"the runtime's POST of the response): at the proxy's price per hop, three would take %.3f ms, %.2f× the echo's round trip%s, %s.",
			hops, hops/m.Baseline, target, rest)
	}

	if c, ok := r.comparison("warm_p50"); ok {
		target := ""
		if t := c.Target; t != nil && t.Of == boundDifference {
			target = fmt.Sprintf(" (the target is ≤ %g ms)", t.Value)
		}
		cpu := ""
		if e, n, ok := r.cpuSandbox("sequential"); ok {
			cpu = fmt.Sprintf(" and %.0f µs of CPU per invocation (ember %+.0f µs, the runtime %+.0f µs, the client %+.0f µs)",
				e.Total-n.Total, e.Ember-n.Ember, e.Runtimes-n.Runtimes, e.Client-n.Client)
		}
		add("Without the sandbox (--no-sandbox) it took %.3f ms, so the sandbox, with its thaw before each invocation and its freeze after, "+
			"added %.3f ms%s%s.", c.NoSandbox, c.Difference, target, cpu)
	}
	prepared, pok := r.comparison("cold_p50")
	onDemand, dok := r.comparison("cold_on_demand_p50")
	nothing, nok := r.comparison("cold_nothing_ahead_p50")
	if pok && dok && nok {
		forkExec := ""
		if prepared.Baseline != nil {
			forkExec = fmt.Sprintf("; a fork, exec and wait of the bootstrap took %.2f ms", *prepared.Baseline)
		}
		add("A sandboxed cold start took %.2f ms at p50 from a sandbox built ahead (ember's default), %.2f ms with its sandbox "+
			"built on demand from one started ahead (--prepared-sandboxes 0, with --started-sandboxes 1, the default) "+
			"and %.2f ms with nothing made ahead (--prepared-sandboxes 0 --started-sandboxes 0), "+
			"%.2f ms, %.2f ms and %.2f ms more than a --no-sandbox one (%.2f ms)%s.",
			prepared.Sandboxed, onDemand.Sandboxed, nothing.Sandboxed,
			prepared.Difference, onDemand.Difference, nothing.Difference, prepared.NoSandbox, forkExec)
	}
	initPrepared, ipok := r.comparison("init_p50")
	initOnDemand, idok := r.comparison("init_on_demand_p50")
	initNothing, inok := r.comparison("init_nothing_ahead_p50")
	if ipok && idok && inok {
		add("Ember's own Init Duration, from the runtime's exec to its first /next, was %.2f ms, %.2f ms, %.2f ms and %.2f ms at p50 "+
			"(sandbox built ahead, built on demand, nothing made ahead, --no-sandbox); it leaves out the building of the sandbox, "+
			"what ember does before, and the invocation itself.",
			initPrepared.Sandboxed, initOnDemand.Sandboxed, initNothing.Sandboxed, initPrepared.NoSandbox)
	}

	if e, b, p, ok := r.cpuPaths("sequential"); ok {
		add("Per sequential invocation the runtime used %.0f µs of CPU, ember %.0f µs (%.1f× the proxy's %.0f µs per request) "+
			"and the client %.0f µs, %.0f µs in all, against %.0f µs for a round trip to the echo (the server %.0f µs) and %.0f µs through the proxy.",
			e.Runtimes, e.Ember, harness.Ratio(e.Ember, p.Proxy), p.Proxy, e.Client, e.Total, b.Total, b.Echo, p.Total)
	}

	clients := fmt.Sprintf("%d clients", r.Settings.Clients)
	e, b, p, ok := r.cpuPaths(clients)
	m, mok := r.metric("concurrent_rate")
	if !ok || !mok || m.ProxyRatio == nil {
		return strings.Join(s, " ")
	}
	add("With %s on %d CPUs an invocation through ember used %.0f µs of CPU (runtimes %.0f, ember %.0f, client %.0f), "+
		"a round trip to the echo %.0f µs and one through the proxy %.0f µs; were CPU the only limit, "+
		"ember would reach %.0f%% of the echo's rate and the proxy %.0f%%: they reached %.1f%% and %.1f%%, "+
		"keeping %.1f, %.1f and %.1f CPUs busy.",
		clients, r.CPUs, e.Total, e.Runtimes, e.Ember, e.Client, b.Total, p.Total,
		100*harness.Ratio(b.Total, e.Total), 100*harness.Ratio(b.Total, p.Total), 100*m.Ratio, 100**m.ProxyRatio,
		e.Total*m.Ember/1e6, b.Total*m.Baseline/1e6, p.Total**m.Proxy/1e6)
	if t := m.Target; t != nil && t.Op == ">=" && t.Ratio > 0 && !*m.Met {
		budget, others := b.Total/t.Ratio, e.Runtimes+e.Client
		if left := budget - others; left > 0 {
			add("The %s target allows %.0f µs of CPU per invocation; the runtimes and the client take %.0f µs of it, "+
				"which leaves %.0f µs for ember, against the %.0f µs it used.", t.bound(m.Unit), budget, others, left, e.Ember)
		} else {
			add("The %s target allows %.0f µs of CPU per invocation; the runtimes and the client alone take %.0f µs, "+
				"so were CPU the only limit, an ember that used none would still miss it here.", t.bound(m.Unit), budget, others)
		}
	}
	return strings.Join(s, " ")
}

func (r *results) comparison(id string) (comparison, bool) {
	for _, c := range r.Sandbox {
		if c.ID == id {
			return c, true
		}
	}
	return comparison{}, false
}

// cpuSandbox returns the CPU time per request of the sandboxed and the
// --no-sandbox ember's paths of phase.
func (r *results) cpuSandbox(phase string) (sandboxed, plain harness.CPUUse, ok bool) {
	n := 0
	for _, c := range r.CPU {
		if c.Phase != phase {
			continue
		}
		switch c.Path {
		case pathNameEmber:
			sandboxed, n = c, n+1
		case pathNameNoSandbox:
			plain, n = c, n+1
		}
	}
	return sandboxed, plain, n == 2
}

func (r *results) metric(id string) (metric, bool) {
	for _, m := range r.Metrics {
		if m.ID == id {
			return m, true
		}
	}
	return metric{}, false
}

// cpuPaths returns the CPU time per request of the ember, echo and proxy
// paths of phase.
func (r *results) cpuPaths(phase string) (ember, echo, proxy harness.CPUUse, ok bool) {
	n := 0
	for _, c := range r.CPU {
		if c.Phase != phase {
			continue
		}
		switch c.Path {
		case pathNameEmber:
			ember, n = c, n+1
		case pathNameEcho:
			echo, n = c, n+1
		case pathNameProxy:
			proxy, n = c, n+1
		}
	}
	return ember, echo, proxy, n == 3
}
