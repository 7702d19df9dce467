//go:build !linux

package main

func childPIDs(int) ([]int, error) { return nil, errNoProc }
