package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// v2Controllers are the controllers a v2 group needs.
var v2Controllers = []string{"memory", "cpu", "pids"}

// How long the removal of a directory is retried while the kernel says
// EBUSY.
const removeTimeout = time.Second

// Manager owns ember's subtree of cgroups and the groups in it. Its methods
// are safe for concurrent use.
type Manager struct {
	// mode is modeV1, modeV2 or modeHybrid.
	mode string
	// v2 is the subtree's directory in the cgroup2 hierarchy: the one with
	// the controllers in mode v2, the unified one without controllers in
	// hybrid mode; "" in mode v1.
	v2 string
	// v1 maps each v1 controller in use to the subtree's directory in its
	// hierarchy; controllers mounted together share one. Nil in mode v2.
	v1 map[string]string
	// dirs are the subtree's directories in the order they were made.
	dirs []string
	// freezeV2 says that groups freeze through the v2 cgroup.freeze (on the
	// unified hierarchy in hybrid mode), otherwise through the v1 freezer.
	freezeV2 bool
	// killV2 says that groups have the v2 cgroup.kill (Linux 5.14).
	killV2 bool

	mu sync.Mutex
	// groups are the groups made and not yet deleted, by name.
	groups map[string]*Group
	closed bool
}

// options change how a Manager reads the machine; the zero value is right
// outside tests.
type options struct {
	// v1Only ignores a cgroup2 mount that has no controllers, as if the
	// machine had none: mode v1 on a hybrid machine, to test v1's ways of
	// freezing and killing.
	v1Only bool
}

// New makes ember's subtree root (one directory name, e.g. "ember-<pid>")
// in every hierarchy it uses, after finding out once whether the machine
// has cgroup v1, v2 or both (hybrid). It returns an error wrapping
// ErrUnsupported when cgroups are unusable here. Close removes the subtree.
func New(root string) (*Manager, error) {
	return newManager(root, options{})
}

