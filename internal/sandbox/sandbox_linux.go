package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emberfn/ember/internal/sandbox/pidfd"
	"golang.org/x/sys/unix"
)

// The files the init stage inherits, after stdin, stdout and stderr.
const (
	fdSpec   = 3 + iota // a socket: the initSpec as JSON, up to EOF, with the files it names
	fdGo                // one byte releases the exec; EOF cancels it
	fdStatus            // initMessages back; close-on-exec, so EOF after "ready" is a successful exec
)

// errInitEnded is the error of a sandbox whose init stage ended before it
// was ready, without saying why: killed, most often.
var errInitEnded = errors.New("init stage ended before it was ready")

// stepTimeout bounds each wait on the init stage: its set-up, its exec and
// its end after SIGKILL.
const stepTimeout = 10 * time.Second

// phase is where a Sandbox is in its life.
type phase int

const (
	phaseBlank     phase = iota // the init stage waits for its spec
	phaseReady                  // the init stage waits before exec
	phaseRunning                // released; the command runs (or exec failed)
	phaseDestroyed              // killed and cleaned up
)

func (p phase) String() string {
	switch p {
	case phaseBlank:
		return "blank"
	case phaseReady:
		return "ready"
	case phaseRunning:
		return "running"
	case phaseDestroyed:
		return "destroyed"
	}
	return fmt.Sprintf("phase(%d)", int(p))
}

// Sandbox is one started sandbox and its process.
type Sandbox struct {
	cmd *exec.Cmd
	// root is the host directory on which the init stage builds the new
	// root, inside its own mount namespace; on the host it stays empty, and
	// goes once the sandbox is ready.
	root string
	// loopDev is the loop device that holds /tmp, or "", and loopFile the
	// image it holds, as the kernel names it.
	loopDev, loopFile string
	// network is the mode the sandbox was started with, and veth an
	// outbound sandbox's link.
	network NetworkMode
	veth    *veth
	// userNS says that the sandbox has a user namespace of its own.
	userNS bool
	// specConn is this side's end of the spec socket, until the spec is
	// sent.
	specConn *os.File
	// statusFile brings the init stage's messages, which readMessages
	// passes on to messages (but for the command's exit, which it keeps in
	// exit) until it closes messages and messagesRead at the init stage's
	// end. There are few: messages holds them all.
	statusFile   *os.File
	messages     chan initMessage
	messagesRead chan struct{}
	exit         *uint32

	// done is closed when the process has ended and status and waitErr
	// are set.
	done    chan struct{}
	status  syscall.WaitStatus
	waitErr error

	// mu guards the fields below.
	mu sync.Mutex
	// phase is changed by transitionLocked only.
	phase phase
	// goPipe releases the init stage; nil once written or closed.
	goPipe *os.File
	// commandPid is the command's host pid, once started.
	commandPid int
	// started is when the init stage started the command.
	started time.Time
	// listeners are those of Spec.Listen, until Listeners hands them over.
	listeners []net.Listener
	// ended is set once the process has ended and afterExit has been
	// taken to run.
	ended     bool
	afterExit []func()
	// commandEnded is set once the command's end is known and
	// afterCommandExit has been taken to run.
	commandEnded     bool
	commandStatus    syscall.WaitStatus
	afterCommandExit []func()
	// onHelperExit is Spec.OnHelperExit.
	onHelperExit func(i int, status syscall.WaitStatus)
}

