package sandbox

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/testenv"
)

// newPool is NewPool, closed when the test ends.
func newPool(t *testing.T, spares int, outbound *Network) *Pool {
	t.Helper()
	p := NewPool(spares, outbound)
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Pool.Close: %v", err)
		}
	})
	return p
}

// startFrom starts spec from p (nil: as Start does) with stdout and
// stderr on a pipe, and destroys the sandbox when the test ends.
func startFrom(t *testing.T, p *Pool, spec Spec) *started {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	spec.Stdout, spec.Stderr = w, w
	s, err := p.Start(spec)
	w.Close()
	if errors.Is(err, ErrUnsupported) {
		r.Close()
		testenv.Missing(t, "sandboxes unsupported here: %v", err)
	}
	if err != nil {
		r.Close()
		t.Fatalf("Pool.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
		r.Close()
	})
	return &started{s, r}
}

// blanks are the blank sandboxes that p holds for mode.
func blanks(p *Pool, mode NetworkMode) []*Sandbox {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.ready[blankKind{mode: mode, userNS: true}])
}

// waitBlank waits until p holds a blank sandbox of mode that is none of
// old, and returns it.
func waitBlank(t *testing.T, p *Pool, mode NetworkMode, old ...*Sandbox) *Sandbox {
	t.Helper()
	var blank *Sandbox
	waitFor(t, "a blank "+mode.String()+" sandbox", func() bool {
		for _, s := range blanks(p, mode) {
			if !slices.Contains(old, s) {
				blank = s
				return true
			}
		}
		return false
	})
	return blank
}

// phaseOf is the phase s is in.
func phaseOf(s *Sandbox) phase {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phase
}

// ended reports whether the process of s has ended.
func ended(s *Sandbox) bool {
	select {
	case <-s.Done():
		return true
	default:
		return false
	}
}

// checkBlank checks that s is a live blank sandbox of mode.
func checkBlank(t *testing.T, s *Sandbox, mode NetworkMode) {
	t.Helper()
	if ph := phaseOf(s); ph != phaseBlank {
		t.Errorf("sandbox %d is %v, want blank", s.Pid(), ph)
	}
	if ended(s) {
		t.Errorf("blank sandbox %d has ended", s.Pid())
	}
	if s.network != mode {
		t.Errorf("blank sandbox %d is for network %v, want %v", s.Pid(), s.network, mode)
	}
	if (s.veth != nil) != (mode == NetworkOutbound) {
		t.Errorf("blank %v sandbox %d has veth %v", mode, s.Pid(), s.veth)
	}
	if _, err := os.Stat(s.root); err != nil {
		t.Errorf("blank sandbox %d: root directory: %v", s.Pid(), err)
	}
}

// slotUsed reports whether n holds the /30 of slot for a sandbox.
func slotUsed(n *Network, slot int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.used[slot]
}

// checkGone checks that a sandbox the pool ended is destroyed: process
// ended, root directory removed and, for an outbound one, its link and
// its /30 freed.
func checkGone(t *testing.T, s *Sandbox) {
	t.Helper()
	if !ended(s) {
		t.Errorf("sandbox %d: process still running", s.Pid())
	}
	if ph := phaseOf(s); ph != phaseDestroyed {
		t.Errorf("sandbox %d is %v, want destroyed", s.Pid(), ph)
	}
	if _, err := os.Stat(s.root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("sandbox %d: root directory %s: %v, want it removed", s.Pid(), s.root, err)
	}
	if s.veth != nil {
		// A link of a namespace that is going away may show a moment
		// longer: the kernel removes it in the background.
		gone := func() bool {
			_, err := net.InterfaceByName(s.veth.host)
			return err != nil
		}
		for deadline := time.Now().Add(5 * time.Second); !gone() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if !gone() {
			t.Errorf("sandbox %d: host link %s left", s.Pid(), s.veth.host)
		}
		if slotUsed(s.veth.net, s.veth.slot) {
			t.Errorf("sandbox %d: /30 number %d still reserved", s.Pid(), s.veth.slot)
		}
	}
}

// outboundSpec is testSpec on network, with /tmp a tmpfs.
func outboundSpec(code string, network *Network, checks ...string) Spec {
	spec := testSpec(code, "", checks...)
	spec.Network = NetworkOutbound
	spec.Outbound = network
	return spec
}

