package main

import (
	"flag"

	"github.com/emberfn/ember/internal/function"
)

// startedSandboxesUsage explains --started-sandboxes, a flag of the
// commands that serve invocations.
const startedSandboxesUsage = "sandboxes kept started ahead for any function, waiting to be built for the next cold start that needs one (0: each started when needed)"

// sandboxFlags are the flags of every command that runs functions in
// sandboxes.
type sandboxFlags struct {
	noSandbox *bool
	tmpMB     *int
	network   *string
}

func addSandboxFlags(fs *flag.FlagSet) sandboxFlags {
	return sandboxFlags{
		noSandbox: fs.Bool("no-sandbox", false, "run functions as plain processes: no isolation, no limits"),
		tmpMB:     fs.Int("ephemeral-storage", function.MinTmpMB, "size of /tmp in MB (512–10240)"),
		network:   fs.String("network", function.NetworkOutbound, "the function's network: outbound (as on Lambda) or none (loopback only)"),
	}
}

// apply puts the flags' figures into fn and checks it.
func (f sandboxFlags) apply(fn *function.Config) error {
	fn.EphemeralStorageMB = *f.tmpMB
	fn.Network = *f.network
	if err := fn.Validate(); err != nil {
		return &usageError{err.Error()}
	}
	return nil
}