// Start creates a sandbox as spec says and runs its init stage up to just
// before the exec of the command: Exec releases it, Destroy ends it.
func Start(spec Spec) (*Sandbox, error) {
	if err := validate(spec); err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	// Without the mount API the init stage mounts /tmp's device, which
	// the root of a user namespace may not. An image's layers it mounts
	// by path, which an unprivileged user of the host may not reach, and
	// their opaque directories are marked with trusted.overlay.opaque,
	// which an overlay mounted in a user namespace does not read.
	s, err := startBlank(spec.Network, spec.Outbound, !spec.noMountAPI && len(spec.Image) == 0)
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	if err := s.build(spec); err != nil {
		s.Destroy()
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	return s, nil
}

// startBlank starts a sandbox's process in its new namespaces, with the
// link of an outbound sandbox, and leaves its init stage waiting for the
// spec: all that a sandbox needs before it knows what it will hold. build
// sends the spec.
func startBlank(mode NetworkMode, outbound *Network, userNS bool) (_ *Sandbox, err error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("not root: %w", ErrUnsupported)
	}
	// Named by this process, so that a later one can tell it was left
	// behind by a process that was killed.
	root, err := os.MkdirTemp("", fmt.Sprintf("ember-sandbox-%d-", os.Getpid()))
	if err != nil {
		return nil, err
	}
	// files are this side's ends of what the init stage inherits; they are
	// closed once it has them.
	var files []*os.File
	closeFiles := func() {
		for _, f := range files {
			f.Close()
		}
		files = nil
	}
	s := &Sandbox{root: root, network: mode, done: make(chan struct{})}
	started := false
	defer func() {
		if err == nil {
			return
		}
		closeFiles()
		if started {
			s.Destroy()
			return
		}
		for _, f := range []*os.File{s.goPipe, s.statusFile, s.specConn} {
			if f != nil {
				f.Close()
			}
		}
		os.Remove(root)
	}()

	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("spec socket: %w", err)
	}
	s.specConn = os.NewFile(uintptr(pair[0]), "spec")
	files = append(files, os.NewFile(uintptr(pair[1]), "spec"))
	goR, goW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	files = append(files, goR)
	s.goPipe = goW
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	files = append(files, statusW)
	s.statusFile = statusR
	s.messages = make(chan initMessage, 8)
	s.messagesRead = make(chan struct{})

	// The running binary, even if its file has been replaced since. Its
	// standard files are /dev/null until the spec brings others.
	cmd := exec.Command("/proc/self/exe", InitArg)
	cmd.Env = []string{}
	cmd.ExtraFiles = files
	cmd.SysProcAttr = sysProcAttr()
	s.cmd = cmd
	err = errNoUserNS
	if userNS && userNSUsable(root) {
		useUserNS(cmd.SysProcAttr)
		err = cmd.Start()
	}
	s.userNS = err == nil
	if errors.Is(err, errNoUserNS) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EUSERS) {
		// No user namespace here (unprivileged ones switched off, or
		// their limit reached): the other namespaces still isolate.
		cmd.SysProcAttr = sysProcAttr()
		err = cmd.Start()
	}
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
			return nil, fmt.Errorf("namespaces: %w (%w)", ErrUnsupported, err)
		}
		return nil, err
	}
	started = true
	closeFiles()
	go s.watch()

	blank := blankMessage{Root: root}
	if mode == NetworkOutbound {
		if s.veth, err = outbound.newVeth(s.Pid()); err != nil {
			return nil, fmt.Errorf("outbound network: %w", err)
		}
		blank.Net = s.veth.initNet()
	}
	if err := sendMessage(int(s.specConn.Fd()), blank, nil); err != nil {
		return nil, fmt.Errorf("send start message: %w", err)
	}
	return s, nil
}

// The user namespace of a sandbox maps its user and group IDs 0 to
// idRange-1 to the host's hostIDBase and up: a process that got out of the
// sandbox's other namespaces would be an unprivileged user of the host,
// the sandbox's root as much as its user.
const (
	hostIDBase = 1 << 20
	idRange    = 1 << 16
)

// errNoUserNS stands for a start without a user namespace.
var errNoUserNS = errors.New("no user namespace")

// sysProcAttr is how the init stage is started: in new mount, PID,
// network, IPC and UTS namespaces.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWNET |
			syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
		// The sandbox dies with the thread that started it. Go keeps its
		// threads for the life of the process unless a goroutine ends
		// while locked to one; Listen does that only when it cannot leave
		// the sandbox's network again.
		Pdeathsig: syscall.SIGKILL,
		Setpgid:   true,
	}
}

