package environment

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/emberfn/ember/internal/invocation"
)

// logWriter writes an environment's log lines, the runtime's and the
// platform's, one whole line at a time, and keeps the lines of the current
// invocation when it was asked for them.
type logWriter struct {
	mu  sync.Mutex
	out io.Writer
	// tail, when not nil, collects the current invocation's lines.
	tail []byte
	line []byte
	// held is written before the next line.
	held []byte
}

func (l *logWriter) write(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.line = append(append(l.line[:0], b...), '\n')
	l.flushLocked()
}

// writeLines writes several lines with one write.
func (l *logWriter) writeLines(lines ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.line = l.line[:0]
	for _, s := range lines {
		l.line = append(append(l.line, s...), '\n')
	}
	l.flushLocked()
}

// queue holds line back until the next write, so that a line the
// platform writes on the hot path (START) costs no write of its own.
func (l *logWriter) queue(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = append(append(l.held, line...), '\n')
}

func (l *logWriter) flushLocked() {
	out := l.line
	if len(l.held) > 0 {
		out = append(l.held, l.line...)
		l.held = out[:0]
	}
	l.out.Write(out)
	if l.tail != nil {
		l.tail = append(l.tail, out...)
		if len(l.tail) > 4*invocation.MaxLogTail {
			l.tail = append(l.tail[:0], l.tail[len(l.tail)-invocation.MaxLogTail:]...)
		}
	}
}

// capture starts collecting lines for a log tail.
func (l *logWriter) capture() {
	l.mu.Lock()
	l.tail = make([]byte, 0, 1024)
	l.mu.Unlock()
}

// takeTail stops collecting and returns the last MaxLogTail bytes.
func (l *logWriter) takeTail() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tail
	l.tail = nil
	if len(t) > invocation.MaxLogTail {
		t = t[len(t)-invocation.MaxLogTail:]
	}
	return t
}

// The platform's lines, in CloudWatch Logs' text format.

func startLine(requestID, version string) string {
	return fmt.Sprintf("START RequestId: %s Version: %s", requestID, version)
}

func endLine(requestID string) string {
	return "END RequestId: " + requestID
}

func reportLine(r invocation.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "REPORT RequestId: %s\tDuration: %s ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t",
		r.RequestID, millis(r.Duration), r.BilledDuration.Milliseconds(), r.MemorySizeMB, megabytes(r.MaxMemoryUsed))
	if r.InitDuration > 0 {
		fmt.Fprintf(&b, "Init Duration: %s ms\t", millis(r.InitDuration))
	}
	if r.Status != "" && r.Status != invocation.StatusSuccess {
		fmt.Fprintf(&b, "Status: %s\t", r.Status)
		if r.ErrorType != "" {
			fmt.Fprintf(&b, "Error Type: %s\t", r.ErrorType)
		}
	}
	if !r.LimitsEnforced {
		b.WriteString("Limits: not enforced\t")
	}
	return b.String()
}

func initReportLine(d time.Duration, status invocation.Status, errorType string) string {
	s := fmt.Sprintf("INIT_REPORT Init Duration: %s ms\tPhase: init\tStatus: %s", millis(d), status)
	if errorType != "" {
		s += "\tError Type: " + errorType
	}
	return s
}

// millis formats d as milliseconds with two decimals, as REPORT does.
func millis(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000)
}

// megabytes rounds bytes up to whole MB, as Max Memory Used does.
func megabytes(b int64) int64 {
	const mb = 1 << 20
	return (b + mb - 1) / mb
}

// billed is Lambda's billed duration: the invocation's duration plus, on a
// cold start, the init duration, rounded up to the millisecond.
func billed(duration, initDuration time.Duration) time.Duration {
	return (duration + initDuration + time.Millisecond - 1).Truncate(time.Millisecond)
}
