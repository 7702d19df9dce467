package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/emberfn/ember/internal/environment"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/sandbox"
	"github.com/emberfn/ember/internal/sandbox/cgroup"
)

// isolation sets up the sandboxes of this ember process: cgroups under a
// subtree of its own and a state directory for /tmp images. Where it can't
// (not Linux, not root, no cgroups) it says so loudly and returns nil: the
// functions then run as plain processes and every REPORT says that limits
// are not enforced. spareImages is how many /tmp images of each size to
// keep made ahead, blanks how many sandboxes of each network mode to keep
// started ahead, for any function. The returned func releases what was set
// up.
func isolation(log *slog.Logger, disabled bool, spareImages, blanks int) (*environment.Isolation, func(), error) {
	why := ""
	switch {
	case disabled:
		why = "the sandbox was switched off (--no-sandbox)"
	case runtime.GOOS != "linux":
		why = "sandboxes need Linux"
	case os.Geteuid() != 0:
		why = "sandboxes need root"
	}
	if why != "" {
		log.Warn("LIMITS ARE NOT ENFORCED: functions run as plain processes, without memory, CPU or /tmp limits, freezing or isolation: " + why)
		return nil, func() {}, nil
	}
	removeStaleStateDirs(log)
	stateDir, err := os.MkdirTemp("", fmt.Sprintf("ember-state-%d-", os.Getpid()))
	if err != nil {
		return nil, nil, fmt.Errorf("state directory: %w", err)
	}
	iso := &environment.Isolation{StateDir: stateDir, Images: sandbox.NewImagePool(stateDir, spareImages)}
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		iso.ResolvConf = string(b)
	}
	if network, err := sandbox.NewNetwork(); err != nil {
		log.Warn("sandboxes get no network beyond loopback", "err", err)
	} else {
		iso.Network = network
		if err := network.NAT(); err != nil {
			log.Warn("outbound sandboxes reach this host only, not beyond: no NAT", "err", err)
		}
	}
	iso.Sandboxes = sandbox.NewPool(blanks, iso.Network)
	// The start time in the name keeps a subtree that a killed ember left
	// behind from blocking a later one with the same pid.
	cgroups, err := cgroup.New(fmt.Sprintf("ember-%d-%d", os.Getpid(), time.Now().UnixNano()))
	switch {
	case errors.Is(err, cgroup.ErrUnsupported):
		log.Warn("LIMITS ARE NOT ENFORCED: no usable cgroups; functions run sandboxed but without memory, CPU or pids limits or freezing", "err", err)
	case err != nil:
		iso.Sandboxes.Close()
		iso.Images.Close()
		if iso.Network != nil {
			iso.Network.Close()
		}
		os.RemoveAll(stateDir)
		return nil, nil, fmt.Errorf("cgroups: %w", err)
	default:
		iso.Cgroups = cgroups
		log.Debug("sandboxes with cgroups", "mode", cgroups.Mode())
		if err := cgroups.RemoveStale(staleSubtree); err != nil {
			log.Warn("cgroups that a killed ember left behind could not all be removed", "err", err)
		}
		// Without limits, beside the environments' groups (whose names
		// have no "sandbox-" prefix).
		if iso.Inits, err = cgroups.NewGroup("sandbox-inits", cgroup.Limits{}); err != nil {
			log.Warn("sandboxes' init stages stay in their runtime's cgroup", "err", err)
		}
	}
	return iso, func() {
		if err := iso.Sandboxes.Close(); err != nil {
			log.Warn("end the sandboxes started ahead", "err", err)
		}
		iso.Images.Close()
		if iso.Network != nil {
			if err := iso.Network.Close(); err != nil {
				log.Warn("remove the NAT rule", "err", err)
			}
		}
		if iso.Cgroups != nil {
			if err := iso.Cgroups.Close(); err != nil {
				log.Warn("remove cgroups", "err", err)
			}
		}
		os.RemoveAll(stateDir)
	}, nil
}

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

// staleSubtree reports whether a cgroup subtree is one that an ember
// process made and left behind when it was killed: named
// ember-PID-STARTNANOS, with no process of that pid alive.
func staleSubtree(name string) bool {
	var pid, nanos int64
	if n, err := fmt.Sscanf(name, "ember-%d-%d", &pid, &nanos); err != nil || n != 2 || fmt.Sprintf("ember-%d-%d", pid, nanos) != name {
		return false
	}
	if pid == int64(os.Getpid()) {
		return false
	}
	return syscall.Kill(int(pid), 0) == syscall.ESRCH
}

// removeStaleStateDirs removes what ember processes that were killed left
// in the temporary directory: their state directories (sandboxes' /tmp
// images among them), named ember-state-PID-…, and the empty directories
// their sandboxes' roots were built on, ember-sandbox-PID-…, where no
// process of that pid is alive.
func removeStaleStateDirs(log *slog.Logger) {
	for _, kind := range []struct {
		prefix string
		remove func(string) error
	}{{"ember-state-", os.RemoveAll}, {"ember-sandbox-", os.Remove}} {
		dirs, err := filepath.Glob(filepath.Join(os.TempDir(), kind.prefix+"*"))
		if err != nil {
			continue
		}
		for _, dir := range dirs {
			var pid int
			if _, err := fmt.Sscanf(filepath.Base(dir), kind.prefix+"%d-", &pid); err != nil || pid == os.Getpid() {
				continue
			}
			if syscall.Kill(pid, 0) != syscall.ESRCH {
				continue
			}
			if err := kind.remove(dir); err != nil {
				log.Warn("what a killed ember left behind could not be removed", "dir", dir, "err", err)
			}
		}
	}
}