// useUserNS adds a user namespace to attr, with the init stage as its
// root, mapped: otherwise its first mount fails and its exec drops its
// capabilities.
func useUserNS(attr *syscall.SysProcAttr) {
	attr.Cloneflags |= syscall.CLONE_NEWUSER
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: hostIDBase, Size: idRange}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: hostIDBase, Size: idRange}}
	// The command starts with no supplementary groups, which setgroups
	// must be allowed for.
	attr.GidMappingsEnableSetgroups = true
	attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
}

// userNSUsable reports whether a sandbox whose root is built on the
// directory root can have a user namespace: the kernel has the calls with
// which the host side mounts for it (open_tree, mount_setattr and fsmount:
// Linux 5.12), and its init stage, root of the namespace but an
// unprivileged user of the host, can reach root.
func userNSUsable(root string) bool {
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/", unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return false
	}
	unix.Close(fd)
	if err := unix.MountSetattr(-1, "", 0, &unix.MountAttr{}); errors.Is(err, unix.ENOSYS) {
		return false
	}
	for dir := filepath.Dir(root); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if dir == filepath.Dir(dir) {
			return true
		}
	}
}

// build sends spec to the init stage of a blank sandbox and waits until
// the sandbox is built. The work on this side (the file system of /tmp,
// the move into the cgroup, the listeners) runs while the init stage works
// on its side, or, for a sandbox started just now, starts up.
func (s *Sandbox) build(spec Spec) (err error) {
	s.mu.Lock()
	err = s.transitionLocked(phaseBlank, phaseReady)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.onHelperExit = spec.OnHelperExit
	s.mu.Unlock()
	if spec.Network != s.network {
		return fmt.Errorf("a sandbox started for network %v cannot have %v", s.network, spec.Network)
	}
	is := initSpec{
		Root:      s.root,
		Command:   spec.Command,
		Env:       spec.Env,
		Helpers:   spec.Helpers,
		Dir:       spec.Dir,
		Binds:     spec.Binds,
		HostRoot:  spec.HostRoot,
		Image:     spec.Image,
		Etc:       spec.Etc,
		TmpSizeMB: spec.Tmp.SizeMB,
		Hostname:  spec.Hostname,
		UID:       spec.UID,
		GID:       spec.GID,

		NoProcRlimit: spec.NoProcRlimit,
		NoMountAPI:   spec.noMountAPI,
	}
	if s.veth != nil {
		if is.Etc, err = etcWithHost(spec, s.veth.hostAddr.Addr()); err != nil {
			return fmt.Errorf("/etc/hosts: %w", err)
		}
	}
	// The move into the cgroup waits for the kernel (milliseconds on v1).
	// It and the listeners must be there before the command starts.
	added := make(chan error, 1)
	if spec.Cgroup != nil {
		go func() { added <- spec.Cgroup.Add(s.Pid()) }()
	} else {
		added <- nil
	}
	listened := make(chan error, 1)
	go func() { listened <- s.listen(spec.Listen) }()
	defer func() {
		if err != nil {
			for _, l := range s.listeners {
				l.Close()
			}
			s.listeners = nil
		}
	}()
	sendErr := s.sendSpec(spec, &is)
	addErr := <-added
	if addErr != nil {
		addErr = fmt.Errorf("add to cgroup: %w", addErr)
	}
	listenErr := <-listened
	if spec.ExecWhenBuilt && sendErr == nil && addErr == nil && listenErr == nil {
		if err := s.release(); err != nil {
			return err
		}
	}
	// An init stage that failed stops reading: its own error says why.
	if sendErr != nil && !errors.Is(sendErr, syscall.EPIPE) && !errors.Is(sendErr, syscall.ECONNRESET) {
		return sendErr
	}
	msg, err := s.readStatus()
	switch {
	case err == nil && msg.Error != "":
		return msg.err()
	case err == io.EOF:
		return errors.Join(errInitEnded, sendErr)
	case sendErr != nil:
		return sendErr
	case err != nil:
		return err
	case !msg.Ready:
		return errors.New("unexpected message from init stage")
	}
	if err := errors.Join(addErr, listenErr); err != nil {
		return err
	}
	// After pivot_root nothing is mounted on root any more, in any mount
	// namespace: it can go now, so that it is not left behind even by a
	// sandbox that is never destroyed. (Removed earlier, it would take the
	// mounts on it along.)
	return os.Remove(s.root)
}

