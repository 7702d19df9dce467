//go:build !race

package main

// raceEnabled is whether this test binary runs with the race detector:
// the ember binary that the tests build then has it too.
const raceEnabled = false
