package deptest

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps the errors a check reports.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.errs = append(r.errs, "fatal: "+fmt.Sprintf(format, args...))
	runtime.Goexit()
}

// check runs c with a recorder, in a goroutine that Fatalf may end.
func check(t *testing.T, c DepChecker) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Check(r)
	}()
	<-done
	return r.errs
}

const module = "github.com/emberfn/ember/internal/"

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    DepChecker
		want []string // a substring of each error, in order
	}{
		{"allowed", DepChecker{Package: module + "client", Allowed: []string{module + "sigv4"}}, nil},
		{"not allowed", DepChecker{Package: module + "client", GOOS: []string{"linux"}},
			[]string{"GOOS=linux: " + module + "client imports " + module + "sigv4, which its rules do not allow"}},
		{"a prefix allows the paths below it, not beside it", DepChecker{Package: module + "client", GOOS: []string{"linux"}, Allowed: []string{module + "sig"}},
			[]string{"imports " + module + "sigv4"}},
		{"forbidden through another package", DepChecker{Package: module + "tune", GOOS: []string{"darwin"},
			Allowed: []string{module + "billing", module + "client"}, Forbidden: map[string]string{module + "sigv4/": "signing is the client's"}},
			[]string{"GOOS=darwin: " + module + "tune depends on " + module + "sigv4: signing is the client's"}},
		{"forbidden in the standard library", DepChecker{Package: module + "client", GOOS: []string{"linux"},
			Allowed: []string{module + "sigv4"}, Forbidden: map[string]string{"crypto/hmac": "signing is sigv4's", "net/http/httptest": "tests only"}},
			[]string{module + "client depends on crypto/hmac: signing is sigv4's"}},
		{"no such package", DepChecker{Package: module + "nosuchpackage", GOOS: []string{"linux"}}, []string{"fatal: GOOS=linux: go list"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := check(t, tc.c)
			if len(errs) != len(tc.want) {
				t.Fatalf("errors %q; want %d", errs, len(tc.want))
			}
			for i, e := range errs {
				if !strings.Contains(e, tc.want[i]) {
					t.Errorf("error %q; want %q in it", e, tc.want[i])
				}
			}
		})
	}
}
