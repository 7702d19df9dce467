package harness

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPinTree pins a child and its own child to one CPU, checks every
// thread of theirs, and unpins them.
func TestPinTree(t *testing.T) {
	cpus, err := OnlineCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if cpus < 2 {
		t.Skip("one CPU: nothing to pin apart")
	}
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	pid := cmd.Process.Pid
	// The shell starts its child.
	deadline := time.Now().Add(5 * time.Second)
	for {
		kids, err := ChildPIDs(pid)
		if err != nil {
			t.Fatal(err)
		}
		if len(kids) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell started no child")
		}
		time.Sleep(10 * time.Millisecond)
	}
	n, err := PinTree(pid, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Errorf("pinned %d threads, want the shell's and sleep's", n)
	}
	if off, err := ThreadsOffCPUs(pid, 1); err != nil || off != 0 {
		t.Errorf("%d threads off CPU 1 (%v)", off, err)
	}
	if off, err := ThreadsOffCPUs(pid, 0); err != nil || off == 0 {
		t.Errorf("%d threads off CPU 0 (%v), want all", off, err)
	}
	if _, err := PinTree(pid); err != nil {
		t.Fatal(err)
	}
	if off, err := ThreadsOffCPUs(pid); err != nil || off != 0 {
		t.Errorf("%d threads not on every CPU after unpinning (%v)", off, err)
	}
}

func TestLockToCPU(t *testing.T) {
	cpus, err := OnlineCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if cpus < 2 {
		t.Skip("one CPU: nothing to pin apart")
	}
	unlock, err := LockToCPU(1)
	if err != nil {
		t.Fatal(err)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	if set.Count() != 1 || !set.IsSet(1) {
		t.Errorf("the locked thread may run on %d CPUs, want CPU 1 alone", set.Count())
	}
	unlock()
	if _, err := PinThreads(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}
