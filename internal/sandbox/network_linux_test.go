package sandbox

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/testenv"
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
		if n.natRule != nil && iptables("-C", n.natRule) == nil {
			t.Error("masquerading rule left after Close")
		}
	})
	if err := n.NAT(); err != nil {
		t.Logf("%v (install iptables to check NAT)", err)
	} else if err := iptables("-C", n.natRule); err != nil {
		t.Errorf("masquerading rule missing: %v", err)
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
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Logf("no iptables here: %v", err)
	}
}

// TestStaleRulesRemoved checks that a Network removes the masquerading
// rule that a killed ember process left, and keeps those of live ones.
func TestStaleRulesRemoved(t *testing.T) {
	needSandbox(t)
	testenv.Command(t, "iptables")
	rule := func(comment string) []string {
		return []string{"-t", "nat", "POSTROUTING", "-s", outboundRange.String(), "!", "-d", outboundRange.String(),
			"-j", "MASQUERADE", "-w", "-m", "comment", "--comment", comment}
	}
	// No process has a pid past the kernel's maximum, 2^22.
	stale, live := rule("ember-4194400-1"), rule(fmt.Sprintf("ember-%d-1", os.Getppid()))
	for _, r := range [][]string{stale, live} {
		if err := iptables("-A", r); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { iptables("-D", live) })
	needNetwork(t)
	if iptables("-C", stale) == nil {
		iptables("-D", stale)
		t.Error("the rule of a process that is gone is still there")
	}
	if err := iptables("-C", live); err != nil {
		t.Errorf("the rule of a live process was removed: %v", err)
	}
}
