package sandbox

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"syscall"
)

// initSpec is what the init stage reads on fdSpec: the Spec, less what
// stays on the host side, plus what the host side prepared.
type initSpec struct {
	// Root is the empty host directory to build the new root on.
	Root     string
	Command  []string
	Env      []string
	Dir      string
	Binds    []Bind
	HostRoot bool
	RootFS   string
	Etc      map[string]string
	// TmpDevice is the loop device holding /tmp's file system (open as
	// fdLoop); "" makes /tmp a tmpfs of TmpSizeMB.
	TmpDevice string
	TmpSizeMB int
	Hostname  string
	UID, GID  int
	// NoProcRlimit leaves RLIMIT_NPROC as it is.
	NoProcRlimit bool
	// Net, if set, configures eth0, the end of a veth pair that the host
	// side has created in the sandbox's network namespace.
	Net *initNet
}

// initNet is an outbound sandbox's eth0: its address and the host end's.
type initNet struct {
	Addr    netip.Prefix
	Gateway netip.Addr
}

// initMessage is one line of JSON from the init stage on fdStatus: ready
// before the exec, or what failed.
type initMessage struct {
	Ready bool   `json:"ready,omitempty"`
	Error string `json:"error,omitempty"`
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