// TestPoolOutboundBlank checks that a pool with a Network keeps a blank
// outbound sandbox from the start, that Start builds the sandbox from that
// very one, which then runs as any other outbound sandbox, and that the
// pool starts another in its place.
func TestPoolOutboundBlank(t *testing.T) {
	code := needSandbox(t)
	network := needNetwork(t)
	p := newPool(t, 1, network)

	blank := waitBlank(t, p, NetworkOutbound)
	checkBlank(t, blank, NetworkOutbound)
	if _, err := net.InterfaceByName(blank.veth.host); err != nil {
		t.Errorf("blank sandbox's host link %s: %v", blank.veth.host, err)
	}
	if got := blanks(p, NetworkNone); len(got) != 0 {
		t.Errorf("%d blank sandboxes of network none before any was asked for", len(got))
	}

	s := startFrom(t, p, outboundSpec(code, network, "hello", "ifaces", "lookup:"+HostAlias, "hostname"))
	if s.Sandbox != blank || s.Pid() != blank.Pid() {
		t.Fatalf("Start gave sandbox %d, want the blank one, %d", s.Pid(), blank.Pid())
	}
	if slices.Contains(blanks(p, NetworkOutbound), s.Sandbox) {
		t.Error("the pool still holds the sandbox that Start gave")
	}
	if _, err := os.Stat(s.root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("root directory %s still there once ready: %v", s.root, err)
	}
	if err := s.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	expect(t, s.results(t), map[string]string{
		"hello":               "hello",
		"ifaces":              "lo,eth0",
		"lookup:" + HostAlias: blank.veth.hostAddr.Addr().String(),
		"hostname":            "sandbox-test",
	})

	next := waitBlank(t, p, NetworkOutbound, blank)
	checkBlank(t, next, NetworkOutbound)
	if next.veth.host == blank.veth.host {
		t.Errorf("the next blank sandbox has the host link %s of the one in use", next.veth.host)
	}
}

// TestPoolNoneOnDemand checks that a pool starts a sandbox of a network
// mode it keeps no blank of when asked, without taking one of another
// mode, and keeps blank sandboxes of that mode from then on.
func TestPoolNoneOnDemand(t *testing.T) {
	code := needSandbox(t)
	network := needNetwork(t)
	p := newPool(t, 1, network)
	outbound := waitBlank(t, p, NetworkOutbound)

	first := startFrom(t, p, testSpec(code, "", "hello", "ifaces"))
	if first.Sandbox == outbound {
		t.Fatal("a sandbox of network none was built from the blank outbound one")
	}
	if first.network != NetworkNone || first.veth != nil {
		t.Errorf("sandbox is for network %v with veth %v, want none without", first.network, first.veth)
	}
	if got := blanks(p, NetworkOutbound); len(got) != 1 || got[0] != outbound {
		t.Errorf("blank outbound sandboxes after a Start of network none: %d, want the same one", len(got))
	}
	if err := first.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	expect(t, first.results(t), map[string]string{"hello": "hello", "ifaces": "lo"})

	blank := waitBlank(t, p, NetworkNone)
	checkBlank(t, blank, NetworkNone)
	if blank == first.Sandbox {
		t.Fatal("the pool holds the sandbox that Start gave as blank")
	}
	second := startFrom(t, p, testSpec(code, "", "hello", "ifaces"))
	if second.Sandbox != blank || second.Pid() != blank.Pid() {
		t.Fatalf("second Start gave sandbox %d, want the blank one, %d", second.Pid(), blank.Pid())
	}
	if err := second.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	expect(t, second.results(t), map[string]string{"hello": "hello", "ifaces": "lo"})
	waitBlank(t, p, NetworkNone, blank)
}

