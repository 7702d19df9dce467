package sandbox

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// outboundRange holds the /30 of every outbound sandbox: the host end's
// address is the first of its /30, the sandbox's the second.
var outboundRange = netip.MustParsePrefix("169.254.128.0/17")

// outboundSlots is the number of /30s in outboundRange.
const outboundSlots = 1 << (32 - 17 - 2)

// Network gives outbound sandboxes their veth pairs and addresses, and
// masquerades their traffic. Create one per process with NewNetwork and
// pass it in every outbound Spec; Close it after the last sandbox.
//
// The host ends are named emb and the /30's number in hex. The name also
// reserves the /30 across processes: a name that exists already is
// skipped. The host does not forward between sandboxes' links (see
// installFirewall): a sandbox reaches the host and beyond, not another
// sandbox, of this process or another.
type Network struct {
	// natErr says why sandbox traffic is not masqueraded, or is nil.
	natErr error

	// mu guards the fields below.
	mu sync.Mutex
	// used marks the /30s that this Network's sandboxes hold.
	used [outboundSlots]bool
	// next is where the search for a free /30 starts.
	next   int
	closed bool
}

// NewNetwork makes the nf_tables rule set that keeps sandboxes apart and
// masquerades traffic from outboundRange to anywhere else
// (installFirewall; left in place by Close), and turns IPv4 forwarding on
// (net.ipv4.ip_forward=1, for the whole host, and left on by Close).
// Where the kernel cannot masquerade in the rule set, the Network works
// without it and NAT says why: sandboxes then reach this host but not
// beyond it. Without nf_tables, NewNetwork fails rather than give
// sandboxes a network in which they reach each other: the caller runs
// outbound sandboxes with loopback only, and says so.
func NewNetwork() (*Network, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("new network: not root: %w", ErrUnsupported)
	}
	n := &Network{}
	// Sandboxes are kept apart before the host forwards anything for them.
	if natErr := installFirewall(true); natErr != nil {
		if err := installFirewall(false); err != nil {
			return nil, fmt.Errorf("new network: keep sandboxes apart: %w", err)
		}
		n.natErr = fmt.Errorf("no NAT for sandboxes: %w", natErr)
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0); err != nil {
		return nil, fmt.Errorf("new network: enable forwarding: %w", err)
	}
	return n, nil
}

// NAT is nil when sandbox traffic to beyond this host is masqueraded, and
// says why not otherwise; the caller logs it.
func (n *Network) NAT() error { return n.natErr }

// Close ends the Network: sandboxes still running keep their links and
// addresses; new ones cannot start. The rule set stays, for other ember
// processes' sandboxes and the next start.
func (n *Network) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	return nil
}

// veth is an outbound sandbox's share of a Network.
type veth struct {
	net  *Network
	slot int
	// host is the host end's name, and index its index once made: the
	// pair is deleted by index, never by name, as the name may be another
	// process's again once the pair has gone with the sandbox's namespace.
	host  string
	index int32
	// hostAddr and addr are the host end's and the sandbox's addresses,
	// in their /30.
	hostAddr, addr netip.Prefix
}

// linkGoneTimeout bounds the wait for a deleted veth to go.
const linkGoneTimeout = 5 * time.Second

// sandboxLink is the name of the veth's end inside the sandbox.
const sandboxLink = "eth0"

// macOf is the MAC address of the veth end with address addr: 02:00 and
// the IPv4 address, locally administered and unicast. The ends' MACs are
// set when the pair is made, so each side knows the other's without
// asking, and no device manager replaces them (udev's
// MACAddressPolicy=persistent does with the random MACs of a veth).
func macOf(addr netip.Addr) net.HardwareAddr {
	a := addr.As4()
	return net.HardwareAddr{0x02, 0x00, a[0], a[1], a[2], a[3]}
}

