package sandbox

import (
	"fmt"
	"unsafe"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// refused are the system calls that fail with EPERM in a sandbox: they
// mount, leave or make namespaces, load code into the kernel, reconfigure
// the machine or look at other processes. Names this architecture lacks
// are left out.
var refused = []string{
	"mount", "umount", "umount2", "pivot_root", "chroot",
	"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
	"unshare", "setns",
	"ptrace",
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"bpf", "perf_event_open", "userfaultfd", "lookup_dcookie",
	"reboot", "swapon", "swapoff", "acct", "quotactl", "syslog",
	"settimeofday", "clock_settime",
	"add_key", "keyctl", "request_key",
	"open_by_handle_at", "name_to_handle_at",
	"iopl", "ioperm",
}

// cloneFlagsArg is the argument of clone that holds its flags: the first,
// on every architecture the filter library knows.
const cloneFlagsArg = 0

// namespaceFlags are clone's flags that make new namespaces.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// seccompFilter is the sandbox's filter, assembled ahead of its load: a
// sandbox started ahead assembles it while it waits for its spec.
type seccompFilter struct {
	prog []unix.SockFilter
	// native is the architecture whose ABI alone the guard lets through.
	native uint32
}

// newSeccompFilter assembles the filter that allows every system call but
// the refused ones, clone with namespace flags, clone3 (ENOSYS, whose
// arguments a filter cannot read: the C library then falls back to clone)
// and every call of another architecture's ABI (such as 32-bit x86 on
// x86-64), which would get around the filter.
func newSeccompFilter() (*seccompFilter, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, name := range refused {
		if _, ok := info.SyscallNames[name]; ok {
			names = append(names, name)
		}
	}
	policy := seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{
			{
				Action: seccomp.ActionErrno, // EPERM
				Names:  names,
				NamesWithCondtions: []seccomp.NameWithConditions{{
					Name: "clone",
					Conditions: seccomp.ArgumentConditions{{
						Argument:  cloneFlagsArg,
						Operation: seccomp.BitsSet,
						Value:     namespaceFlags,
					}},
				}},
			},
			{
				Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS),
				Names:  []string{"clone3"},
			},
		},
	}
	insts, err := policy.Assemble()
	if err != nil {
		return nil, fmt.Errorf("assemble the filter: %w", err)
	}
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, fmt.Errorf("assemble the filter: %w", err)
	}
	f := &seccompFilter{native: uint32(info.ID)}
	for _, in := range raw {
		f.prog = append(f.prog, unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K})
	}
	return f, nil
}

// load sets no_new_privs and loads the filter and the architecture guard,
// for the calling thread only: the one that executes the command.
func (f *seccompFilter) load() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	if err := loadProgram(f.prog); err != nil {
		return fmt.Errorf("load filter: %w", err)
	}
	return loadArchGuard(f.native)
}

// loadProgram loads a seccomp filter for the calling thread.
func loadProgram(prog []unix.SockFilter) error {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return errno
	}
	return nil
}

// loadArchGuard loads, for the calling thread, a filter that kills the process at a system call of
// any ABI but native's: the main filter lets those through.
func loadArchGuard(native uint32) error {
	const archOffset = 4 // of seccomp_data: nr, then arch
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: archOffset},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: native},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_KILL_PROCESS},
	}
	if err := loadProgram(prog); err != nil {
		return fmt.Errorf("load architecture filter: %w", err)
	}
	return nil
}
