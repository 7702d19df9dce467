// Package harness is the shared harness of ember's benchmarks (bench/rie,
// bench/serve, bench/runtimes, bench/warm): it builds ember and the echo
// function, starts and stops the child processes they measure (ember
// serve, ember rie, the echo baseline server), pins processes to CPUs,
// reads the CPU time and memory of processes from /proc, sends requests
// (plain net/http, or the Lambda client of aws-sdk-go-v2) through paths
// in turns that alternate between the paths being compared (RunSequential,
// RunConcurrent, with a CPUMeter's turns), collects their
// latencies as samples with percentiles and rates, and prints and writes
// the tables, the notes (Report) and the JSON of a run.
//
// What a benchmark measures, and how it words its figures, stays in the
// benchmark's own package main.
package harness
