//go:build !linux

package main

import "time"

func procCPU(int) (procKey, time.Duration, error) { return procKey{}, 0, errNoProc }

func childPIDs(int) ([]int, error) { return nil, errNoProc }

func selfCPU() (time.Duration, error) { return 0, errNoProc }

func readMemory(int) (procMemory, error) { return procMemory{}, errNoProc }
