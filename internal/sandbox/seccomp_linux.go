package sandbox

import (
	"fmt"
	"unsafe"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
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

// loadSeccomp sets no_new_privs and loads the sandbox's filter, which
// allows every system call but the refused ones, clone with namespace
// flags, clone3 (ENOSYS, whose arguments a filter cannot read: the C
// library then falls back to clone) and every call of another
// architecture's ABI (such as 32-bit x86 on x86-64), which would get
// around the filter.
func loadSeccomp() error {
	info, err := arch.GetInfo("")
	if err != nil {
		return err
	}
	var names []string
	for _, name := range refused {
		if _, ok := info.SyscallNames[name]; ok {
			names = append(names, name)
		}
	}
	filter := seccomp.Filter{
		// For the calling thread only, which executes the command.
		NoNewPrivs: true,
		Policy: seccomp.Policy{
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
		},
	}
	if err := seccomp.LoadFilter(filter); err != nil {
		return err
	}
	return loadArchGuard(uint32(info.ID))
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
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return fmt.Errorf("load architecture filter: %w", errno)
	}
	return nil
}
