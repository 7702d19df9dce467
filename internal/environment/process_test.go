package environment

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestCatchesSignal(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   bool
	}{
		{"exec sleep 30", false},
		{"trap 'exit 0' TERM; while :; do sleep 1; done", true},
	} {
		cmd := exec.Command("/bin/sh", "-c", tc.script)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		var got bool
		var err error
		for {
			// The shell sets its trap, or execs sleep, a moment after it
			// starts: poll until the mask says what the script asks.
			got, err = catchesSignal(cmd.Process.Pid, syscall.SIGTERM)
			if err == nil && got == tc.want || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
		if err != nil || got != tc.want {
			t.Errorf("%q: catchesSignal = %v, %v; want %v", tc.script, got, err, tc.want)
		}
	}
	if _, err := catchesSignal(1<<30, syscall.SIGTERM); err == nil {
		t.Error("catchesSignal of a pid that does not exist gave no error")
	}
}
