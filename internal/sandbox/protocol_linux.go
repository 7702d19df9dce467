package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// initSpec is what the init stage reads on fdSpec after the blankMessage:
// the Spec, less what stays on the host side, plus what the host side
// prepared. It comes as one message, with the files it names in Files;
// when Tmp is set, a tmpMessage follows with /tmp's file system.
type initSpec struct {
	// Root is the empty host directory to build the new root on.
	Root    string
	Command []string
	Env     []string
	Helpers []Helper `json:",omitempty"`
	// HelperOutputs says, for each of Helpers, whether it comes with an
	// output of its own (roleHelperOutput, in order).
	HelperOutputs []bool `json:",omitempty"`
	// helperOutputs are the init stage's fds of those outputs.
	helperOutputs []int
	Dir           string
	Binds         []Bind
	HostRoot      bool
	Image         []string
	Etc           map[string]string
	// NoMountAPI has the init stage mount as on a kernel without the
	// mount API: an image's overlay with the classic option string.
	NoMountAPI bool `json:",omitempty"`
	// Files names the files sent with the spec, in order.
	Files []fileRole
	// BindFiles says, for each of Binds, whether it comes as a file
	// (roleBind, in order): a mount to move into place, not a path.
	BindFiles []bool
	// Tmp says that /tmp's file system follows in a tmpMessage; without it
	// /tmp is a tmpfs of TmpSizeMB.
	Tmp       bool
	TmpSizeMB int
	Hostname  string
	UID, GID  int
	// NoProcRlimit leaves RLIMIT_NPROC as it is.
	NoProcRlimit bool
}

// blankMessage is the first message to the init stage, sent as soon as
// the sandbox has started: what it can set up before it knows what it
// will hold.
type blankMessage struct {
	// Root is the empty host directory to build the new root on: as much
	// of it as any sandbox has comes before the spec.
	Root string
	// Net, if set, configures eth0, the end of a veth pair that the host
	// side has created in the sandbox's network namespace.
	Net *initNet `json:",omitempty"`
}

// tmpMessage brings /tmp's file system, as the one file sent with it: a
// mount (roleTmpMount) or the loop device Device (roleTmpDevice). The host
// side readies it while the init stage builds the rest.
type tmpMessage struct {
	Role   fileRole
	Device string `json:",omitempty"`
}

// fileRole says what a file sent to the init stage is for.
type fileRole string

const (
	roleStdout fileRole = "stdout"
	roleStderr fileRole = "stderr"
	// roleHelperOutput is a helper's stdout and stderr.
	roleHelperOutput fileRole = "helper-output"
	// roleBind is a bind's mount, attached nowhere yet (open_tree).
	roleBind fileRole = "bind"
	// roleTmpMount is /tmp's file system, mounted by the host side and
	// attached nowhere yet (fsmount): the init stage moves it into place.
	roleTmpMount fileRole = "tmp-mount"
	// roleTmpDevice is the loop device that holds /tmp's file system,
	// for the init stage to mount.
	roleTmpDevice fileRole = "tmp-device"
)

// maxSentFiles bounds the files that come with one message.
const maxSentFiles = 32

// maxMessage bounds a message to the init stage. The kernel refuses a
// packet larger than a socket's send buffer (EMSGSIZE), some 200 KB.
const maxMessage = 256 << 10

// sendMessage writes v as JSON in one message on the packet socket conn,
// with files as SCM_RIGHTS.
func sendMessage(conn int, v any, files []*os.File) error {
	if len(files) > maxSentFiles {
		return fmt.Errorf("%d files in one message", len(files))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var rights []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		rights = unix.UnixRights(fds...)
	}
	for {
		err = unix.Sendmsg(conn, b, rights, nil, 0)
		if err != unix.EINTR {
			return err
		}
	}
}

// receiveMessage reads one message of sendMessage into v and returns the
// files that came with it, close-on-exec. It returns io.EOF when the other
// side closed the socket instead.
func receiveMessage(conn int, v any) ([]int, error) {
	buf := make([]byte, maxMessage)
	oob := make([]byte, unix.CmsgSpace(maxSentFiles*4))
	var n, oobn, flags int
	var err error
	for {
		n, oobn, flags, _, err = unix.Recvmsg(conn, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	var fds []int
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			got, err := unix.ParseUnixRights(&m)
			if err != nil {
				return nil, err
			}
			fds = append(fds, got...)
		}
	}
	closeAll := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	switch {
	case flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0:
		closeAll()
		return nil, errors.New("message truncated")
	case n == 0:
		closeAll()
		return nil, io.EOF
	}
	if err := json.Unmarshal(buf[:n], v); err != nil {
		closeAll()
		return nil, err
	}
	return fds, nil
}

// receiveSpec reads the spec and gives back the files that came with it
// by role, in order.
func receiveSpec(conn int) (*initSpec, map[fileRole][]int, error) {
	var spec initSpec
	fds, err := receiveMessage(conn, &spec)
	if err == io.EOF {
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read spec: %w", err)
	}
	if len(fds) != len(spec.Files) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, nil, fmt.Errorf("read spec: %d files for %d roles", len(fds), len(spec.Files))
	}
	files := make(map[fileRole][]int, len(fds))
	for i, role := range spec.Files {
		files[role] = append(files[role], fds[i])
	}
	return &spec, files, nil
}

// receiveTmp reads the tmpMessage that follows a spec with Tmp, and its
// file.
func receiveTmp(conn int) (tmpMessage, int, error) {
	var msg tmpMessage
	fds, err := receiveMessage(conn, &msg)
	if err == io.EOF {
		return msg, -1, errors.New("the host side sent no file system")
	}
	if err != nil {
		return msg, -1, err
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return msg, -1, fmt.Errorf("%d files for its file system", len(fds))
	}
	return msg, fds[0], nil
}

// initNet is an outbound sandbox's eth0: its address and the host end's.
type initNet struct {
	Addr    netip.Prefix
	Gateway netip.Addr
}

// initMessage is one line of JSON from the init stage on fdStatus: ready
// before the exec, the command started, how it ended, or what failed.
type initMessage struct {
	Ready   bool `json:"ready,omitempty"`
	Started bool `json:"started,omitempty"`
	// At is when the init stage started the command, in nanoseconds since
	// the Unix epoch: the host's clock, which the sandbox shares.
	At int64 `json:"at,omitempty"`
	// Exit is the command's wait status, as the kernel encodes it.
	Exit *uint32 `json:"exit,omitempty"`
	// HelperExit is a helper's wait status, and Helper its index.
	HelperExit *uint32 `json:"helperExit,omitempty"`
	Helper     int     `json:"helper,omitempty"`
	Error      string  `json:"error,omitempty"`
	// Errno is the failing system call's error number, if there was one.
	Errno int `json:"errno,omitempty"`
}

// err gives back the init stage's error, with its errno so that errors.Is
// works across the pipe.
func (m initMessage) err() error {
	return &initError{msg: m.Error, errno: syscall.Errno(m.Errno)}
}

// errorMessage turns an error of the init stage into its message.
func errorMessage(err error) initMessage {
	msg := initMessage{Error: err.Error()}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		msg.Errno = int(errno)
	}
	return msg
}

// writeMessage writes msg as one line, in one write.
func writeMessage(w *os.File, msg initMessage) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// initError is an error of the init stage, as the host side sees it.
type initError struct {
	msg   string
	errno syscall.Errno
}

func (e *initError) Error() string { return e.msg }

func (e *initError) Unwrap() error {
	if e.errno == 0 {
		return nil
	}
	return e.errno
}
