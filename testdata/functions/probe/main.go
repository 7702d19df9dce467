// Command probe tries, at the event's request, what a sandbox must deny or
// allow, and reports what happened, so that tests can assert on it from the
// host: {"action": "...", ...} → {"ok": bool, "err": "...", ...}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Action string `json:"action"`
	Path   string `json:"path"`
	MB     int    `json:"mb"`
	PID    int    `json:"pid"`
	Addr   string `json:"addr"`
	MS     int    `json:"ms"`
	N      int    `json:"n"`
}

type result struct {
	OK    bool     `json:"ok"`
	Err   string   `json:"err,omitempty"`
	Errno string   `json:"errno,omitempty"`
	Data  string   `json:"data,omitempty"`
	List  []string `json:"list,omitempty"`
	N     int64    `json:"n,omitempty"`
	F     float64  `json:"f,omitempty"`
}

// ticks counts, in a goroutine started by "tick", milliseconds of running.
var ticks atomic.Int64

func fail(err error) result {
	r := result{Err: err.Error()}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		r.Errno = errnoName(errno)
	}
	return r
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EPERM:
		return "EPERM"
	case syscall.EACCES:
		return "EACCES"
	case syscall.EROFS:
		return "EROFS"
	case syscall.ENOSPC:
		return "ENOSPC"
	case syscall.ESRCH:
		return "ESRCH"
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.EAGAIN:
		return "EAGAIN"
	case syscall.ECONNREFUSED:
		return "ECONNREFUSED"
	case syscall.ENETUNREACH:
		return "ENETUNREACH"
	}
	return e.Error()
}

func handle(ctx context.Context, e event) (result, error) {
	switch e.Action {
	case "whoami":
		return result{OK: true, Data: fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())}, nil
	case "read":
		b, err := os.ReadFile(e.Path)
		if err != nil {
			return fail(err), nil
		}
		return result{OK: true, Data: string(b)}, nil
	case "write":
		if err := os.WriteFile(e.Path, []byte("written by probe"), 0o644); err != nil {
			return fail(err), nil
		}
		return result{OK: true}, nil
	case "procs":
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return fail(err), nil
		}
		var pids []string
		for _, d := range entries {
			if _, err := strconv.Atoi(d.Name()); err == nil {
				pids = append(pids, d.Name())
			}
		}
		return result{OK: true, List: pids}, nil
	case "kill":
		if err := syscall.Kill(e.PID, syscall.SIGKILL); err != nil {
			return fail(err), nil
		}
		return result{OK: true}, nil
	case "forkbomb":
		// Start e.N sleepers; count how many the pids limit allowed.
		var pids []int
		var lastErr error
		attr := &syscall.ProcAttr{Files: []uintptr{0, 1, 2}}
		for i := 0; i < e.N; i++ {
			pid, err := syscall.ForkExec("/bin/sleep", []string{"sleep", "5"}, attr)
			if err != nil {
				lastErr = err
				break
			}
			pids = append(pids, pid)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0, nil)
		}
		r := result{OK: lastErr == nil, N: int64(len(pids))}
		if lastErr != nil {
			r = fail(lastErr)
			r.N = int64(len(pids))
		}
		return r, nil
	case "fill":
		// Write e.MB MiB to e.Path.
		f, err := os.Create(e.Path)
		if err != nil {
			return fail(err), nil
		}
		defer f.Close()
		buf := make([]byte, 1<<20)
		for i := range buf {
			buf[i] = byte(i)
		}
		var written int64
		for i := 0; i < e.MB; i++ {
			n, err := f.Write(buf)
			written += int64(n)
			if err != nil {
				r := fail(err)
				r.N = written
				return r, nil
			}
		}
		if err := f.Sync(); err != nil {
			r := fail(err)
			r.N = written
			return r, nil
		}
		return result{OK: true, N: written}, nil
	case "mount":
		err := syscall.Mount("none", "/tmp", "tmpfs", 0, "")
		if err != nil {
			return fail(err), nil
		}
		return result{OK: true}, nil
	case "unshare":
		runtime.LockOSThread()
		err := syscall.Unshare(syscall.CLONE_NEWNS)
		if err != nil {
			return fail(err), nil
		}
		return result{OK: true}, nil
	case "connect":
		c, err := net.DialTimeout("tcp", e.Addr, 2*time.Second)
		if err != nil {
			return fail(err), nil
		}
		c.Close()
		return result{OK: true}, nil
	case "interfaces":
		ifs, err := net.Interfaces()
		if err != nil {
			return fail(err), nil
		}
		var names []string
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return result{OK: true, List: names}, nil
	case "burn":
		return result{OK: true, F: burn(e.MS)}, nil
	case "initshare":
		return result{OK: true, F: initShare}, nil
	case "tick":
		// Start (once) a goroutine that counts milliseconds of running.
		if ticks.Load() == 0 {
			ticks.Store(1)
			go func() {
				for {
					time.Sleep(time.Millisecond)
					ticks.Add(1)
				}
			}()
		}
		return result{OK: true, N: ticks.Load()}, nil
	case "rlimit":
		var l syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return fail(err), nil
		}
		return result{OK: true, N: int64(l.Cur)}, nil
	case "env":
		return result{OK: true, Data: strings.Join(os.Environ(), "\n")}, nil
	}
	return result{}, fmt.Errorf("unknown action %q", e.Action)
}

// burn spins for ms of wall time and returns the share of a CPU it got.
func burn(ms int) float64 {
	start := time.Now()
	cpu0 := cpuTime()
	x := 0
	for time.Since(start) < time.Duration(ms)*time.Millisecond {
		for i := 0; i < 100000; i++ {
			x += i
		}
	}
	if x == 0 {
		return 0
	}
	return (cpuTime() - cpu0) / time.Since(start).Seconds()
}

// cpuTime is the CPU time this process used, in seconds.
func cpuTime() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// initShare is the share of a CPU that burning at init got, when the
// variable INIT_BURN_MS asked for it.
var initShare float64

func main() {
	if ms, err := strconv.Atoi(os.Getenv("INIT_BURN_MS")); err == nil {
		initShare = burn(ms)
	}
	lambda.Start(func(ctx context.Context, raw json.RawMessage) (result, error) {
		var e event
		if err := json.Unmarshal(raw, &e); err != nil {
			return result{}, err
		}
		return handle(ctx, e)
	})
}
