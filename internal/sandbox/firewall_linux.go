package sandbox

import (
	"errors"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The firewall keeps outbound sandboxes apart and masquerades their
// traffic. The host forwards nothing from one sandbox's link to another's,
// so a function cannot reach a port that another function's environment
// listens on. Each sandbox still reaches the host (its own host end's
// address, host.ember.internal), which is input to the host rather than
// forwarded, and everything beyond the host, as the host's own address.
//
// The rule set is an nf_tables table of ember's own, "inet ember", made
// over netlink. Its content is the same for every ember process, and it
// is not tied to one: it stays when ember stops or is killed, and every
// Network replaces it whole at its start, in one atomic batch, so that
// several ember processes on one machine can make it at any time without
// a moment in which the others' sandboxes are not kept apart or not
// masqueraded. Other software's tables are left alone. A drop in any base
// chain is final, so the forward chain's priority among other tables'
// forward chains does not matter; of several nat chains on one hook, the
// first that binds a connection's addresses wins, and any masquerade of a
// sandbox's traffic gives the same source address.
//
// An inet table holds a nat chain on Linux 5.2 and later, with nf_tables
// NAT built (CONFIG_NFT_NAT, CONFIG_NFT_MASQ). Where it cannot, the table
// is made without one: sandboxes are still kept apart, and reach this host
// only (see Network.NAT).

// firewallTable names ember's own nf_tables table, of the inet family.
const firewallTable = "ember"

// firewallChain is the table's chain on the forward hook.
const firewallChain = "forward"

// natChain is the table's nat chain on the postrouting hook.
const natChain = "postrouting"

// hostLinkPrefix begins the name of every sandbox's host end (see
// Network): an nf_tables interface name match on this prefix, without its
// terminating NUL, matches them all.
const hostLinkPrefix = "emb"

// installFirewall replaces ember's table with one whose forward chain
// drops what comes in on a sandbox's host end and would go out through
// another's, and, for IPv4, what comes in on a sandbox's host end for an
// address in outboundRange (the host's own addresses there are input,
// not forwarded, so they stay reachable). With masquerade, the table also
// has a nat chain that masquerades traffic from outboundRange to anywhere
// outside it.
func installFirewall(masquerade bool) error {
	c, err := nftables.New()
	if err != nil {
		return firewallError(err, masquerade)
	}
	table := nftables.Table{Family: nftables.TableFamilyINet, Name: firewallTable}
	// Added first so that the delete finds it; all of it is one batch,
	// applied at once or not at all.
	c.AddTable(&table)
	c.DelTable(&table)
	c.AddTable(&table)
	accept := nftables.ChainPolicyAccept
	chain := c.AddChain(&nftables.Chain{
		Name:     firewallChain,
		Table:    &table,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookForward,
		Priority: nftables.ChainPriorityFilter,
		Policy:   &accept,
	})
	for _, exprs := range firewallRules() {
		c.AddRule(&nftables.Rule{Table: &table, Chain: chain, Exprs: exprs})
	}
	if masquerade {
		nat := c.AddChain(&nftables.Chain{
			Name:     natChain,
			Table:    &table,
			Type:     nftables.ChainTypeNAT,
			Hooknum:  nftables.ChainHookPostrouting,
			Priority: nftables.ChainPriorityNATSource,
			Policy:   &accept,
		})
		c.AddRule(&nftables.Rule{Table: &table, Chain: nat, Exprs: natRule()})
	}
	if err := c.Flush(); err != nil {
		return firewallError(err, masquerade)
	}
	return nil
}

// firewallRules are the forward chain's rules, in order.
func firewallRules() [][]expr.Any {
	fromSandbox := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(hostLinkPrefix)},
	}
	drop := []expr.Any{
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
	// iifname "emb*" oifname "emb*" counter drop
	betweenLinks := concat(fromSandbox, []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(hostLinkPrefix)},
	}, drop)
	// iifname "emb*" ip daddr 169.254.128.0/17 counter drop
	toSandboxes := concat(fromSandbox, ipv4(), inOutboundRange(ipv4Dst, expr.CmpOpEq), drop)
	return [][]expr.Any{betweenLinks, toSandboxes}
}

// natRule is the nat chain's one rule:
// ip saddr 169.254.128.0/17 ip daddr != 169.254.128.0/17 counter masquerade
func natRule() []expr.Any {
	return concat(ipv4(),
		inOutboundRange(ipv4Src, expr.CmpOpEq),
		inOutboundRange(ipv4Dst, expr.CmpOpNeq),
		[]expr.Any{&expr.Counter{}, &expr.Masq{}})
}

// ipv4 matches IPv4 packets, in a table of the inet family.
func ipv4() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
	}
}

// The offsets of the source and destination addresses in the IPv4 header.
const (
	ipv4Src = 12
	ipv4Dst = 16
)

// inOutboundRange compares the IPv4 address at offset of the network
// header, masked to outboundRange's length, with outboundRange: op
// CmpOpEq matches an address in it, CmpOpNeq one outside it.
func inOutboundRange(offset uint32, op expr.CmpOp) []expr.Any {
	mask := net4Mask(outboundRange.Bits())
	network := outboundRange.Masked().Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask[:], Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: network[:]},
	}
}

func concat(parts ...[]expr.Any) []expr.Any {
	var all []expr.Any
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// net4Mask is the IPv4 netmask of a prefix of bits bits.
func net4Mask(bits int) [4]byte {
	v := ^uint32(0) << (32 - bits)
	return [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// firewallError says what a failure to make the rule set means, and names
// the likely cause when the kernel has no nf_tables, or, with masquerade,
// no nf_tables NAT for an inet table.
func firewallError(err error, masquerade bool) error {
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EAFNOSUPPORT) {
		if masquerade {
			return fmt.Errorf("nf_tables table inet %s: the kernel has no usable nf_tables NAT for an inet table (Linux 5.2 or later, CONFIG_NFT_NAT, CONFIG_NFT_MASQ): %w", firewallTable, err)
		}
		return fmt.Errorf("nf_tables table inet %s: the kernel has no usable nf_tables (CONFIG_NF_TABLES, CONFIG_NF_TABLES_INET): %w", firewallTable, err)
	}
	return fmt.Errorf("nf_tables table inet %s: %w", firewallTable, err)
}