// listen opens the listeners of addrs in the sandbox's network.
func (s *Sandbox) listen(addrs []string) error {
	for _, addr := range addrs {
		l, err := listenInNetns(s.Pid(), "tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		s.listeners = append(s.listeners, l)
	}
	return nil
}

// Listeners hands over the listeners of Spec.Listen, in its order, to the
// caller, who closes them; later calls give nil.
func (s *Sandbox) Listeners() []net.Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.listeners
	s.listeners = nil
	return ls
}

// release lets the init stage start the command, once.
func (s *Sandbox) release() error {
	s.mu.Lock()
	goPipe := s.goPipe
	s.goPipe = nil
	s.mu.Unlock()
	if goPipe == nil {
		return nil
	}
	_, err := goPipe.Write([]byte{1})
	goPipe.Close()
	if err != nil {
		return fmt.Errorf("release init stage: %w", err)
	}
	return nil
}

// Started is when the init stage started the command, once Exec has
// returned: after the sandbox was built and it was released (by Exec, or
// at once with ExecWhenBuilt).
func (s *Sandbox) Started() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// sendSpec sends is, with the files it needs, to the init stage, and then
// readies /tmp's file system and sends it, while the init stage builds the
// rest.
func (s *Sandbox) sendSpec(spec Spec, is *initSpec) error {
	s.mu.Lock()
	conn := s.specConn
	s.specConn = nil
	s.mu.Unlock()
	if conn == nil {
		return errors.New("sandbox was destroyed")
	}
	defer conn.Close()

	var files []*os.File
	for _, out := range []struct {
		f    *os.File
		role fileRole
	}{{spec.Stdout, roleStdout}, {spec.Stderr, roleStderr}} {
		if out.f != nil {
			files = append(files, out.f)
			is.Files = append(is.Files, out.role)
		}
	}
	for i, h := range spec.Helpers {
		if h.Output == nil {
			continue
		}
		if is.HelperOutputs == nil {
			is.HelperOutputs = make([]bool, len(spec.Helpers))
		}
		files = append(files, h.Output)
		is.Files = append(is.Files, roleHelperOutput)
		is.HelperOutputs[i] = true
	}
	binds, withFile, bindFiles, err := openBinds(spec.Binds)
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range bindFiles {
			f.Close()
		}
	}()
	is.Binds, is.BindFiles = binds, withFile
	for _, f := range bindFiles {
		files = append(files, f)
		is.Files = append(is.Files, roleBind)
	}
	is.Tmp = spec.Tmp.Image != ""
	if err := sendMessage(int(conn.Fd()), is, files); err != nil {
		return fmt.Errorf("send spec: %w", err)
	}
	if !is.Tmp {
		return nil
	}
	role := roleTmpMount
	f, dev := spec.Tmp.Images.takeMount(spec.Tmp.Image)
	if f == nil {
		if err := ensureImage(spec.Tmp.Image, spec.Tmp.SizeMB); err != nil {
			return fmt.Errorf("/tmp image: %w", err)
		}
		var err error
		if f, role, dev, err = openTmp(spec.Tmp.Image, !spec.noMountAPI); err != nil {
			return fmt.Errorf("/tmp image: %w", err)
		}
	}
	defer f.Close()
	s.loopDev, s.loopFile = dev, realPath(spec.Tmp.Image)
	msg := tmpMessage{Role: role}
	if role == roleTmpDevice {
		msg.Device = dev
	}
	if err := sendMessage(int(conn.Fd()), msg, []*os.File{f}); err != nil {
		return fmt.Errorf("send /tmp: %w", err)
	}
	return nil
}

