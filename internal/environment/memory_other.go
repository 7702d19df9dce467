//go:build !linux

package environment

func peakMemory(pid int) int64 { return 0 }

func resetPeakMemory(pid int) {}