// newVeth reserves a /30 and creates its veth pair: the host end up, with
// its address, and the other end as eth0 in the network namespace of
// process pid, which the init stage sets up. (Created there, it is not
// moved: a move waits for an RCU grace period, some 20 ms.) Each side has
// a permanent neighbour entry for the other (addNeigh): the host's is
// made here, the sandbox's by outboundUp. A sandbox's traffic then adds
// nothing to the kernel's neighbour table, however many there are.
func (n *Network) newVeth(pid int) (*veth, error) {
	c, err := openRtnl()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// Slots that another process holds are tried once each at most.
	for range outboundSlots {
		slot, err := n.reserve()
		if err != nil {
			return nil, err
		}
		v := n.vethAt(slot)
		err = c.addVeth(vethEnd{v.host, macOf(v.hostAddr.Addr())},
			vethEnd{sandboxLink, macOf(v.addr.Addr())}, pid)
		if errors.Is(err, unix.EEXIST) {
			// The host end's name is taken: the /30 is another process's,
			// or was until just now.
			n.release(slot)
			continue
		}
		if err != nil {
			n.release(slot)
			return nil, fmt.Errorf("create veth %s: %w", v.host, err)
		}
		// The name is this pair's until it is deleted: only the end of the
		// sandbox's namespace can take it away before.
		if v.index, err = ifIndex(v.host); err != nil {
			n.release(slot)
			return nil, fmt.Errorf("find veth %s: %w", v.host, err)
		}
		if err := c.addAddr(v.index, v.hostAddr); err != nil {
			v.remove()
			return nil, fmt.Errorf("address of veth %s: %w", v.host, err)
		}
		if err := c.addNeigh(v.index, v.addr.Addr(), macOf(v.addr.Addr())); err != nil {
			v.remove()
			return nil, fmt.Errorf("neighbour %v on veth %s: %w", v.addr.Addr(), v.host, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("no free /30 in %v", outboundRange)
}

// vethAt names the veth and addresses of slot.
func (n *Network) vethAt(slot int) *veth {
	base := outboundRange.Addr().As4()
	off := uint32(slot) * 4
	base[2] += byte(off >> 8)
	base[3] += byte(off)
	first := netip.AddrFrom4(base)
	return &veth{
		net:      n,
		slot:     slot,
		host:     fmt.Sprintf("emb%x", slot),
		hostAddr: netip.PrefixFrom(first.Next(), 30),
		addr:     netip.PrefixFrom(first.Next().Next(), 30),
	}
}

// reserve marks a free slot used.
func (n *Network) reserve() (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return 0, errors.New("network is closed")
	}
	for i := range outboundSlots {
		slot := (n.next + i) % outboundSlots
		if !n.used[slot] {
			n.used[slot] = true
			n.next = slot + 1
			return slot, nil
		}
	}
	return 0, fmt.Errorf("all %d /30s in %v are in use", outboundSlots, outboundRange)
}

func (n *Network) release(slot int) {
	n.mu.Lock()
	n.used[slot] = false
	n.mu.Unlock()
}

// initNet is what the init stage needs to set its end of the veth up.
func (v *veth) initNet() *initNet {
	return &initNet{Addr: v.addr, Gateway: v.hostAddr.Addr()}
}

// remove deletes the pair, if it is still there, with its neighbour
// entries, and frees the /30.
func (v *veth) remove() error {
	defer v.net.release(v.slot)
	c, err := openRtnl()
	if err != nil {
		return err
	}
	defer c.Close()
	// The pair goes by itself once the sandbox's namespace has gone, in
	// the background: it may still be there, on its way out, which
	// delLinkIndex does not wait for.
	if err := c.delLinkIndex(v.index); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete veth %s: %w", v.host, err)
	}
	deadline := time.Now().Add(linkGoneTimeout)
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
		there, err := linkExists(v.index)
		if err != nil {
			return fmt.Errorf("veth %s: %w", v.host, err)
		}
		if !there {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("veth %s still there %v after its deletion", v.host, linkGoneTimeout)
		}
		time.Sleep(delay)
	}
}

// hostsWithHost is the sandbox's /etc/hosts: base, or a default, with
// HostAlias for addr.
func hostsWithHost(base string, addr netip.Addr) string {
	if base == "" {
		base = "127.0.0.1\tlocalhost\n::1\tlocalhost\n"
	}
	if !strings.HasSuffix(base, "\n") {
		base += "\n"
	}
	return base + addr.String() + "\t" + HostAlias + "\n"
}

// outboundUp is the init stage's half: it brings eth0, its end of the
// veth, up with its address, a permanent neighbour entry for the host end
// (whose MAC newVeth set) and everything routed through the host end.
func outboundUp(n *initNet) error {
	index, err := ifIndex(sandboxLink)
	if err != nil {
		return fmt.Errorf("find %s: %w", sandboxLink, err)
	}
	c, err := openRtnl()
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.setUp(index); err != nil {
		return fmt.Errorf("bring %s up: %w", sandboxLink, err)
	}
	if err := c.addAddr(index, n.Addr); err != nil {
		return fmt.Errorf("address %v on %s: %w", n.Addr, sandboxLink, err)
	}
	// After the link is up: bringing a link down flushes its permanent
	// entries too.
	if err := c.addNeigh(index, n.Gateway, macOf(n.Gateway)); err != nil {
		return fmt.Errorf("neighbour %v on %s: %w", n.Gateway, sandboxLink, err)
	}
	if err := c.addDefaultRoute(index, n.Gateway); err != nil {
		return fmt.Errorf("default route via %v: %w", n.Gateway, err)
	}
	return nil
}
