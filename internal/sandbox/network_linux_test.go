package sandbox

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// needNetwork returns a Network for outbound sandboxes, closed when the
// test ends. The tests send traffic only to addresses of this machine:
// 127.0.0.1 and the veths' own.
func needNetwork(t *testing.T) *Network {
	t.Helper()
	n, err := NewNetwork()
	if err != nil {
		t.Fatalf("NewNetwork: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Network.Close: %v", err)
		}
	})
	if err := n.NAT(); err != nil {
		t.Log(err)
	}
	return n
}

// serveLines answers every connection to l with line, until l is closed.
func serveLines(l net.Listener, line string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		io.WriteString(c, line+"\n")
		c.Close()
	}
}

// TestOutbound runs two outbound sandboxes at once and checks what each
// sees: eth0 with its own address and a default route through the host
// end, a host service on all addresses reachable as HostAlias, one on the
// host's loopback not, and no link left once they are destroyed.
func TestOutbound(t *testing.T) {
	code := needSandbox(t)
	network := needNetwork(t)

	public, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer public.Close()
	go serveLines(public, "hello from the host")
	private, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer private.Close()
	go serveLines(private, "loopback only")
	publicPort := public.Addr().(*net.TCPAddr).Port
	privatePort := private.Addr().(*net.TCPAddr).Port

	readHost := fmt.Sprintf("readline:%s:%d", HostAlias, publicPort)
	dialLoopback := fmt.Sprintf("dial:127.0.0.1:%d", privatePort)
	dialHostLoopback := fmt.Sprintf("dial:%s:%d", HostAlias, privatePort)
	checks := []string{"ifaces", "addrs:eth0", "defaultroute", "lookup:localhost", "lookup:" + HostAlias,
		readHost, dialLoopback, dialHostLoopback}

	var sandboxes []*started
	for range 2 {
		spec := testSpec(code, "", checks...)
		spec.Network = NetworkOutbound
		spec.Outbound = network
		sandboxes = append(sandboxes, start(t, spec))
	}
	// Other ember processes (tests running beside these) make links of
	// their own: each sandbox is checked for its own.
	var links []string
	for i, s := range sandboxes {
		if s.veth == nil {
			t.Fatalf("sandbox %d has no veth", i)
		}
		if _, err := net.InterfaceByName(s.veth.host); err != nil {
			t.Errorf("sandbox %d: host link %s: %v", i, s.veth.host, err)
		}
		links = append(links, s.veth.host)
	}
	if links[0] == links[1] {
		t.Errorf("both sandboxes have the host link %s", links[0])
	}
	// Both run at once.
	for _, s := range sandboxes {
		if err := s.Exec(); err != nil {
			t.Fatalf("Exec: %v", err)
		}
	}
	seen := map[netip.Addr]bool{}
	for i, s := range sandboxes {
		got := s.results(t)
		addr, err := netip.ParsePrefix(got["addrs:eth0"])
		if err != nil || addr.Bits() != 30 || !outboundRange.Contains(addr.Addr()) {
			t.Errorf("sandbox %d: eth0 has %q, want one address of a /30 in %v", i, got["addrs:eth0"], outboundRange)
			continue
		}
		if seen[addr.Addr()] {
			t.Errorf("sandbox %d: address %v given twice", i, addr.Addr())
		}
		seen[addr.Addr()] = true
		hostAddr := addr.Masked().Addr().Next()
		expect(t, got, map[string]string{
			"ifaces":              "lo,eth0",
			"defaultroute":        "eth0 via " + hostAddr.String(),
			"lookup:localhost":    "127.0.0.1", // the caller's line, kept
			"lookup:" + HostAlias: hostAddr.String(),
			readHost:              "hello from the host",
			dialLoopback:          "ECONNREFUSED",
		})
		if r := got[dialHostLoopback]; r != "ECONNREFUSED" && !strings.Contains(r, "timeout") {
			t.Errorf("sandbox %d reached the host's loopback listener through %v: %q", i, hostAddr, r)
		}
	}

	for _, s := range sandboxes {
		if err := s.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	}
	for _, name := range links {
		if _, err := net.InterfaceByName(name); err == nil {
			t.Errorf("host link %s left after Destroy", name)
		}
	}
}

