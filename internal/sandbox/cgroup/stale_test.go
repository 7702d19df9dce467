package cgroup

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/emberfn/ember/internal/testenv"
)

// TestRemoveStale leaves a subtree behind, as a killed process would, with
// a process still in it, and has a second manager remove it.
func TestRemoveStale(t *testing.T) {
	testenv.Root(t, "managing cgroups needs root")
	staleName := fmt.Sprintf("ember-stale-test-%d", os.Getpid())
	left, err := newManager(staleName, options{})
	if errors.Is(err, ErrUnsupported) {
		testenv.Missing(t, "no usable cgroups: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	g, err := left.NewGroup("orphan", Limits{MemoryBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sleep.Wait() }()
	if err := g.Add(sleep.Process.Pid); err != nil {
		t.Fatal(err)
	}
	// The first manager is abandoned, not closed: its directories stay.
	dirs := append([]string(nil), left.dirs...)

	m := newTestManager(t, options{})
	var asked []string
	err = m.RemoveStale(func(name string) bool {
		asked = append(asked, name)
		return name == staleName
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range asked {
		if strings.HasPrefix(name, "ember-test-") && strings.Contains(name, t.Name()) {
			t.Errorf("asked about its own subtree %s", name)
		}
	}
	for _, dir := range dirs {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale cgroup %s still there: %v", dir, err)
		}
	}
	if err := <-waited; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("the process in the stale cgroup ended with %v; want killed", err)
	}
}
