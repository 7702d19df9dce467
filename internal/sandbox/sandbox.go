// Package sandbox owns the Linux isolation of one process tree: its own
// mount, PID, network, IPC and UTS namespaces (and user namespace, where the
// machine allows one), a read-only root built from bind mounts or from a
// container image's layers stacked by overlayfs, a disk-backed and size-limited /tmp, resource limits, the unprivileged user
// the tree runs as and a seccomp filter.
//
// A sandbox is started stopped just before the start of its command, so
// that the caller can attach it to a cgroup and open listeners inside its
// network before the command runs; Exec releases it (or Spec.ExecWhenBuilt,
// at once). The init stage that builds the sandbox is the calling binary
// itself, re-executed with InitArg: a program that uses this package calls
// IsInit and RunInit first thing in main. The init stage starts the command
// as its child and stays as the sandbox's process 1 until the command ends.
//
// What does not depend on the Spec comes first, so that a Pool can start
// sandboxes ahead of need and build each from one when asked.
//
// The package knows nothing of Lambda.
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrUnsupported is returned by Start where a sandbox cannot be made: not
// Linux, not root, or namespaces unavailable.
var ErrUnsupported = errors.New("sandbox: unsupported here (needs Linux, root and namespaces)")

// InitArg, as the first argument, marks the binary's re-execution as a
// sandbox's init stage.
const InitArg = "ember-sandbox-init"

// IsInit reports whether the process was started as a sandbox's init stage.
func IsInit(args []string) bool {
	return len(args) == 2 && args[1] == InitArg
}

// Helper is a program that runs beside a sandbox's command.
type Helper struct {
	// Command is the absolute path of the program inside the sandbox and
	// its arguments.
	Command []string
	// Env is the helper's whole environment.
	Env []string
	// Output, when set, becomes the helper's fds 1 and 2; nil shares
	// the command's (Spec.Stdout and Spec.Stderr).
	Output *os.File `json:"-"`
}

// Bind makes a host file or directory visible inside the sandbox.
type Bind struct {
	// Source is the host path. Empty, or a path that does not exist, gives
	// an empty read-only directory at Target.
	Source string
	// Target is the absolute path inside the sandbox.
	Target string
	// Writable leaves the bind writable; binds are read-only otherwise.
	Writable bool
}