// TestOutboundStartFails checks that a sandbox whose init stage fails
// leaves no link, and that an outbound Spec needs a Network.
func TestOutboundStartFails(t *testing.T) {
	code := needSandbox(t)
	network := needNetwork(t)

	spec := testSpec(code, "", "hello")
	spec.Network = NetworkOutbound
	if _, err := Start(spec); err == nil || !strings.Contains(err.Error(), "Outbound") {
		t.Errorf("Start without Outbound: %v, want refused", err)
	}
	spec.Outbound = network
	spec.Dir = "/nonexistent"
	s, err := Start(spec)
	if err == nil {
		// The working directory is checked before exec: Start fails.
		s.Destroy()
		t.Fatal("Start worked with a missing working directory")
	}
	// The failed Start took the Network's first /30: its link must be gone
	// and the /30 free again. (Other ember processes may have links of
	// their own meanwhile.)
	if network.next == 0 {
		t.Fatal("the failed Start reserved no /30")
	}
	tried := network.vethAt(network.next - 1)
	if _, err := net.InterfaceByName(tried.host); err == nil {
		t.Errorf("host link %s left after a failed Start", tried.host)
	}
	for slot, used := range network.used {
		if used {
			t.Errorf("/30 number %d still reserved after a failed Start", slot)
		}
	}
}

// TestOutboundStartupTime measures what the outbound network adds to
// Start and Destroy.
func TestOutboundStartupTime(t *testing.T) {
	code := needSandbox(t)
	network := needNetwork(t)
	image := filepath.Join(t.TempDir(), "tmp.img")
	const n = 20
	var starts, destroys [2][]time.Duration
	for range n {
		for mode := range 2 {
			spec := testSpec(code, image, "hello")
			if mode == 1 {
				spec.Network = NetworkOutbound
				spec.Outbound = network
			}
			t0 := time.Now()
			s := start(t, spec)
			t1 := time.Now()
			if err := s.Destroy(); err != nil {
				t.Fatal(err)
			}
			starts[mode] = append(starts[mode], t1.Sub(t0))
			destroys[mode] = append(destroys[mode], time.Since(t1))
		}
	}
	t.Logf("p50 over %d (race detector: %v): Start %v without network, %v outbound; Destroy %v, %v",
		n, raceEnabled, p50(starts[0]), p50(starts[1]), p50(destroys[0]), p50(destroys[1]))

	// The host side's share alone: create the pair with its address, into
	// a sandbox that waits before exec, and delete it.
	s := start(t, testSpec(code, "", "hello"))
	var creates, removes []time.Duration
	for range n {
		t0 := time.Now()
		v, err := network.newVeth(s.Pid())
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		if err := v.remove(); err != nil {
			t.Fatal(err)
		}
		creates = append(creates, t1.Sub(t0))
		removes = append(removes, time.Since(t1))
	}
	t.Logf("p50 veth pair with the host end's address: create %v, delete %v", p50(creates), p50(removes))
}

// ownNetnsEnv is set in the environment of the test binary that
// TestMasquerade runs in a network namespace of its own; it holds the
// probe's directory.
const ownNetnsEnv = "SANDBOX_TEST_OWN_NETNS"

