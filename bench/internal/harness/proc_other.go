//go:build !linux

package harness

import "time"

// ProcCPU fails with ErrNoProc outside Linux.
func ProcCPU(int) (ProcKey, time.Duration, error) { return ProcKey{}, 0, ErrNoProc }

// ChildPIDs fails with ErrNoProc outside Linux.
func ChildPIDs(int) ([]int, error) { return nil, ErrNoProc }

// SelfCPU fails with ErrNoProc outside Linux.
func SelfCPU() (time.Duration, error) { return 0, ErrNoProc }

// ReadMemory fails with ErrNoProc outside Linux.
func ReadMemory(int) (ProcMemory, error) { return ProcMemory{}, ErrNoProc }
