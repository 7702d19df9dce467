package pidfd

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestWaitStatus(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "exit 3")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err := Wait(cmd)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("Wait = %v, want exit status 3", err)
	}
}

// TestWaitHoldsNoThread waits for many sleeping processes at once: the
// waits must not hold a thread each, as cmd.Wait would.
func TestWaitHoldsNoThread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("pidfds are Linux's")
	}
	const n = 64
	before := threads(t)
	var wg sync.WaitGroup
	var cmds []*exec.Cmd
	for range n {
		cmd := exec.Command("/bin/sleep", "5")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		wg.Go(func() {
			if err := Wait(cmd); err == nil {
				t.Error("a killed process ended with no error")
			}
		})
	}
	defer func() {
		for _, cmd := range cmds {
			cmd.Process.Kill()
		}
		wg.Wait()
	}()
	// Long enough for blocking waits to have taken their threads.
	time.Sleep(200 * time.Millisecond)
	if during := threads(t); during-before > n/4 {
		t.Errorf("%d threads while %d processes are waited for, %d before", during, n, before)
	}
	for _, cmd := range cmds {
		cmd.Process.Kill()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the waits did not return after the processes were killed")
	}
}

// threads is the process's count of OS threads.
func threads(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := bytes.Cut(b, []byte("Threads:"))
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	n, err := strconv.Atoi(string(bytes.TrimSpace(line)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
