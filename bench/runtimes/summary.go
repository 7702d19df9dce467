package main

import (
	"fmt"
	"strings"

	"github.com/emberfn/ember/bench/internal/harness"
)

// whereTimeGoes says in words where the time of a cold start and of a
// warm Invoke goes, computed from the figures; it leaves out what they
// lack.
func (r *results) whereTimeGoes() string {
	var s []string
	add := func(format string, a ...any) { s = append(s, fmt.Sprintf(format, a...)) }
	sandbox := "the environment's start"
	if r.Sandboxed != nil && *r.Sandboxed {
		sandbox = "the building of the environment's sandbox"
	}

	for _, rt := range r.Runtimes {
		c, cok := r.value(idColdP50, rt.Runtime)
		i, iok := r.value(idInitP50, rt.Runtime)
		e, eok := r.value(idExecP50, rt.Runtime)
		if !cok || !iok || !eok {
			continue
		}
		base := baselineLabel(rt.Baseline)
		if rt.Runtime == goRuntime {
			add("The Go echo's cold start took %.1f ms at p50 (Init Duration %.1f ms), against %.1f ms to start its bootstrap as a plain process, which exits at once without a Runtime API.",
				c, i, e)
			continue
		}
		add("A %s cold start took %.1f ms at p50 from request to response, %.1f ms more than starting `%s` as a plain process (%.1f ms), %.2f× as long. "+
			"Ember's Init Duration, from the runtime's exec to its first request for an event, was %.1f ms at p50: the interpreter's start, "+
			"ember's runtime client and the import of the handler, %.1f ms beyond the plain process; "+
			"the other %.1f ms or so are the Invoke's way through ember, %s and the invocation itself.",
			rt.Runtime, c, c-e, base, e, harness.Ratio(c, e), i, i-e, c-i, sandbox)
	}

	g, gok := r.value(idWarmP50, goRuntime)
	var warm []string
	for _, rt := range r.Runtimes {
		if rt.Runtime == goRuntime {
			continue
		}
		if v, ok := r.value(idWarmP50, rt.Runtime); ok && gok {
			p99, _ := r.value(idWarmP99, rt.Runtime)
			warm = append(warm, fmt.Sprintf("a %s one %.3f ms (p99 %.2f ms), %+.3f ms", rt.Runtime, v, p99, v-g))
		}
	}
	if gok && len(warm) > 0 {
		p99, _ := r.value(idWarmP99, goRuntime)
		add("Warm, an Invoke of the Go echo took %.3f ms at p50 (p99 %.2f ms), %s: what each runtime client adds to ember's path (the event's way to the runtime and the answer's way back), "+
			"decoding the event and encoding the answer in the interpreter.",
			g, p99, strings.Join(warm, ", and "))
	}
	return strings.Join(s, " ")
}
