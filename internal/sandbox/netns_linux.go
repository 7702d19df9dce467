package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// loopbackUp brings up lo, the only interface of a new network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// listenInNetns opens a listener in the network namespace of process pid.
// The socket stays in that namespace; the listener is served as usual.
func listenInNetns(pid int, network, addr string) (net.Listener, error) {
	// IP_FREEBIND: the address need not be up yet. A sandbox's loopback
	// comes up as its init stage starts, perhaps after this.
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_FREEBIND, 1)
		})
		return errors.Join(err, serr)
	}}
	return openInNetns(pid, func() (net.Listener, error) { return lc.Listen(context.Background(), network, addr) })
}

// dialInNetns connects to addr from inside the network namespace of
// process pid. Go makes the socket on the calling thread, which fixes its
// namespace; the connect then completes through the poller wherever it
// runs.
func dialInNetns(ctx context.Context, pid int, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return openInNetns(pid, func() (net.Conn, error) { return d.DialContext(ctx, network, addr) })
}

// openInNetns runs open, which makes a socket, in the network namespace of
// process pid, and gives back what it made: the socket stays in that
// namespace. It runs on a goroutine of its own, locked to its thread: if
// the thread cannot go back to the host's namespace, it ends with the
// goroutine instead of running other goroutines there.
func openInNetns[T io.Closer](pid int, open func() (T, error)) (T, error) {
	var zero T
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return zero, err
	}
	defer ns.Close()
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := openOnThread(ns, open)
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}

// openOnThread enters ns on the current thread, runs open and leaves. It
// leaves the thread locked when it could not leave ns.
func openOnThread[T io.Closer](ns *os.File, open func() (T, error)) (T, error) {
	var zero T
	runtime.LockOSThread()
	home, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return zero, err
	}
	defer home.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return zero, fmt.Errorf("enter network namespace: %w", err)
	}
	v, oerr := open()
	if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
		if oerr == nil {
			v.Close()
		}
		return zero, errors.Join(oerr, fmt.Errorf("leave network namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return v, oerr
}
