package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The few rtnetlink requests an outbound sandbox needs: a veth pair across
// two network namespaces, a link brought up, an IPv4 address, a permanent
// neighbour entry and a default route. Each request waits for its
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

// vethEnd is one end of a veth pair: its name and, unless nil, its MAC
// address (otherwise the kernel picks one at random).
type vethEnd struct {
	name string
	mac  net.HardwareAddr
}

// attrs are the end's name and address attributes.
func (e vethEnd) attrs() []byte {
	b := attr(unix.IFLA_IFNAME, cstring(e.name))
	if e.mac != nil {
		b = append(b, attr(unix.IFLA_ADDRESS, e.mac)...)
	}
	return b
}

// addVeth creates the veth pair of end, up in the caller's network
// namespace, and peer, in the network namespace of process pid.
func (c *rtnl) addVeth(end, peer vethEnd, pid int) error {
	body := ifInfo(0, unix.IFF_UP)
	body = append(body, end.attrs()...)
	body = append(body, attr(unix.IFLA_LINKINFO,
		attr(unix.IFLA_INFO_KIND, []byte("veth")),
		attr(unix.IFLA_INFO_DATA,
			attr(vethInfoPeer, ifInfo(0, 0),
				peer.attrs(),
				attr(unix.IFLA_NET_NS_PID, u32(uint32(pid))))))...)
	return c.do(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body)
}

// setUp brings link index up.
func (c *rtnl) setUp(index int32) error {
	return c.do(unix.RTM_NEWLINK, 0, ifInfo(index, unix.IFF_UP))
}

// delLinkIndex deletes link index; deleting one end of a veth pair
// deletes both, and the neighbour entries of each.
func (c *rtnl) delLinkIndex(index int32) error {
	return c.do(unix.RTM_DELLINK, 0, ifInfo(index, 0))
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

// addNeigh makes addr's entry in the neighbour table of link index
// permanent, with the link-layer address mac: the kernel then never asks
// for it (ARP), and, since Linux 4.19, does not count the entry against
// the table's garbage-collection thresholds (gc_thresh1-3), which bound
// the entries of every network namespace together.
func (c *rtnl) addNeigh(index int32, addr netip.Addr, mac net.HardwareAddr) error {
	m := unix.NdMsg{Family: unix.AF_INET, Ifindex: index, State: unix.NUD_PERMANENT, Type: unix.RTN_UNICAST}
	body := (*[unix.SizeofNdMsg]byte)(unsafe.Pointer(&m))[:]
	body = append(body, attr(unix.NDA_DST, addr.AsSlice())...)
	body = append(body, attr(unix.NDA_LLADDR, mac)...)
	return c.do(unix.RTM_NEWNEIGH, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, body)
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

// linkExists reports whether link index is in the caller's network
// namespace.
func linkExists(index int32) (bool, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("")
	if err != nil {
		return false, err
	}
	ifr.SetUint32(uint32(index))
	err = unix.IoctlIfreq(fd, unix.SIOCGIFNAME, ifr)
	if errors.Is(err, unix.ENODEV) {
		return false, nil
	}
	return err == nil, err
}
