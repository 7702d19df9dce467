package testenv

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how a helper ended the test
// instead of ending it.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls f with a recorder in a goroutine of its own, which Skip and
// Fatalf end, as the testing package's do.
func run(t *testing.T, f func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func TestMissingSkipsOrFails(t *testing.T) {
	t.Setenv(StrictVar, "")
	r := run(t, func(tb testing.TB) { Missing(tb, "no %s here", "widget") })
	if r.skipped != "no widget here" || r.failed != "" {
		t.Errorf("not strict: skipped %q, failed %q; want a skip", r.skipped, r.failed)
	}
	t.Setenv(StrictVar, "1")
	r = run(t, func(tb testing.TB) { Missing(tb, "no %s here", "widget") })
	if !strings.HasPrefix(r.failed, "no widget here") || r.skipped != "" {
		t.Errorf("strict: skipped %q, failed %q; want a failure with the message", r.skipped, r.failed)
	}
	t.Setenv(StrictVar, "0")
	if Strict() {
		t.Errorf("%s=0 is strict", StrictVar)
	}
}

func TestCommandAndPythonModule(t *testing.T) {
	t.Setenv(StrictVar, "1")
	if r := run(t, func(tb testing.TB) { Command(tb, "ember-no-such-program") }); !strings.Contains(r.failed, "ember-no-such-program is not installed") {
		t.Errorf("a missing program: failed %q", r.failed)
	}
	var sh string
	if r := run(t, func(tb testing.TB) { sh = Command(tb, "sh") }); r.failed != "" || sh == "" {
		t.Errorf("sh: %q, failed %q", sh, r.failed)
	}
	if r := run(t, func(tb testing.TB) { PythonModule(tb, "/nonexistent/python3", "json") }); !strings.Contains(r.failed, "json is not installed for /nonexistent/python3") {
		t.Errorf("a missing interpreter: failed %q", r.failed)
	}
}