// validate refuses a Spec that cannot work, before anything is made.
func validate(spec Spec) error {
	if len(spec.Command) == 0 || !filepath.IsAbs(spec.Command[0]) {
		return errors.New("command must start with an absolute path")
	}
	for i, h := range spec.Helpers {
		if len(h.Command) == 0 || !filepath.IsAbs(h.Command[0]) {
			return fmt.Errorf("helper %d: command must start with an absolute path", i)
		}
	}
	if spec.HostRoot && len(spec.Image) > 0 {
		return errors.New("HostRoot and Image exclude each other")
	}
	for _, layer := range spec.Image {
		if !filepath.IsAbs(layer) {
			return fmt.Errorf("image layer %q: must be an absolute path", layer)
		}
	}
	if spec.Tmp.SizeMB <= 0 {
		return fmt.Errorf("/tmp size %d MB", spec.Tmp.SizeMB)
	}
	if spec.UID < 0 || spec.GID < 0 {
		return errors.New("negative UID or GID")
	}
	if spec.Dir != "" && !filepath.IsAbs(spec.Dir) {
		return errors.New("Dir must be an absolute path")
	}
	for _, b := range spec.Binds {
		if !filepath.IsAbs(b.Target) || filepath.Clean(b.Target) == "/" {
			return fmt.Errorf("bind target %q: must be an absolute path below /", b.Target)
		}
		if b.Source != "" && !filepath.IsAbs(b.Source) {
			return fmt.Errorf("bind source %q: must be an absolute path", b.Source)
		}
		for _, own := range []string{"/proc", "/dev"} {
			if t := filepath.Clean(b.Target); t == own || strings.HasPrefix(t, own+"/") {
				return fmt.Errorf("bind target %q: %s is the sandbox's own", b.Target, own)
			}
		}
	}
	for name := range spec.Etc {
		if !filepath.IsLocal(name) {
			return fmt.Errorf("/etc file %q: must be a path inside /etc", name)
		}
	}
	switch spec.Network {
	case NetworkNone:
	case NetworkOutbound:
		if spec.Outbound == nil {
			return errors.New("NetworkOutbound needs Outbound, a Network")
		}
	default:
		return fmt.Errorf("unknown network mode %v", spec.Network)
	}
	return nil
}

// etcWithHost is spec.Etc with HostAlias for addr in its hosts file. The
// hosts file starts as the caller's, or the image's, or localhost only.
func etcWithHost(spec Spec, addr netip.Addr) (map[string]string, error) {
	etc := maps.Clone(spec.Etc)
	if etc == nil {
		etc = map[string]string{}
	}
	base, ok := etc["hosts"]
	if !ok && len(spec.Image) > 0 {
		b, err := layerFile(spec.Image, "etc/hosts")
		if err != nil {
			return nil, err
		}
		base = string(b)
	}
	etc["hosts"] = hostsWithHost(base, addr)
	return etc, nil
}

// watch follows the init stage to its end, on one goroutine and in the
// poller: its messages, and then the process, which has ended by then or
// is about to.
func (s *Sandbox) watch() {
	s.readMessages()
	s.reap()
}

// readMessages reads the init stage's messages until its end. There is
// no writer left then: the init stage keeps its end from what it starts.
func (s *Sandbox) readMessages() {
	defer close(s.messagesRead)
	defer close(s.messages)
	// Small: the messages are short lines, and each sandbox keeps its
	// reader while it runs.
	r := bufio.NewReaderSize(s.statusFile, 256)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			return
		}
		var msg initMessage
		if err := json.Unmarshal(line, &msg); err != nil {
			msg = initMessage{Error: fmt.Sprintf("read init stage: %v: %q", err, line)}
		}
		if msg.Exit != nil {
			s.exit = msg.Exit
			s.commandExited()
			continue
		}
		if msg.HelperExit != nil {
			s.mu.Lock()
			f := s.onHelperExit
			s.mu.Unlock()
			if f != nil {
				f(msg.Helper, syscall.WaitStatus(*msg.HelperExit))
			}
			continue
		}
		s.messages <- msg
	}
}

