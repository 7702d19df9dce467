package sandbox

import (
	"context"
	"errors"
	"fmt"
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
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	type result struct {
		l   net.Listener
		err error
	}
	// A goroutine of its own, locked to its thread: if the thread cannot
	// go back to the host's namespace, it ends with the goroutine instead
	// of running other goroutines there.
	ch := make(chan result, 1)
	go func() {
		l, err := listenOnThread(ns, network, addr)
		ch <- result{l, err}
	}()
	r := <-ch
	return r.l, r.err
}

// listenOnThread enters ns on the current thread, listens and leaves. It
// leaves the thread locked when it could not leave ns.
func listenOnThread(ns *os.File, network, addr string) (net.Listener, error) {
	runtime.LockOSThread()
	home, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer home.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("enter network namespace: %w", err)
	}
	// IP_FREEBIND: the address need not be up yet. A sandbox's loopback
	// comes up as its init stage starts, perhaps after this.
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_FREEBIND, 1)
		})
		return errors.Join(err, serr)
	}}
	l, lerr := lc.Listen(context.Background(), network, addr)
	if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
		if l != nil {
			l.Close()
		}
		return nil, errors.Join(lerr, fmt.Errorf("leave network namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return l, lerr
}

// dialInNetns connects to addr from inside the network namespace of
// process pid: the socket is made in that namespace and stays there.
func dialInNetns(ctx context.Context, pid int, network, addr string) (net.Conn, error) {
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	type result struct {
		c   net.Conn
		err error
	}
	// As in listenInNetns, a goroutine of its own, locked to its thread.
	ch := make(chan result, 1)
	go func() {
		c, err := dialOnThread(ctx, ns, network, addr)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// dialOnThread enters ns on the current thread and dials from there. Go
// makes the socket on the calling thread, which fixes its namespace; the
// connect then completes through the poller wherever it runs. It leaves
// the thread locked when it could not leave ns.
func dialOnThread(ctx context.Context, ns *os.File, network, addr string) (net.Conn, error) {
	runtime.LockOSThread()
	home, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer home.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("enter network namespace: %w", err)
	}
	var d net.Dialer
	c, derr := d.DialContext(ctx, network, addr)
	if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
		if c != nil {
			c.Close()
		}
		return nil, errors.Join(derr, fmt.Errorf("leave network namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return c, derr
}
