//go:build !linux

package main

import "time"

func procCPU(int) (procKey, time.Duration, error) { return procKey{}, 0, errNoProcCPU }

func childPIDs(int) ([]int, error) { return nil, errNoProcCPU }

func selfCPU() (time.Duration, error) { return 0, errNoProcCPU }
