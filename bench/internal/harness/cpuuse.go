package harness

// CPUUse is the CPU time (user and system) per request, in microseconds,
// that the processes on one path of requests used during a phase's
// measurement. A process not on the path has 0 and no JSON field.
type CPUUse struct {
	Phase string `json:"phase"`
	// Path names the way the requests went: which client, to which
	// server.
	Path  string  `json:"path"`
	Total float64 `json:"total_us"`
	// Client is the benchmark's own process, during the path's turns.
	Client float64 `json:"client_us"`
	// Ember is the ember process, Runtimes its descendants; RuntimeProcs,
	// where it is counted, how many of them there were.
	Ember        float64 `json:"ember_us,omitempty"`
	Runtimes     float64 `json:"runtimes_us,omitempty"`
	RuntimeProcs int     `json:"runtime_processes,omitempty"`
	// Echo is the echo server, Proxy a proxy in front of it.
	Echo  float64 `json:"echo_us,omitempty"`
	Proxy float64 `json:"proxy_us,omitempty"`
}

// WithTotal is u with its Total, the sum of its processes'.
func (u CPUUse) WithTotal() CPUUse {
	u.Total = u.Client + u.Ember + u.Runtimes + u.Echo + u.Proxy
	return u
}
