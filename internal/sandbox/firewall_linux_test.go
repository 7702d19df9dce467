package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TestSandboxesApart starts two outbound sandboxes, one with a listener
// on all its addresses, and checks that the other cannot reach it while it
// still reaches a host service as HostAlias; the host itself reaches the
// listener, so the listener is there to be found.
func TestSandboxesApart(t *testing.T) {
	code := needSandbox(t)
	network := needNetwork(t)

	public, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer public.Close()
	go serveLines(public, "hello from the host")
	publicPort := public.Addr().(*net.TCPAddr).Port

	// The listening sandbox waits before exec; ember opens the listener in
	// its network namespace, as it does the Runtime API's.
	spec := testSpec(code, "", "hello")
	spec.Network = NetworkOutbound
	spec.Outbound = network
	listening := start(t, spec)
	l, err := listenInNetns(listening.Pid(), "tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatalf("listen in the sandbox: %v", err)
	}
	defer l.Close()
	go serveLines(l, "hello from the other sandbox")
	target := netip.AddrPortFrom(listening.veth.addr.Addr(), uint16(l.Addr().(*net.TCPAddr).Port)).String()

	// The host reaches it once the init stage has brought eth0 up.
	deadline := time.Now().Add(10 * time.Second)
	for {
		line, err := readLine(target)
		if err == nil && line == "hello from the other sandbox" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host cannot reach the listener in the sandbox at %s: %q, %v", target, line, err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	readHost := fmt.Sprintf("readline:%s:%d", HostAlias, publicPort)
	readOther := "readline:" + target
	spec = testSpec(code, "", readHost, readOther)
	spec.Network = NetworkOutbound
	spec.Outbound = network
	dialling := start(t, spec)
	if err := dialling.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	got := dialling.results(t)
	expect(t, got, map[string]string{readHost: "hello from the host"})
	// Dropped, not refused: the connection times out.
	if r := got[readOther]; !strings.Contains(r, "timeout") {
		t.Errorf("a sandbox dialled a listener in another sandbox at %s: %q, want a timeout", target, r)
	}
}

// readLine reads the first line that the TCP server at addr sends.
func readLine(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// TestFirewallRemade deletes ember's table, as an administrator might,
// and checks that a new Network makes it again, with its nat chain, that
// making it again and again, at once from several goroutines, leaves one
// copy, and that no netlink socket owns it (it stays when the process that
// made it is killed).
func TestFirewallRemade(t *testing.T) {
	needSandbox(t)
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	table := &nftables.Table{Family: nftables.TableFamilyINet, Name: firewallTable}
	// Another ember's table may be there, or not.
	c.AddTable(table)
	c.DelTable(table)
	if err := c.Flush(); err != nil {
		t.Fatalf("delete table: %v", err)
	}
	if _, err := c.ListTableOfFamily(firewallTable, nftables.TableFamilyINet); err == nil {
		t.Fatal("table still there after its deletion")
	}
	t0 := time.Now()
	network := needNetwork(t)
	t.Logf("NewNetwork with the rule set: %v", time.Since(t0))
	if err := network.NAT(); err != nil {
		t.Errorf("NewNetwork: %v", err)
	}
	checkFirewall(t, c)
	t0 = time.Now()
	if err := installFirewall(true); err != nil {
		t.Fatalf("installFirewall again: %v", err)
	}
	t.Logf("installFirewall over the table that is there: %v", time.Since(t0))
	checkFirewall(t, c)

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range cap(errs) {
		wg.Go(func() { errs <- installFirewall(true) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("installFirewall, several at once: %v", err)
		}
	}
	checkFirewall(t, c)
}

// nftTableFOwner is NFT_TABLE_F_OWNER of linux/netfilter/nf_tables.h,
// which x/sys lacks: the table goes with the netlink socket that made it.
const nftTableFOwner = 0x2

// checkFirewall checks that the rule set is there, once, as
// installFirewall makes it with masquerade.
func checkFirewall(t *testing.T, c *nftables.Conn) {
	t.Helper()
	got, err := c.ListTableOfFamily(firewallTable, nftables.TableFamilyINet)
	if err != nil {
		t.Fatalf("table inet %s: %v", firewallTable, err)
	}
	if got.Flags&nftTableFOwner != 0 {
		t.Error("the table is owned by a netlink socket: it would go with the process")
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	var forward, nat *nftables.Chain
	for _, ch := range chains {
		if ch.Table.Name != firewallTable {
			continue
		}
		switch {
		case ch.Name == firewallChain && forward == nil:
			forward = ch
		case ch.Name == natChain && nat == nil:
			nat = ch
		default:
			t.Errorf("unexpected chain %s in table %s", ch.Name, firewallTable)
		}
	}
	if forward == nil || nat == nil {
		t.Fatalf("table %s has chain %s: %v, chain %s: %v", firewallTable, firewallChain, forward != nil, natChain, nat != nil)
	}
	if forward.Hooknum == nil || *forward.Hooknum != *nftables.ChainHookForward {
		t.Errorf("chain %s is not on the forward hook", firewallChain)
	}
	if nat.Type != nftables.ChainTypeNAT || nat.Hooknum == nil || *nat.Hooknum != *nftables.ChainHookPostrouting {
		t.Errorf("chain %s is not a nat chain on the postrouting hook: type %s", natChain, nat.Type)
	}
	rules, err := c.GetRules(got, forward)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(firewallRules()); len(rules) != want {
		t.Fatalf("%d rules in chain %s, want %d", len(rules), firewallChain, want)
	}
	for i, r := range rules {
		v, ok := r.Exprs[len(r.Exprs)-1].(*expr.Verdict)
		if !ok || v.Kind != expr.VerdictDrop {
			t.Errorf("rule %d does not end in drop: %#v", i, r.Exprs[len(r.Exprs)-1])
		}
	}
	rules, err = c.GetRules(got, nat)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 {
		t.Fatalf("%d rules in chain %s, want 1", len(rules), natChain)
	}
	if _, ok := rules[0].Exprs[len(rules[0].Exprs)-1].(*expr.Masq); !ok {
		t.Errorf("the rule of chain %s does not end in masquerade: %#v", natChain, rules[0].Exprs[len(rules[0].Exprs)-1])
	}
}

// TestFirewallErrorNamesNfTables checks that the errors a kernel without
// nf_tables gives are reported as such, and stay comparable.
func TestFirewallErrorNamesNfTables(t *testing.T) {
	for _, errno := range []unix.Errno{unix.EPROTONOSUPPORT, unix.EOPNOTSUPP, unix.EAFNOSUPPORT, unix.ENOENT} {
		err := firewallError(fmt.Errorf("netlink receive: %w", errno), false)
		if !errors.Is(err, errno) || !strings.Contains(err.Error(), "no usable nf_tables (") {
			t.Errorf("%v: %v", unix.ErrnoName(errno), err)
		}
		err = firewallError(fmt.Errorf("netlink receive: %w", errno), true)
		if !errors.Is(err, errno) || !strings.Contains(err.Error(), "no usable nf_tables NAT") {
			t.Errorf("%v, with masquerade: %v", unix.ErrnoName(errno), err)
		}
	}
	if err := firewallError(unix.EPERM, true); strings.Contains(err.Error(), "no usable") || !errors.Is(err, unix.EPERM) {
		t.Errorf("EPERM: %v", err)
	}
}