func newManager(root string, opts options) (_ *Manager, err error) {
	if err := checkName(root); err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: managing cgroups needs root", ErrUnsupported)
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	l := parseLayout(mountinfo, self)
	m := &Manager{groups: map[string]*Group{}}
	defer func() {
		if err != nil {
			removeDirs(m.dirs, removeTimeout)
		}
	}()
	var v2Available []string
	if l.v2Mount != "" {
		v2Available, err = controllerSet(filepath.Join(l.v2Mount, "cgroup.controllers"))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
		}
	}
	switch {
	case slices.Contains(v2Available, "memory"):
		m.mode = modeV2
		err = m.setUpV2(l, root, v2Available)
	case l.v1["memory"] != "":
		m.mode = modeV1
		if l.v2Mount != "" && !opts.v1Only {
			m.mode = modeHybrid
		}
		err = m.setUpV1(l, root)
	default:
		err = fmt.Errorf("%w: no cgroup hierarchy has the memory controller", ErrUnsupported)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// setUpV2 makes the subtree under the root of the cgroup2 mount and hands it
// and its children the controllers.
func (m *Manager) setUpV2(l layout, root string, available []string) error {
	for _, c := range v2Controllers {
		if !slices.Contains(available, c) {
			return fmt.Errorf("%w: the cgroup2 hierarchy lacks the %s controller", ErrUnsupported, c)
		}
	}
	if err := enableControllers(l.v2Mount); err != nil {
		if errors.Is(err, syscall.EBUSY) {
			// The top group holds processes and is not the real root: a
			// container's private cgroup namespace.
			return fmt.Errorf("%w: %w: the top cgroup2 group holds processes; start ember in a group of its own below it", ErrUnsupported, err)
		}
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	dir := filepath.Join(l.v2Mount, root)
	if err := m.makeDir(dir); err != nil {
		return err
	}
	if err := enableControllers(dir); err != nil {
		return err
	}
	m.v2 = dir
	m.freezeV2 = exists(filepath.Join(dir, "cgroup.freeze"))
	m.killV2 = exists(filepath.Join(dir, "cgroup.kill"))
	if !m.freezeV2 {
		return fmt.Errorf("%w: the kernel's cgroup2 cannot freeze (cgroup.freeze needs Linux 5.2)", ErrUnsupported)
	}
	return nil
}

// enableControllers hands the v2 controllers to the children of the group in
// dir, writing only those not handed already.
func enableControllers(dir string) error {
	path := filepath.Join(dir, "cgroup.subtree_control")
	enabled, err := controllerSet(path)
	if err != nil {
		return err
	}
	var add []string
	for _, c := range v2Controllers {
		if !slices.Contains(enabled, c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := writeFile(path, strings.Join(add, " ")); err != nil {
		return fmt.Errorf("enable controllers in %s: %w", dir, err)
	}
	return nil
}

// setUpV1 makes the subtree under ember's own group in each v1 hierarchy it
// uses and, in hybrid mode, in the unified one.
func (m *Manager) setUpV1(l layout, root string) error {
	if m.mode == modeHybrid {
		dir := filepath.Join(l.v2Own, root)
		if err := m.makeDir(dir); err != nil {
			return err
		}
		m.v2 = dir
		m.freezeV2 = exists(filepath.Join(dir, "cgroup.freeze"))
		m.killV2 = exists(filepath.Join(dir, "cgroup.kill"))
	}
	controllers := []string{"memory", "cpu", "pids"}
	if !m.freezeV2 {
		controllers = append(controllers, "freezer")
	}
	m.v1 = map[string]string{}
	for _, c := range controllers {
		own := l.v1[c]
		if own == "" {
			return fmt.Errorf("%w: the v1 %s controller is not mounted", ErrUnsupported, c)
		}
		dir := filepath.Join(own, root)
		if !slices.Contains(m.dirs, dir) {
			if err := m.makeDir(dir); err != nil {
				return err
			}
		}
		m.v1[c] = dir
	}
	return nil
}

// makeDir makes a directory of the subtree.
func (m *Manager) makeDir(dir string) error {
	if err := makeDir(dir); errors.Is(err, fs.ErrExist) {
		// Nothing removes a subtree whose ember died, and a new ember may
		// get the same pid (always 1 in a container).
		return fmt.Errorf("%w (left by an ember that ended without Close, or in use by another: remove its groups and then it, or choose another name)", err)
	} else if err != nil {
		return err
	}
	m.dirs = append(m.dirs, dir)
	return nil
}

// Mode says how the machine's cgroups are laid out: "v2", "v1" or "hybrid"
// (v1 controllers plus a cgroup2 hierarchy without them).
func (m *Manager) Mode() string { return m.mode }

// Close kills and deletes the groups still in the subtree, then removes the
// subtree. Groups are best deleted first, each after its sandbox's own
// shutdown; Close is the last resort that leaves nothing behind. It can be
// called again after an error.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	groups := make([]*Group, 0, len(m.groups))
	for _, g := range m.groups {
		groups = append(groups, g)
	}
	m.mu.Unlock()
	var errs []error
	for _, g := range groups {
		if err := g.Kill(); err != nil {
			errs = append(errs, err)
		}
		if err := g.Delete(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeDirs(m.dirs, removeTimeout); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// NewGroup makes the group name in the subtree, in every hierarchy in use,
// with limits l. Delete removes it.
func (m *Manager) NewGroup(name string, l Limits) (_ *Group, err error) {
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("new cgroup: %w", err)
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("new cgroup %s: %w", name, err)
	}
	// The lock is held while the group is made so that Close cannot race
	// with a half-made group; making one takes a fraction of a millisecond.
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("new cgroup %s: the manager is closed", name)
	}
	if m.groups[name] != nil {
		return nil, fmt.Errorf("new cgroup %s: exists already", name)
	}
	g := &Group{m: m, name: name, fd: -1}
	defer func() {
		if err != nil {
			g.closeFiles()
			removeDirs(g.dirs, removeTimeout)
		}
	}()
	if err := g.make(l); err != nil {
		return nil, fmt.Errorf("new cgroup %s: %w", name, err)
	}
	m.groups[name] = g
	return g, nil
}

// forget drops a deleted group.
func (m *Manager) forget(g *Group) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.groups[g.name] == g {
		delete(m.groups, g.name)
	}
}
