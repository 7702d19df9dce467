package environment

import (
	"bytes"
	"os"
	"strconv"
)

// treeProcesses lists pid and its descendants.
func treeProcesses(pid int) []int {
	pids := []int{pid}
	for i := 0; i < len(pids) && len(pids) < 1024; i++ {
		tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pids[i]) + "/task")
		if err != nil {
			continue
		}
		for _, t := range tasks {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(pids[i]) + "/task/" + t.Name() + "/children")
			if err != nil {
				continue
			}
			for _, f := range bytes.Fields(b) {
				if c, err := strconv.Atoi(string(f)); err == nil {
					pids = append(pids, c)
				}
			}
		}
	}
	return pids
}

// peakMemory is the sum of the peak resident set sizes of pid's process
// tree since the last resetPeakMemory, in bytes.
func peakMemory(pid int) int64 {
	var total int64
	for _, p := range treeProcesses(pid) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/status")
		if err != nil {
			continue
		}
		total += statusField(b, "VmHWM:")
	}
	return total
}

// resetPeakMemory starts a new peak for every process of pid's tree.
func resetPeakMemory(pid int) {
	for _, p := range treeProcesses(pid) {
		// "5" resets the peak RSS (proc(5), clear_refs).
		os.WriteFile("/proc/"+strconv.Itoa(p)+"/clear_refs", []byte("5"), 0)
	}
}

// statusField reads a "Name:   123 kB" line of /proc/PID/status in bytes.
func statusField(status []byte, name string) int64 {
	i := bytes.Index(status, []byte(name))
	if i < 0 {
		return 0
	}
	rest := status[i+len(name):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	f := bytes.Fields(rest)
	if len(f) == 0 {
		return 0
	}
	kb, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil {
		return 0
	}
	return kb * 1024
}
