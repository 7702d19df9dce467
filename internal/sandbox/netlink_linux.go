package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The few rtnetlink requests an outbound sandbox needs: a veth pair across
// two network namespaces, a link brought up, an IPv4 address and a default
// route. Each request waits for its
// acknowledgement.

// vethInfoPeer is VETH_INFO_PEER of linux/veth.h, which x/sys lacks.
const vethInfoPeer = 1

// rtnl is a route netlink socket, in the network namespace of the thread
// that opened it.
type rtnl struct {
	fd  int
	seq uint32
}

func openRtnl() (*rtnl, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	return &rtnl{fd: fd}, nil
}

func (c *rtnl) Close() error { return unix.Close(c.fd) }

// do sends one request of type typ with body (its fixed header and
// attributes) and waits for the kernel's answer.
func (c *rtnl) do(typ, flags uint16, body []byte) error {
	c.seq++
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	msg = append(msg, body...)
	*(*unix.NlMsghdr)(unsafe.Pointer(&msg[0])) = unix.NlMsghdr{
		Len:   uint32(len(msg)),
		Type:  typ,
		Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK | flags,
		Seq:   c.seq,
	}
	if err := unix.Sendto(c.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Seq != c.seq || m.Header.Type != unix.NLMSG_ERROR {
				continue
			}
			if len(m.Data) < 4 {
				return errors.New("netlink: short error message")
			}
			if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
				return unix.Errno(errno)
			}
			return nil
		}
	}
}

// attr encodes one netlink attribute; a nested attribute's data is its
// children's encodings, concatenated.
func attr(typ uint16, data ...[]byte) []byte {
	n := unix.SizeofRtAttr
	for _, d := range data {
		n += len(d)
	}
	b := make([]byte, unix.SizeofRtAttr, (n+3)&^3)
	binary.NativeEndian.PutUint16(b[0:], uint16(n))
	binary.NativeEndian.PutUint16(b[2:], typ)
	for _, d := range data {
		b = append(b, d...)
	}
	return b[:cap(b)]
}

func cstring(s string) []byte { return append([]byte(s), 0) }

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func ifInfo(index int32, flags uint32) []byte {
	m := unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: index, Flags: flags, Change: flags}
	return (*[unix.SizeofIfInfomsg]byte)(unsafe.Pointer(&m))[:]
}

// addVeth creates the veth pair name, up in the caller's network
// namespace, and peer, in the network namespace of process pid.
func (c *rtnl) addVeth(name, peer string, pid int) error {
	body := ifInfo(0, unix.IFF_UP)
	body = append(body, attr(unix.IFLA_IFNAME, cstring(name))...)
	body = append(body, attr(unix.IFLA_LINKINFO,
		attr(unix.IFLA_INFO_KIND, []byte("veth")),
		attr(unix.IFLA_INFO_DATA,
			attr(vethInfoPeer, ifInfo(0, 0),
				attr(unix.IFLA_IFNAME, cstring(peer)),
				attr(unix.IFLA_NET_NS_PID, u32(uint32(pid))))))...)
	return c.do(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body)
}

// setUp brings link index up.
func (c *rtnl) setUp(index int32) error {
	return c.do(unix.RTM_NEWLINK, 0, ifInfo(index, unix.IFF_UP))
}

// delLink deletes the link name; deleting one end of a veth pair deletes
// both.
func (c *rtnl) delLink(name string) error {
	body := append(ifInfo(0, 0), attr(unix.IFLA_IFNAME, cstring(name))...)
	return c.do(unix.RTM_DELLINK, 0, body)
}

// addAddr gives link index the IPv4 address p.
func (c *rtnl) addAddr(index int32, p netip.Prefix) error {
	m := unix.IfAddrmsg{Family: unix.AF_INET, Prefixlen: uint8(p.Bits()), Index: uint32(index)}
	body := (*[unix.SizeofIfAddrmsg]byte)(unsafe.Pointer(&m))[:]
	a := p.Addr().AsSlice()
	body = append(body, attr(unix.IFA_LOCAL, a)...)
	body = append(body, attr(unix.IFA_ADDRESS, a)...)
	return c.do(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body)
}

// addDefaultRoute routes everything through gw on link index.
func (c *rtnl) addDefaultRoute(index int32, gw netip.Addr) error {
	m := unix.RtMsg{
		Family:   unix.AF_INET,
		Table:    unix.RT_TABLE_MAIN,
		Protocol: unix.RTPROT_BOOT,
		Scope:    unix.RT_SCOPE_UNIVERSE,
		Type:     unix.RTN_UNICAST,
	}
	body := (*[unix.SizeofRtMsg]byte)(unsafe.Pointer(&m))[:]
	body = append(body, attr(unix.RTA_GATEWAY, gw.AsSlice())...)
	body = append(body, attr(unix.RTA_OIF, u32(uint32(index)))...)
	return c.do(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body)
}

// ifIndex is the index of the link name in the caller's network namespace.
func ifIndex(name string) (int32, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, err
	}
	return int32(ifr.Uint32()), nil
}
