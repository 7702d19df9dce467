package tune

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Report is what one REPORT log line says of an invocation.
type Report struct {
	RequestID       string
	Duration        time.Duration
	BilledDuration  time.Duration
	InitDuration    time.Duration // only on a cold start; else 0
	MemorySizeMB    int
	MaxMemoryUsedMB int
	Status          string // "" when the line has none (success), "error" or "timeout"
	ErrorType       string // e.g. Runtime.OutOfMemory, with Status error
	// LimitsNotEnforced: the line ends "Limits: not enforced", as ember
	// writes it when the function ran without a sandbox or cgroups, so
	// that its memory set neither its memory limit nor its CPU share.
	LimitsNotEnforced bool
}

// maxMillis bounds the figures a REPORT may hold (a year), so that a
// parsed one always fits a time.Duration.
const maxMillis = 365 * 24 * 3600 * 1000

var errNoReport = errors.New("no REPORT line")

// ParseReport parses a REPORT line: "REPORT RequestId: ID" and then
// tab-separated "Name: value" fields ("Duration: 12.34 ms",
// "Memory Size: 128 MB", …), in Lambda's CloudWatch text format. Fields it
// does not know are skipped; Duration and Memory Size are required.
func ParseReport(line string) (Report, error) {
	line = strings.TrimRight(line, "\r\n")
	if strings.ContainsAny(line, "\r\n") {
		return Report{}, errors.New("a REPORT line is one line")
	}
	fields := strings.Split(line, "\t")
	id, ok := strings.CutPrefix(fields[0], "REPORT RequestId: ")
	if !ok {
		return Report{}, fmt.Errorf("not a REPORT line: %.40q", line)
	}
	r := Report{RequestID: strings.TrimSpace(id)}
	var haveDuration, haveMemory bool
	for _, f := range fields[1:] {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if f == "Limits: not enforced" {
			r.LimitsNotEnforced = true
			continue
		}
		name, value, ok := strings.Cut(f, ": ")
		if !ok {
			return Report{}, fmt.Errorf("REPORT field %.40q is not \"Name: value\"", f)
		}
		var err error
		switch name {
		case "Duration":
			r.Duration, err = parseMillis(value)
			haveDuration = true
		case "Billed Duration":
			r.BilledDuration, err = parseMillis(value)
		case "Init Duration":
			r.InitDuration, err = parseMillis(value)
		case "Memory Size":
			r.MemorySizeMB, err = parseMB(value)
			haveMemory = true
		case "Max Memory Used":
			r.MaxMemoryUsedMB, err = parseMB(value)
		case "Status":
			r.Status = value
		case "Error Type":
			r.ErrorType = value
		}
		if err != nil {
			return Report{}, fmt.Errorf("REPORT %s: %w", name, err)
		}
	}
	if !haveDuration || !haveMemory {
		return Report{}, errors.New("REPORT line without Duration or Memory Size")
	}
	return r, nil
}

// LastReport parses the last REPORT line of a log tail, as Invoke's
// LogResult gives it.
func LastReport(tail string) (Report, error) {
	lines := strings.Split(tail, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "REPORT ") {
			return ParseReport(lines[i])
		}
	}
	return Report{}, errNoReport
}

// parseMillis parses "12.34 ms".
func parseMillis(s string) (time.Duration, error) {
	num, ok := strings.CutSuffix(s, " ms")
	if !ok {
		return 0, fmt.Errorf("%q is not in ms", s)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > maxMillis {
		return 0, fmt.Errorf("%q is not a duration in ms", s)
	}
	return time.Duration(math.Round(v * float64(time.Millisecond))), nil
}

// parseMB parses "128 MB".
func parseMB(s string) (int, error) {
	num, ok := strings.CutSuffix(s, " MB")
	if !ok {
		return 0, fmt.Errorf("%q is not in MB", s)
	}
	v, err := strconv.Atoi(num)
	if err != nil || v < 0 || v > 1<<30 {
		return 0, fmt.Errorf("%q is not a size in MB", s)
	}
	return v, nil
}
