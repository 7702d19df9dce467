// Package isolation sets up the sandboxes of one ember process: cgroups
// under a subtree of its own, a state directory for /tmp images, the
// network of outbound sandboxes, and the sandboxes and images made ahead;
// and it removes what ember processes that were killed left behind.
package isolation

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/emberfn/ember/internal/environment"
	"github.com/emberfn/ember/internal/sandbox"
	"github.com/emberfn/ember/internal/sandbox/cgroup"
)

// Setup sets up the sandboxes of this ember process: cgroups under a
// subtree of its own and a state directory for /tmp images. Where it can't
// (not Linux, not root, no cgroups) it says so loudly and returns nil: the
// functions then run as plain processes and every REPORT says that limits
// are not enforced. spareImages is how many /tmp images of each size to
// keep made ahead, blanks how many sandboxes of each network mode to keep
// started ahead, for any function. The returned func releases what was set
// up.
func Setup(log *slog.Logger, disabled bool, spareImages, blanks int) (*environment.Isolation, func() error, error) {
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
		return nil, func() error { return nil }, nil
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
	return iso, func() error {
		var errs []error
		if err := iso.Sandboxes.Close(); err != nil {
			errs = append(errs, fmt.Errorf("end the sandboxes started ahead: %w", err))
		}
		iso.Images.Close()
		if iso.Network != nil {
			if err := iso.Network.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close the sandbox network: %w", err))
			}
		}
		if iso.Cgroups != nil {
			if err := iso.Cgroups.Close(); err != nil {
				errs = append(errs, fmt.Errorf("remove cgroups: %w", err))
			}
		}
		if err := os.RemoveAll(stateDir); err != nil {
			errs = append(errs, fmt.Errorf("remove the sandboxes' state: %w", err))
		}
		return errors.Join(errs...)
	}, nil
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