// TestMasquerade checks that an outbound sandbox reaches an address beyond
// the host as the host: a listener in a network namespace behind a veth
// of the host, with addresses outside outboundRange and no route back to
// it, sees the address of the host's end as the source, and answers.
// Without ember's table the same dial gets no answer; made again, the
// table masquerades again. A table of other software's is left as it was.
// The test runs again in a child test binary, in a network namespace of
// its own, so that no masquerading rule of this machine (another
// program's, or an older ember's) can stand in for ember's.
func TestMasquerade(t *testing.T) {
	code := os.Getenv(ownNetnsEnv)
	if code == "" {
		out, err := ownNetnsChild(t, needSandbox(t)).CombinedOutput()
		t.Logf("in a network namespace of its own:\n%s", out)
		if err != nil || !strings.Contains(string(out), "--- PASS: TestMasquerade") {
			t.Fatalf("TestMasquerade in a network namespace of its own: %v", err)
		}
		return
	}

	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	// The new namespace's loopback is down; other software's table is
	// there before ember's.
	lo, err := ifIndex("lo")
	if err == nil {
		err = withRtnl(func(r *rtnl) error { return r.setUp(lo) })
	}
	if err != nil {
		t.Fatalf("bring lo up: %v", err)
	}
	accept := nftables.ChainPolicyAccept
	other := &nftables.Table{Family: nftables.TableFamilyINet, Name: "other"}
	c.AddTable(other)
	c.AddChain(&nftables.Chain{Name: "input", Table: other, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	if err := c.Flush(); err != nil {
		t.Fatalf("other software's table: %v", err)
	}

	network := needNetwork(t)
	if err := network.NAT(); err != nil {
		t.Fatalf("NewNetwork: %v", err)
	}
	checkFirewall(t, c)
	out := newOutside(t)
	run := func(check string) string {
		t.Helper()
		spec := testSpec(code, "", check)
		spec.Network = NetworkOutbound
		spec.Outbound = network
		s := start(t, spec)
		if err := s.Exec(); err != nil {
			t.Fatalf("Exec: %v", err)
		}
		return s.results(t)[check]
	}
	// The sandbox reads the listener's line with bash, whose connect
	// retries a lost SYN as the kernel does (the probe's own dial gives up
	// after a second, which a loaded machine can take).
	readOutside := fmt.Sprintf("sh:timeout 10 bash -c 'read -r line </dev/tcp/%v/%d && echo $line'",
		out.listen.Addr(), out.listen.Port())
	masqueraded := func(when string) {
		t.Helper()
		if got := run(readOutside); got != out.host.String() {
			t.Errorf("%s, a sandbox's connection beyond the host: %q, want its source seen as the host's %v", when, got, out.host)
		}
	}
	masqueraded("with the table")

	table := &nftables.Table{Family: nftables.TableFamilyINet, Name: firewallTable}
	c.DelTable(table)
	if err := c.Flush(); err != nil {
		t.Fatalf("delete table: %v", err)
	}
	// No answer comes back to an address that the outside has no route to.
	if got := run("readline:" + out.listen.String()); !strings.Contains(got, "timeout") {
		t.Errorf("without ember's table, a sandbox's dial beyond the host: %q, want a timeout", got)
	}

	needNetwork(t)
	checkFirewall(t, c)
	masqueraded("with the table made again")

	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(tables, func(tb *nftables.Table) bool { return tb.Name == other.Name }) {
		t.Fatalf("table inet %s is gone", other.Name)
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(chains, func(ch *nftables.Chain) bool { return ch.Table.Name == other.Name && ch.Name == "input" }) {
		t.Errorf("table inet %s lost its chain", other.Name)
	}
}

// ownNetnsChild is the command that runs the test again in a child test
// binary, in a network namespace of its own, with ownNetnsEnv set to code.
func ownNetnsChild(t *testing.T, code string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), ownNetnsEnv+"="+code)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	return cmd
}

// TestFirewallAfterKill kills an ember process (a child test binary, in a
// network namespace of its own) with SIGKILL once its Network is made,
// and checks that the rule set, nat chain included, is still there.
func TestFirewallAfterKill(t *testing.T) {
	if os.Getenv(ownNetnsEnv) != "" {
		needNetwork(t)
		fmt.Println("ready")
		time.Sleep(time.Minute)
		t.Fatal("not killed")
	}
	cmd := ownNetnsChild(t, needSandbox(t))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	var seen []string
	for lines := bufio.NewScanner(stdout); lines.Scan(); {
		if seen = append(seen, lines.Text()); lines.Text() == "ready" {
			break
		}
	}
	if seen[len(seen)-1] != "ready" {
		t.Fatalf("the child ended before its Network was made:\n%s\n%s", strings.Join(seen, "\n"), stderr.String())
	}
	// The namespace outlives the process while this file is open.
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child: %v, want killed", err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	checkFirewall(t, c)
}

// withRtnl runs f with a route netlink socket of the caller's network
// namespace.
func withRtnl(f func(*rtnl) error) error {
	r, err := openRtnl()
	if err != nil {
		return err
	}
	defer r.Close()
	return f(r)
}

// outside is a network namespace beyond the host, linked to it by a veth
// with addresses outside outboundRange, and with no route to anywhere
// else, outboundRange included.
type outside struct {
	// host is the address of the host's end.
	host netip.Addr
	// listen is where a listener in the namespace answers each
	// connection with the address it came from.
	listen netip.AddrPort
}

// outsideLink names the host's end of the veth to the outside namespace.
const outsideLink = "outside0"

// newOutside makes the outside namespace; it goes when the test ends.
func newOutside(t *testing.T) outside {
	t.Helper()
	// 198.18.0.0/15 is for benchmarking networks: no one else's.
	hostAddr := netip.MustParsePrefix("198.18.0.1/30")
	nsAddr := netip.MustParsePrefix("198.18.0.2/30")
	type made struct {
		// tid is the thread in the new namespace.
		tid int
		l   net.Listener
		err error
	}
	ch := make(chan made, 1)
	linked := make(chan error, 1)
	go func() {
		// The thread leaves the test's namespace and stays locked: it ends
		// with the goroutine. The listener holds the namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- made{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		ch <- made{tid: unix.Gettid()}
		if err := <-linked; err != nil {
			return
		}
		l, err := listenOutside(nsAddr)
		ch <- made{l: l, err: err}
	}()
	m := <-ch
	if m.err != nil {
		t.Fatalf("outside namespace: %v", m.err)
	}
	// The host's end here, up; eth0 in the new namespace.
	err := withRtnl(func(r *rtnl) error { return r.addVeth(vethEnd{name: outsideLink}, vethEnd{name: "eth0"}, m.tid) })
	var index int32
	if err == nil {
		index, err = ifIndex(outsideLink)
	}
	linked <- err
	if err != nil {
		t.Fatalf("veth to the outside namespace: %v", err)
	}
	t.Cleanup(func() { withRtnl(func(r *rtnl) error { return r.delLinkIndex(index) }) })
	if err := withRtnl(func(r *rtnl) error { return r.addAddr(index, hostAddr) }); err != nil {
		t.Fatalf("host's end %s: %v", outsideLink, err)
	}
	if m = <-ch; m.err != nil {
		t.Fatalf("outside namespace: %v", m.err)
	}
	t.Cleanup(func() { m.l.Close() })
	go func() {
		for {
			c, err := m.l.Accept()
			if err != nil {
				return
			}
			from, _ := netip.ParseAddrPort(c.RemoteAddr().String())
			io.WriteString(c, from.Addr().String()+"\n")
			c.Close()
		}
	}()
	return outside{
		host:   hostAddr.Addr(),
		listen: netip.AddrPortFrom(nsAddr.Addr(), uint16(m.l.Addr().(*net.TCPAddr).Port)),
	}
}

// listenOutside, on a thread in the outside namespace, gives its eth0
// addr, brings it up and listens on all of the namespace's addresses.
func listenOutside(addr netip.Prefix) (net.Listener, error) {
	index, err := ifIndex("eth0")
	if err == nil {
		err = withRtnl(func(r *rtnl) error {
			if err := r.addAddr(index, addr); err != nil {
				return err
			}
			return r.setUp(index)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("eth0: %w", err)
	}
	return net.Listen("tcp4", "0.0.0.0:0")
}

// TestOutboundNeighbours checks that each end of an outbound sandbox's
// veth has a permanent neighbour entry for the other, with the other's
// MAC, and no other entry once the sandbox has reached the host: its
// traffic adds nothing to the kernel's neighbour table, which holds 1,024
// entries by default for every namespace together. The host's entry goes
// with the link.
func TestOutboundNeighbours(t *testing.T) {
	code := needSandbox(t)
	network := needNetwork(t)

	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	served := make(chan struct{}, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hello\n")
			c.Close()
			select {
			case served <- struct{}{}:
			default:
			}
		}
	}()
	readHost := fmt.Sprintf("readline:%s:%d", HostAlias, l.Addr().(*net.TCPAddr).Port)
	// The sandbox stays a while after it has reached the host.
	spec := testSpec(code, "", readHost, "sh:sleep 2")
	spec.Network = NetworkOutbound
	spec.Outbound = network
	s := start(t, spec)
	v := s.veth
	hostEnd, err := net.InterfaceByIndex(int(v.index))
	if err != nil || hostEnd.Name != v.host {
		t.Fatalf("host end %s, index %d: %v, %v", v.host, v.index, hostEnd, err)
	}

	check := func(when string) {
		t.Helper()
		var sandboxEnd *net.Interface
		var inside []neighbour
		err := inNetns(s.Pid(), func() error {
			var err error
			if sandboxEnd, err = net.InterfaceByName(sandboxLink); err != nil {
				return err
			}
			inside, err = neighbours(int32(sandboxEnd.Index))
			return err
		})
		if err != nil {
			t.Fatalf("%s, in the sandbox: %v", when, err)
		}
		host, err := neighbours(v.index)
		if err != nil {
			t.Fatalf("%s, on the host: %v", when, err)
		}
		want := func(side string, got []neighbour, addr netip.Addr, mac net.HardwareAddr) {
			t.Helper()
			w := neighbour{addr: addr, mac: mac.String(), state: unix.NUD_PERMANENT}
			if len(got) != 1 || got[0] != w {
				t.Errorf("%s, %s's neighbour entries: %v, want only %v", when, side, got, w)
			}
		}
		want("the host end", host, v.addr.Addr(), sandboxEnd.HardwareAddr)
		want("the sandbox end", inside, v.hostAddr.Addr(), hostEnd.HardwareAddr)
	}
	check("before the sandbox's command runs")
	if err := s.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	select {
	case <-served:
	case <-time.After(30 * time.Second):
		t.Fatal("the sandbox did not reach the host")
	}
	check("once the sandbox has reached the host")
	if got := s.results(t)[readHost]; got != "hello" {
		t.Errorf("the sandbox read %q from the host, want hello", got)
	}

	if err := s.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if got, err := neighbours(v.index); err != nil || len(got) != 0 {
		t.Errorf("neighbour entries of the host end after Destroy: %v, %v; want none", got, err)
	}
}

// neighbour is an IPv4 entry of the kernel's neighbour table.
type neighbour struct {
	addr  netip.Addr
	mac   string
	state uint16
}

func (n neighbour) String() string {
	return fmt.Sprintf("%v lladdr %s state %#x", n.addr, n.mac, n.state)
}

// neighbours lists the IPv4 neighbour entries of link index, in the
// caller's network namespace.
func neighbours(index int32) ([]neighbour, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	req := make([]byte, unix.SizeofNlMsghdr+unix.SizeofNdMsg)
	*(*unix.NlMsghdr)(unsafe.Pointer(&req[0])) = unix.NlMsghdr{
		Len: uint32(len(req)), Type: unix.RTM_GETNEIGH, Flags: unix.NLM_F_REQUEST | unix.NLM_F_DUMP, Seq: 1,
	}
	*(*unix.NdMsg)(unsafe.Pointer(&req[unix.SizeofNlMsghdr])) = unix.NdMsg{Family: unix.AF_INET}
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	var found []neighbour
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return found, nil
			case unix.NLMSG_ERROR:
				return nil, fmt.Errorf("neighbour dump: errno %d", -int32(binary.NativeEndian.Uint32(m.Data)))
			case unix.RTM_NEWNEIGH:
			default:
				continue
			}
			nd := (*unix.NdMsg)(unsafe.Pointer(&m.Data[0]))
			if nd.Ifindex != index {
				continue
			}
			e := neighbour{state: nd.State}
			for b := m.Data[unix.SizeofNdMsg:]; len(b) >= unix.SizeofRtAttr; {
				l := int(binary.NativeEndian.Uint16(b))
				typ := binary.NativeEndian.Uint16(b[2:])
				if l < unix.SizeofRtAttr || l > len(b) {
					return nil, errors.New("neighbour dump: bad attribute")
				}
				data := b[unix.SizeofRtAttr:l]
				switch typ {
				case unix.NDA_DST:
					e.addr, _ = netip.AddrFromSlice(data)
				case unix.NDA_LLADDR:
					e.mac = net.HardwareAddr(data).String()
				}
				b = b[min(len(b), (l+3)&^3):]
			}
			found = append(found, e)
		}
	}
}