// TestPoolSkipsDeadBlank checks that a blank sandbox killed from outside
// is not given out: Start gives another, live one, and the dead one is
// destroyed, its link and /30 freed.
func TestPoolSkipsDeadBlank(t *testing.T) {
	code := needSandbox(t)
	network := needNetwork(t)
	p := newPool(t, 1, network)
	blank := waitBlank(t, p, NetworkOutbound)

	if err := syscall.Kill(blank.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-blank.Done():
	case <-time.After(stepTimeout):
		t.Fatalf("blank sandbox %d did not end after SIGKILL", blank.Pid())
	}

	s := startFrom(t, p, outboundSpec(code, network, "hello", "ifaces"))
	if s.Sandbox == blank || s.Pid() == blank.Pid() {
		t.Fatalf("Start gave the killed blank sandbox %d", blank.Pid())
	}
	if ended(s.Sandbox) {
		t.Fatal("Start gave a sandbox that has ended")
	}
	if err := s.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	expect(t, s.results(t), map[string]string{"hello": "hello", "ifaces": "lo,eth0"})

	waitFor(t, "the killed blank sandbox to be destroyed", func() bool {
		_, err := os.Stat(blank.root)
		return errors.Is(err, fs.ErrNotExist) && !slotUsed(network, blank.veth.slot)
	})
	checkGone(t, blank)
	if slices.Contains(blanks(p, NetworkOutbound), blank) {
		t.Error("the pool still holds the killed blank sandbox")
	}
	waitBlank(t, p, NetworkOutbound, blank)
}

