// Command probe reports what a process sees from inside a sandbox. Each
// argument is a check, NAME or NAME:ARG; each prints one line, the
// argument, "=" and the result: "ok", an errno name such as EROFS, or a
// value.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	for _, arg := range os.Args[1:] {
		name, param, _ := strings.Cut(arg, ":")
		fmt.Printf("%s=%s\n", arg, check(name, param))
	}
}

func check(name, param string) string {
	switch name {
	case "hello":
		return "hello"
	case "uid":
		groups, _ := os.Getgroups()
		return fmt.Sprintf("%d %d %v", os.Getuid(), os.Getgid(), groups)
	case "write":
		return result(os.WriteFile(param, []byte("x"), 0o644))
	case "read":
		b, err := os.ReadFile(param)
		if err != nil {
			return result(err)
		}
		return strings.TrimSpace(string(b))
	case "exists":
		_, err := os.Lstat(param)
		if errors.Is(err, os.ErrNotExist) {
			return "no"
		}
		if err != nil {
			return result(err)
		}
		return "yes"
	case "mode":
		fi, err := os.Stat(param)
		if err != nil {
			return result(err)
		}
		return fi.Mode().String()
	case "readlink":
		l, err := os.Readlink(param)
		if err != nil {
			return result(err)
		}
		return l
	case "ls":
		entries, err := os.ReadDir(param)
		if err != nil {
			return result(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return strings.Join(names, ",")
	case "proc":
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return result(err)
		}
		var pids []string
		for _, e := range entries {
			if _, err := strconv.Atoi(e.Name()); err == nil {
				pids = append(pids, e.Name())
			}
		}
		return strings.Join(pids, ",")
	case "pid":
		return strconv.Itoa(os.Getpid())
	case "kill":
		pid, err := strconv.Atoi(param)
		if err != nil {
			return result(err)
		}
		return result(syscall.Kill(pid, 0))
	case "mount":
		return result(syscall.Mount("tmpfs", "/tmp", "tmpfs", 0, ""))
	case "unshare":
		// unshare(0) changes nothing and works anywhere a filter allows it.
		return result(syscall.Unshare(0))
	case "setns":
		f, err := os.Open("/proc/self/ns/net")
		if err != nil {
			return result(err)
		}
		defer f.Close()
		return result(unix.Setns(int(f.Fd()), 0))
	case "userns":
		cmd := exec.Command("/proc/self/exe", "hello")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
		return result(cmd.Run())
	case "keyctl":
		_, err := unix.KeyctlJoinSessionKeyring("probe")
		return result(err)
	case "ifaces":
		ifs, err := net.Interfaces()
		if err != nil {
			return result(err)
		}
		var names []string
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return strings.Join(names, ",")
	case "addrs":
		// The IPv4 addresses of interface PARAM.
		i, err := net.InterfaceByName(param)
		if err != nil {
			return err.Error()
		}
		addrs, err := i.Addrs()
		if err != nil {
			return result(err)
		}
		var out []string
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				out = append(out, n.String())
			}
		}
		return strings.Join(out, ",")
	case "lookup":
		// The addresses of a name in /etc/hosts.
		addrs, err := net.LookupHost(param)
		if err != nil {
			return err.Error()
		}
		return strings.Join(addrs, ",")
	case "defaultroute":
		// The interface and gateway of the IPv4 default route.
		return defaultRoute()
	case "dial":
		c, err := net.DialTimeout("tcp", param, time.Second)
		if err != nil {
			return result(err)
		}
		c.Close()
		return "ok"
	case "readline":
		c, err := net.DialTimeout("tcp", param, time.Second)
		if err != nil {
			return result(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return result(err)
		}
		return strings.TrimSpace(line)
	case "nofile", "nproc":
		res := unix.RLIMIT_NOFILE
		if name == "nproc" {
			res = unix.RLIMIT_NPROC
		}
		var rl unix.Rlimit
		if err := unix.Getrlimit(res, &rl); err != nil {
			return result(err)
		}
		return fmt.Sprintf("%d/%d", rl.Cur, rl.Max)
	case "status":
		// A field of /proc/self/status.
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return result(err)
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, param+":"); ok {
				return strings.TrimSpace(v)
			}
		}
		return "no field " + param
	case "hostname":
		h, err := os.Hostname()
		if err != nil {
			return result(err)
		}
		return h
	case "cwd":
		d, err := os.Getwd()
		if err != nil {
			return result(err)
		}
		return d
	case "env":
		return os.Getenv(param)
	case "sh":
		out, err := exec.Command("/bin/sh", "-c", param).CombinedOutput()
		if err != nil {
			return result(err) + " " + strings.TrimSpace(string(out))
		}
		return strings.TrimSpace(string(out))
	case "zombies":
		// A process whose parent exits before it: an orphan, which
		// process 1 inherits and must reap when it ends.
		if err := exec.Command("/bin/sh", "-c", "sleep 0.05 &").Run(); err != nil {
			return result(err)
		}
		time.Sleep(300 * time.Millisecond)
		return strconv.Itoa(len(zombies()))
	case "int80":
		// A system call of another ABI than the filter's.
		if !haveInt80 {
			return "unsupported"
		}
		return strconv.Itoa(int(int80Getpid()))
	case "fill":
		return fill(param)
	case "term":
		// Wait for SIGTERM: a signal that PID 1 gets only with a handler.
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Println("waiting")
		select {
		case s := <-c:
			return s.String()
		case <-time.After(10 * time.Second):
			return "no signal"
		}
	}
	return "unknown check " + name
}

// fill writes PATH:MB megabytes to PATH and reports the first error and
// how much was written before it.
func fill(param string) string {
	path, mbs, _ := strings.Cut(param, ":")
	mb, err := strconv.Atoi(mbs)
	if err != nil {
		return result(err)
	}
	f, err := os.Create(path)
	if err != nil {
		return result(err)
	}
	buf := slices.Repeat([]byte{'x'}, 1<<20)
	var written int64
	for i := 0; i < mb; i++ {
		n, err := f.Write(buf)
		written += int64(n)
		if err != nil {
			f.Close()
			return fmt.Sprintf("%s after %d MB", result(err), written>>20)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Sprintf("%s at close after %d MB", result(err), written>>20)
	}
	return fmt.Sprintf("ok %d MB", written>>20)
}

// result names err's errno, or says ok.
func result(err error) string {
	if err == nil {
		return "ok"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

// defaultRoute reads the IPv4 default route from /proc/net/route as
// "IFACE via GATEWAY", or "none".
func defaultRoute() string {
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return result(err)
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "00000000" {
			continue
		}
		gw, err := strconv.ParseUint(f[2], 16, 32)
		if err != nil {
			return result(err)
		}
		// The kernel prints the address's bytes in memory order.
		ip := net.IPv4(byte(gw), byte(gw>>8), byte(gw>>16), byte(gw>>24))
		return f[0] + " via " + ip.String()
	}
	return "none"
}

// zombies lists the processes that have ended and wait to be reaped.
func zombies() []string {
	entries, _ := os.ReadDir("/proc")
	var z []string
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ...: the state follows the last ')'.
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && strings.HasPrefix(string(b[i+1:]), " Z") {
			z = append(z, e.Name())
		}
	}
	return z
}
