package sandbox

import (
	"errors"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The firewall keeps outbound sandboxes apart: the host forwards nothing
// from one sandbox's link to another's, so a function cannot reach a port
// that another function's environment listens on. Each sandbox still
// reaches the host (its own host end's address, host.ember.internal),
// which is input to the host rather than forwarded, and everything beyond
// the host.
//
// The rule set is an nf_tables table of ember's own, "inet ember", made
// over netlink. Its content is the same for every ember process, and it
// is not tied to one: it stays when ember stops or is killed, and every
// Network replaces it whole at its start, in one atomic batch, so that
// several ember processes on one machine can make it at any time without
// a moment in which the others' sandboxes are not kept apart. Other
// software's tables are left alone. A drop in any base chain is final, so
// the chain's priority among other tables' forward chains does not matter.

// firewallTable names ember's own nf_tables table, of the inet family.
const firewallTable = "ember"

// firewallChain is the table's chain on the forward hook.
const firewallChain = "forward"

// hostLinkPrefix begins the name of every sandbox's host end (see
// Network): an nf_tables interface name match on this prefix, without its
// terminating NUL, matches them all.
const hostLinkPrefix = "emb"

// installFirewall replaces ember's table with one whose forward chain
// drops what comes in on a sandbox's host end and would go out through
// another's, and, for IPv4, what comes in on a sandbox's host end for an
// address in outboundRange (the host's own addresses there are input,
// not forwarded, so they stay reachable).
func installFirewall() error {
	c, err := nftables.New()
	if err != nil {
		return firewallError(err)
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
	if err := c.Flush(); err != nil {
		return firewallError(err)
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
	mask := net4Mask(outboundRange.Bits())
	network := outboundRange.Masked().Addr().As4()
	toSandboxes := concat(fromSandbox, []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		// The destination address, at offset 16 of the IPv4 header.
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask[:], Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: network[:]},
	}, drop)
	return [][]expr.Any{betweenLinks, toSandboxes}
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
// the likely cause when the kernel has no nf_tables.
func firewallError(err error) error {
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EAFNOSUPPORT) {
		return fmt.Errorf("keep sandboxes apart: the kernel has no usable nf_tables (CONFIG_NF_TABLES, CONFIG_NF_TABLES_INET): %w", err)
	}
	return fmt.Errorf("keep sandboxes apart: nf_tables table inet %s: %w", firewallTable, err)
}