// inNetns runs f on a thread in the network namespace of process pid.
func inNetns(pid int, f func() error) error {
	_, err := openInNetns(pid, func() (io.Closer, error) { return io.NopCloser(nil), f() })
	return err
}

// TestOutboundConcurrent starts and destroys 64 outbound sandboxes at
// once, again and again, across four Networks, which share the /30s as
// four ember processes would. A pair goes with its sandbox's namespace,
// and its name (its /30) is then free for another Network's next sandbox:
// deleting the old pair by name deleted the new one, whose start failed
// with "address of veth …: no such device".
func TestOutboundConcurrent(t *testing.T) {
	code := needSandbox(t)
	const networks, each, rounds = 4, 16, 5
	var wg sync.WaitGroup
	errs := make(chan error, networks*each*rounds)
	for range networks {
		network := needNetwork(t)
		for range each {
			wg.Go(func() {
				for range rounds {
					spec := testSpec(code, "", "hello")
					spec.Network = NetworkOutbound
					spec.Outbound = network
					s, err := Start(spec)
					if err != nil {
						errs <- err
						continue
					}
					if err := s.Destroy(); err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 5 {
			t.Error(err)
		}
	}
	if n > 0 {
		t.Errorf("%d of %d starts and destroys failed", n, networks*each*rounds)
	}
}