// Spec says what a sandbox holds and runs.
//
// Every sandbox also gets a new /proc, a minimal /dev (null, zero, full,
// random, urandom, tty, the fd links and a 64 MB /dev/shm), a network
// namespace with loopback up (and more as Network says), RLIMIT_NOFILE and RLIMIT_NPROC of
// 1024/1024, no_new_privs and a seccomp filter that refuses the system
// calls that reconfigure the kernel or leave the namespaces.
//
// Without a user namespace, the kernel counts RLIMIT_NPROC per user on the
// whole host: the sandboxes that share a UID share those 1024 processes
// and threads.
type Spec struct {
	// Command is the absolute path of the program inside the sandbox and
	// its arguments.
	Command []string
	// Env is the command's whole environment.
	Env []string
	// Helpers are programs that run beside the command, started by the
	// init stage just after it (as the same user, in the same directory,
	// with the same standard files and seccomp filter). The sandbox lasts
	// until the command and every helper have ended; Wait still tells how
	// the command ended, and AfterCommandExit says when.
	Helpers []Helper
	// OnHelperExit, if set, is called with a helper's index and wait status
	// when it ends, on the goroutine that follows the sandbox. It must not
	// block.
	OnHelperExit func(i int, status syscall.WaitStatus)
	// Dir is the working directory inside the sandbox; "" is /.
	Dir string
	// Binds are mounted in order of depth, parents first. Their sources
	// must be readable by UID.
	Binds []Bind
	// HostRoot binds the host's /usr, /lib, /lib64, /lib32, /bin and /sbin
	// read-only (the ones that are symbolic links, as on merged-/usr
	// systems, become the same links), so that host programs and shared
	// libraries run inside.
	HostRoot bool
	// Image are the host directories of a container image's unpacked
	// layers, topmost first, shown together as the sandbox's read-only
	// root instead of HostRoot (an overlay mount made inside the sandbox,
	// so nothing is copied and nothing outlives the sandbox). The layers'
	// whiteouts must be in overlayfs's form: 0:0 character devices, and
	// trusted.overlay.opaque=y on opaque directories. Mount points the
	// image lacks (/proc, /dev, /tmp, /etc, bind targets) are made on a
	// small per-sandbox tmpfs above the layers; the root is read-only once
	// built. A sandbox of an image has no user namespace, and a Pool starts
	// it from nothing.
	Image []string
	// Etc are the files of the sandbox's /etc, by name relative to /etc
	// (passwd, group, hosts, resolv.conf, nsswitch.conf, ...). Without
	// Image they are the whole /etc, plus the host's /etc/ssl/certs when
	// it exists; with Image they replace the image's files of the same
	// names, and its other files stay.
	Etc map[string]string
	// Tmp is the writable /tmp.
	Tmp TmpSpec
	// Hostname is the sandbox's host name.
	Hostname string
	// UID and GID are the unprivileged user and group the command runs as,
	// with no supplementary groups.
	UID, GID int
	// Stdout and Stderr become the command's fds 1 and 2; nil is
	// /dev/null. Standard input is always /dev/null.
	Stdout, Stderr *os.File
	// Cgroup, if set, is given the host pid of the sandbox's process before
	// its command is executed.
	Cgroup interface{ Add(pid int) error }
	// NoProcRlimit leaves RLIMIT_NPROC alone, for a caller that limits
	// the tree's processes another way (a pids cgroup). Without a user
	// namespace the kernel counts RLIMIT_NPROC per user across the whole
	// host, so sandboxes that share a UID share it.
	NoProcRlimit bool
	// Network is what the sandbox's network namespace holds besides
	// loopback: nothing (NetworkNone) or a link to the host and beyond it
	// (NetworkOutbound, with Outbound).
	Network NetworkMode
	// Outbound gives a NetworkOutbound sandbox its link and addresses.
	Outbound *Network
	// Listen are TCP addresses, such as "127.0.0.1:9001", to listen on in
	// the sandbox's network before the command starts. Listeners gives
	// them to the caller, who serves and closes them.
	Listen []string
	// ExecWhenBuilt starts the command as soon as the sandbox is built,
	// without waiting for Exec, which must still be called and reports
	// whether it started. It spares a cold start a round trip between
	// the two sides.
	ExecWhenBuilt bool

	// noMountAPI has /tmp's image mounted as on a kernel without the
	// mount API (Linux 5.2), and an image's overlay made with the classic
	// option string (as before Linux 6.8), for the tests of those paths.
	noMountAPI bool
}

// NetworkMode is what a sandbox's network namespace holds.
type NetworkMode int

const (
	// NetworkNone is loopback only.
	NetworkNone NetworkMode = iota
	// NetworkOutbound adds eth0, one end of a veth pair whose other end is
	// on the host, with a link-local address of its own /30 in
	// 169.254.128.0/17 and a default route through the host end. The
	// sandbox reaches what the host routes to (beyond it if the Network
	// masquerades) and the host's services that listen on all addresses,
	// under HostAlias; not those that listen on the host's loopback
	// only. /etc/hosts maps HostAlias to the host end's address, after
	// the lines of Etc["hosts"] (or, without it, of the image's hosts
	// with Image, or localhost).
	NetworkOutbound
)

func (m NetworkMode) String() string {
	switch m {
	case NetworkNone:
		return "none"
	case NetworkOutbound:
		return "outbound"
	}
	return fmt.Sprintf("NetworkMode(%d)", int(m))
}

// HostAlias is the name of the host, inside a NetworkOutbound sandbox.
const HostAlias = "host.ember.internal"

// TmpSpec is the writable /tmp of a sandbox.
type TmpSpec struct {
	// SizeMB is the size of the file system.
	SizeMB int
	// Image is the host path of a file that holds /tmp's ext4 file system.
	// It is created, sparse, when missing and kept otherwise, so that /tmp
	// lasts across the sandboxes that are given the same Image (one at a
	// time); the caller deletes it. /tmp is then storage on the host's disk,
	// not memory. Empty Image makes /tmp a tmpfs of SizeMB, whose pages
	// count as the sandbox's memory.
	Image string
	// Images is the pool that Image was taken from, if it was: its file
	// system may be mounted there already.
	Images *ImagePool
}