// reap waits for the process and records how it and its command ended.
// It ends with the process, which Destroy ensures. It holds no OS thread
// while it waits.
func (s *Sandbox) reap() {
	err := pidfd.Wait(s.cmd)
	// An exit status is in ProcessState, as os.Process.Wait has it.
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		s.waitErr = err
	}
	if state := s.cmd.ProcessState; state != nil {
		s.status, _ = state.Sys().(syscall.WaitStatus)
	}
	// The command's end, if the init stage saw it, comes before EOF.
	<-s.messagesRead
	if s.exit != nil {
		s.status = syscall.WaitStatus(*s.exit)
	}
	close(s.done)
	s.commandExited()
	s.mu.Lock()
	s.ended = true
	after := s.afterExit
	s.afterExit = nil
	s.mu.Unlock()
	for _, f := range after {
		f()
	}
}

// AfterExit has f called once the sandbox has ended and Wait returns at
// once: on the goroutine that follows the sandbox, or on the caller's
// if it has ended already. It spares the caller a goroutine that waits.
// f must not block.
func (s *Sandbox) AfterExit(f func()) {
	s.mu.Lock()
	if !s.ended {
		s.afterExit = append(s.afterExit, f)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	f()
}

// AfterCommandExit has f called once the command has ended: when the init
// stage reports it, which with Helpers can be well before the sandbox
// ends, or when the sandbox ends. It runs on the goroutine that follows
// the sandbox, or on the caller's if the command has ended already. f
// must not block.
func (s *Sandbox) AfterCommandExit(f func()) {
	s.mu.Lock()
	if !s.commandEnded {
		s.afterCommandExit = append(s.afterCommandExit, f)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	f()
}

// CommandStatus is how the command ended, once AfterCommandExit's
// functions run; ok is false while it runs. It is the status Wait gives
// when the init stage saw the end, without waiting for the helpers.
func (s *Sandbox) CommandStatus() (status syscall.WaitStatus, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.commandEnded {
		return 0, false
	}
	return s.commandStatus, true
}

// commandExited runs what waits for the command's end, once.
func (s *Sandbox) commandExited() {
	s.mu.Lock()
	if s.commandEnded {
		s.mu.Unlock()
		return
	}
	s.commandEnded = true
	if s.exit != nil {
		s.commandStatus = syscall.WaitStatus(*s.exit)
	} else {
		s.commandStatus = s.status
	}
	after := s.afterCommandExit
	s.afterCommandExit = nil
	s.mu.Unlock()
	for _, f := range after {
		f()
	}
}

// readStatus waits up to stepTimeout for the init stage's next message.
// It returns io.EOF when the init stage has ended without one.
func (s *Sandbox) readStatus() (initMessage, error) {
	select {
	case msg, ok := <-s.messages:
		if !ok {
			return msg, io.EOF
		}
		return msg, nil
	case <-time.After(stepTimeout):
		return initMessage{}, fmt.Errorf("init stage did not answer within %v", stepTimeout)
	}
}

// transitionLocked moves the sandbox from one phase to the next and refuses
// any other move.
func (s *Sandbox) transitionLocked(from, to phase) error {
	if s.phase != from {
		return fmt.Errorf("sandbox is %v, not %v", s.phase, from)
	}
	s.phase = to
	return nil
}

// Pid is the host pid of the sandbox's process 1: the init stage, which
// builds the sandbox, starts the command and stays until it ends.
func (s *Sandbox) Pid() int { return s.cmd.Process.Pid }

// CommandPid is the host pid of the command, once Exec has started it;
// 0 before, or when the command ended before Exec could learn it.
func (s *Sandbox) CommandPid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commandPid
}

// Exec releases the init stage to start the command and reports whether
// that worked. A command that does not exist gives an error that matches
// os.ErrNotExist.
func (s *Sandbox) Exec() error {
	s.mu.Lock()
	if err := s.transitionLocked(phaseReady, phaseRunning); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("exec in sandbox: %w", err)
	}
	s.mu.Unlock()
	if err := s.release(); err != nil {
		return fmt.Errorf("exec in sandbox: %w", err)
	}
	msg, err := s.readStatus()
	switch {
	case err == io.EOF:
		return errors.New("exec in sandbox: init stage ended before it started the command")
	case err != nil:
		return fmt.Errorf("exec in sandbox: %w", err)
	case msg.Error != "":
		return fmt.Errorf("exec in sandbox: %w", msg.err())
	case !msg.Started:
		return errors.New("exec in sandbox: unexpected message from init stage")
	}
	// A command that has ended already (and been reaped) has no pid left
	// to know; Wait tells how it ended.
	pid := onlyChild(s.Pid())
	s.mu.Lock()
	s.commandPid = pid
	s.started = time.Unix(0, msg.At)
	s.mu.Unlock()
	return nil
}