// TestPoolBlankJustKilled checks that Start works when its blank sandbox
// was killed a moment before, too soon for the pool to have seen it end.
func TestPoolBlankJustKilled(t *testing.T) {
	code := needSandbox(t)
	network := needNetwork(t)
	p := newPool(t, 1, network)
	blank := waitBlank(t, p, NetworkOutbound)
	if err := syscall.Kill(blank.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s := startFrom(t, p, outboundSpec(code, network, "hello"))
	if s.Pid() == blank.Pid() {
		t.Fatalf("Start gave the killed blank sandbox %d", blank.Pid())
	}
	if err := s.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	expect(t, s.results(t), map[string]string{"hello": "hello"})
}

// TestPoolClose checks that Close ends the blank sandboxes of every mode
// and leaves nothing of them, leaves the sandboxes Start gave running, and
// that Start still works after it, starting each sandbox when asked.
func TestPoolClose(t *testing.T) {
	code := needSandbox(t)
	network := needNetwork(t)
	p := newPool(t, 1, network)
	waitBlank(t, p, NetworkOutbound)
	// The first sandbox of network none asks for blank ones of that mode.
	kept := startFrom(t, p, testSpec(code, "", "hello"))
	none := waitBlank(t, p, NetworkNone)
	outbound := waitBlank(t, p, NetworkOutbound)
	for _, s := range []*Sandbox{none, outbound} {
		checkBlank(t, s, s.network)
	}

	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, s := range []*Sandbox{none, outbound} {
		checkGone(t, s)
	}
	p.mu.Lock()
	left := len(p.ready)
	p.mu.Unlock()
	if left != 0 {
		t.Errorf("the pool holds blank sandboxes of %d modes after Close", left)
	}
	select {
	case <-p.refill.done:
	default:
		t.Error("the pool still starts blank sandboxes after Close")
	}

	// What Start gave before Close is the caller's.
	if ended(kept.Sandbox) {
		t.Fatal("Close ended a sandbox that Start gave")
	}
	if err := kept.Exec(); err != nil {
		t.Fatalf("Exec of a sandbox given before Close: %v", err)
	}
	expect(t, kept.results(t), map[string]string{"hello": "hello"})

	for _, spec := range []Spec{
		outboundSpec(code, network, "hello", "ifaces"),
		testSpec(code, "", "hello", "ifaces"),
	} {
		s := startFrom(t, p, spec)
		if s.Sandbox == none || s.Sandbox == outbound {
			t.Fatalf("Start after Close gave a blank sandbox that Close ended")
		}
		if err := s.Exec(); err != nil {
			t.Fatalf("Exec: %v", err)
		}
		ifaces := "lo"
		if spec.Network == NetworkOutbound {
			ifaces = "lo,eth0"
		}
		expect(t, s.results(t), map[string]string{"hello": "hello", "ifaces": ifaces})
	}
	p.mu.Lock()
	left = len(p.ready)
	p.mu.Unlock()
	if left != 0 {
		t.Errorf("the pool holds blank sandboxes of %d modes after a Start that followed Close", left)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestNilPool checks that a nil Pool starts each sandbox when asked, and
// that closing it does nothing.
func TestNilPool(t *testing.T) {
	code := needSandbox(t)
	var p *Pool
	s := startFrom(t, p, testSpec(code, "", "hello", "ifaces"))
	if err := s.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	expect(t, s.results(t), map[string]string{"hello": "hello", "ifaces": "lo"})
	if err := p.Close(); err != nil {
		t.Errorf("Close of a nil Pool: %v", err)
	}
}

// TestPoolWithoutSpares checks that a pool of no spares starts each
// sandbox when asked and asks for no blank ones.
func TestPoolWithoutSpares(t *testing.T) {
	code := needSandbox(t)
	network := needNetwork(t)
	p := newPool(t, 0, network)
	s := startFrom(t, p, outboundSpec(code, network, "hello", "ifaces"))
	if err := s.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	expect(t, s.results(t), map[string]string{"hello": "hello", "ifaces": "lo,eth0"})
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.kinds) != 0 || len(p.ready) != 0 {
		t.Errorf("a pool of no spares asks for kinds %v and holds %d", p.kinds, len(p.ready))
	}
}

// TestPoolStartInvalid checks that Pool.Start refuses a Spec that cannot
// work as Start does, without taking the blank sandbox, which the next
// Start then gets.
func TestPoolStartInvalid(t *testing.T) {
	code := needSandbox(t)
	network := needNetwork(t)
	p := newPool(t, 1, network)
	blank := waitBlank(t, p, NetworkOutbound)

	relative := outboundSpec(code, network, "hello")
	relative.Command[0] = "probe"
	noTmp := outboundSpec(code, network, "hello")
	noTmp.Tmp.SizeMB = 0
	noNetwork := outboundSpec(code, nil, "hello")
	badEtc := outboundSpec(code, network, "hello")
	badEtc.Etc = map[string]string{"../escape": "x"}
	for name, spec := range map[string]Spec{
		"relative command":     relative,
		"no /tmp size":         noTmp,
		"outbound without one": noNetwork,
		"/etc/../escape":       badEtc,
	} {
		s, err := p.Start(spec)
		if err == nil {
			s.Destroy()
			t.Errorf("%s: Start worked", name)
			continue
		}
		if errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: Start: %v, want refused as invalid", name, err)
		}
		if got := blanks(p, NetworkOutbound); len(got) != 1 || got[0] != blank {
			t.Fatalf("%s: the pool holds %d blank sandboxes, want the one it had", name, len(got))
		}
		checkBlank(t, blank, NetworkOutbound)
	}

	s := startFrom(t, p, outboundSpec(code, network, "hello"))
	if s.Sandbox != blank {
		t.Fatalf("Start gave sandbox %d, want the blank one, %d", s.Pid(), blank.Pid())
	}
	if err := s.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	expect(t, s.results(t), map[string]string{"hello": "hello"})
}

// TestPoolStartBuildFails checks that a blank sandbox whose build fails is
// destroyed, leaving nothing, that Start says why, and that the pool
// starts another.
func TestPoolStartBuildFails(t *testing.T) {
	code := needSandbox(t)
	network := needNetwork(t)
	p := newPool(t, 1, network)
	blank := waitBlank(t, p, NetworkOutbound)

	spec := outboundSpec(code, network, "hello")
	spec.Dir = "/nonexistent"
	s, err := p.Start(spec)
	if err == nil {
		s.Destroy()
		t.Fatal("Start worked with a missing working directory")
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Start: %v, want an error matching fs.ErrNotExist", err)
	}
	checkGone(t, blank)
	waitBlank(t, p, NetworkOutbound, blank)
}

// TestPoolOtherNetwork checks that an outbound Spec on another Network
// than the pool's is started when asked, on its own Network, and leaves
// the pool's blank sandbox alone.
func TestPoolOtherNetwork(t *testing.T) {
	code := needSandbox(t)
	network := needNetwork(t)
	other := needNetwork(t)
	p := newPool(t, 1, network)
	blank := waitBlank(t, p, NetworkOutbound)

	s := startFrom(t, p, outboundSpec(code, other, "hello", "ifaces"))
	if s.Sandbox == blank {
		t.Fatal("a sandbox on another Network was built from the pool's blank one")
	}
	if s.veth == nil || s.veth.net != other {
		t.Fatalf("sandbox has veth %v, want one of its own Network", s.veth)
	}
	if got := blanks(p, NetworkOutbound); len(got) != 1 || got[0] != blank {
		t.Errorf("the pool holds %d blank sandboxes, want the one it had", len(got))
	}
	if err := s.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	expect(t, s.results(t), map[string]string{"hello": "hello", "ifaces": "lo,eth0"})
}
