package tune

import (
	"strings"
	"testing"
	"time"
)

func TestTuneParseReport(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Report
	}{{
		"REPORT RequestId: 6f2a\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 5.67 ms\t",
		Report{RequestID: "6f2a", Duration: 12340 * time.Microsecond, BilledDuration: 13 * time.Millisecond, MemorySizeMB: 128,
			MaxMemoryUsedMB: 20, InitDuration: 5670 * time.Microsecond},
	}, {
		"REPORT RequestId: 6f2b\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 1024 MB\tMax Memory Used: 64 MB\tStatus: timeout",
		Report{RequestID: "6f2b", Duration: 3 * time.Second, BilledDuration: 3 * time.Second, MemorySizeMB: 1024, MaxMemoryUsedMB: 64, Status: "timeout"},
	}, {
		"REPORT RequestId: 6f2c\tDuration: 80.50 ms\tBilled Duration: 81 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory\t",
		Report{RequestID: "6f2c", Duration: 80500 * time.Microsecond, BilledDuration: 81 * time.Millisecond, MemorySizeMB: 128,
			MaxMemoryUsedMB: 128, Status: "error", ErrorType: "Runtime.OutOfMemory"},
	}, {
		"REPORT RequestId: 6f2d\tDuration: 0.42 ms\tBilled Duration: 1 ms\tMemory Size: 256 MB\tMax Memory Used: 9 MB\tLimits: not enforced\t\r\n",
		Report{RequestID: "6f2d", Duration: 420 * time.Microsecond, BilledDuration: time.Millisecond, MemorySizeMB: 256,
			MaxMemoryUsedMB: 9, LimitsNotEnforced: true},
	}, {
		// Fields Lambda may add (SnapStart) are skipped.
		"REPORT RequestId: 6f2e\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 512 MB\tMax Memory Used: 30 MB\tRestore Duration: 300.00 ms\tBilled Restore Duration: 100 ms",
		Report{RequestID: "6f2e", Duration: time.Millisecond, BilledDuration: 2 * time.Millisecond, MemorySizeMB: 512, MaxMemoryUsedMB: 30},
	}} {
		got, err := ParseReport(tc.line)
		if err != nil || got != tc.want {
			t.Errorf("ParseReport(%q)\n = %+v, %v\nwant %+v", tc.line, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"",
		"START RequestId: 6f2a Version: $LATEST",
		"REPORT RequestId: x\tDuration: 1.00 ms", // no Memory Size
		"REPORT RequestId: x\tMemory Size: 128 MB",                          // no Duration
		"REPORT RequestId: x\tDuration: 1.00 s\tMemory Size: 128 MB",        // not ms
		"REPORT RequestId: x\tDuration: -1.00 ms\tMemory Size: 128 MB",      // negative
		"REPORT RequestId: x\tDuration: NaN ms\tMemory Size: 128 MB",        // not a number
		"REPORT RequestId: x\tDuration: 1e300 ms\tMemory Size: 128 MB",      // beyond a time.Duration
		"REPORT RequestId: x\tDuration: 1.00 ms\tMemory Size: 128 GB",       // not MB
		"REPORT RequestId: x\tDuration: 1.00 ms\tMemory Size: 128 MB\tjunk", // not Name: value
	} {
		if r, err := ParseReport(bad); err == nil {
			t.Errorf("ParseReport(%q) = %+v; want an error", bad, r)
		}
	}
}

func TestTuneLastReport(t *testing.T) {
	tail := "START RequestId: a Version: $LATEST\n" +
		"REPORT RequestId: old\tDuration: 9.00 ms\tBilled Duration: 9 ms\tMemory Size: 128 MB\tMax Memory Used: 9 MB\t\n" +
		"some output\n" +
		"END RequestId: a\n" +
		"REPORT RequestId: a\tDuration: 1.50 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 10 MB\t\n"
	r, err := LastReport(tail)
	if err != nil || r.RequestID != "a" || r.Duration != 1500*time.Microsecond {
		t.Errorf("LastReport = %+v, %v; want request a", r, err)
	}
	if _, err := LastReport("INIT_REPORT Init Duration: 9999.79 ms\tPhase: init\tStatus: timeout\n"); err != errNoReport {
		t.Errorf("a tail without REPORT: %v; want errNoReport", err)
	}
}

// FuzzTuneParseReport: any line parses or is refused, without a panic; what
// parses has figures that are not negative, and a line that holds a
// REPORT keeps its Duration field's value.
func FuzzTuneParseReport(f *testing.F) {
	for _, s := range []string{
		"REPORT RequestId: 6f2a\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 5.67 ms\t",
		"REPORT RequestId: 6f2c\tDuration: 80.50 ms\tBilled Duration: 81 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory\t",
		"REPORT RequestId: x\tDuration: 1.00 ms\tMemory Size: 128 MB\tLimits: not enforced",
		"REPORT RequestId: \t\t\t: \tDuration: 0x10 ms\tMemory Size: 0 MB",
		"REPORT RequestId: x\tDuration: 9223372036854.775807 ms\tMemory Size: 1 MB",
		"REPORT ",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseReport(line)
		if err != nil {
			return
		}
		if !strings.HasPrefix(line, "REPORT RequestId: ") {
			t.Fatalf("parsed %q, which is no REPORT line", line)
		}
		if r.Duration < 0 || r.BilledDuration < 0 || r.InitDuration < 0 || r.MemorySizeMB < 0 || r.MaxMemoryUsedMB < 0 {
			t.Fatalf("ParseReport(%q) = %+v: negative figures", line, r)
		}
		if _, err := LastReport("START\n" + line + "\n"); err != nil {
			t.Fatalf("LastReport of a tail ending in %q: %v", line, err)
		}
	})
}