// onlyChild finds the one child of process pid, as its threads list them,
// or gives 0 when there is none.
func onlyChild(pid int) int {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue
		}
		if fields := strings.Fields(string(b)); len(fields) > 0 {
			if child, err := strconv.Atoi(fields[0]); err == nil {
				return child
			}
		}
	}
	return 0
}

// Done is closed when the sandbox's process has ended.
func (s *Sandbox) Done() <-chan struct{} { return s.done }

// Wait waits for the sandbox to end and tells how its command ended: as
// the init stage saw it, or, when the sandbox ended otherwise (destroyed
// or never started), how the init stage itself did. An error is a failure
// to wait, not an exit status. It may be called any number of times, from
// any goroutine.
func (s *Sandbox) Wait() (syscall.WaitStatus, error) {
	<-s.done
	return s.status, s.waitErr
}

// Signal sends sig to every process of the sandbox through its init stage,
// which passes on SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to
// the command and what it started; SIGKILL ends the whole sandbox. Other
// signals are ignored.
func (s *Sandbox) Signal(sig os.Signal) error {
	if err := s.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal sandbox %d: %w", s.Pid(), err)
	}
	return nil
}

// Destroy kills the sandbox's process tree, waits for it and removes what
// the sandbox left on the host. /tmp's loop device is detached with the
// last unmount, as the tree's mount namespace goes away. Destroy may be
// called more than once; calls after the first do nothing.
func (s *Sandbox) Destroy() error {
	s.mu.Lock()
	if s.phase == phaseDestroyed {
		s.mu.Unlock()
		return nil
	}
	s.phase = phaseDestroyed
	// Killed before its release pipe closes: an init stage still waiting
	// would otherwise see the close, give up and exit on its own.
	var errs []error
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		errs = append(errs, err)
	}
	if s.goPipe != nil {
		s.goPipe.Close()
		s.goPipe = nil
	}
	if s.specConn != nil {
		s.specConn.Close()
		s.specConn = nil
	}
	s.mu.Unlock()

	select {
	case <-s.done:
	case <-time.After(stepTimeout):
		errs = append(errs, fmt.Errorf("process %d did not end within %v of SIGKILL", s.Pid(), stepTimeout))
	}
	s.statusFile.Close()
	if s.veth != nil {
		if err := s.veth.remove(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.loopDev != "" {
		if err := waitDetached(s.loopDev, s.loopFile, stepTimeout); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(s.root); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy sandbox %d: %w", s.Pid(), err)
	}
	return nil
}

// Listen opens a listener inside the sandbox's network namespace, such as
// ("tcp", "127.0.0.1:9001"). The caller serves it as usual.
func (s *Sandbox) Listen(network, addr string) (net.Listener, error) {
	select {
	case <-s.done:
		return nil, fmt.Errorf("listen in sandbox %d: process has ended", s.Pid())
	default:
	}
	l, err := listenInNetns(s.Pid(), network, addr)
	if err != nil {
		return nil, fmt.Errorf("listen in sandbox %d: %w", s.Pid(), err)
	}
	return l, nil
}

// Dial connects from inside the sandbox's network namespace, such as to
// ("tcp", "127.0.0.1:8080"), a listener of a process in the sandbox. The
// connection is used from the host as usual.
func (s *Sandbox) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	select {
	case <-s.done:
		return nil, fmt.Errorf("dial in sandbox %d: process has ended", s.Pid())
	default:
	}
	c, err := dialInNetns(ctx, s.Pid(), network, addr)
	if err != nil {
		return nil, fmt.Errorf("dial in sandbox %d: %w", s.Pid(), err)
	}
	return c, nil
}
