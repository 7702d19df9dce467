package environment

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/testfunc"
)

// extensionLayer makes a layer directory whose extensions/ holds the test
// extension under each of names, and returns it.
func extensionLayer(t *testing.T, names ...string) string {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join(testfunc.Build(t, "extension"), "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	layer := t.TempDir()
	dir := filepath.Join(layer, "extensions")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The sandbox's user reads the layer.
	if err := os.Chmod(layer, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), bin, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return layer
}

// modes are the two ways an environment runs its runtime and extensions.
var modes = []struct {
	name      string
	isolation func(t *testing.T) *Isolation
}{
	{"plain", func(*testing.T) *Isolation { return nil }},
	{"sandboxed", isolated},
}

// waitForLog polls the logs until they hold want.
func waitForLog(t *testing.T, logs *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("logs lack %q:\n%s", want, logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestExtensionsSeeEveryInvocationAndShutdown(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			iso := m.isolation(t)
			layer := extensionLayer(t, "extcount", "extslow")
			e, logs := newEnv(t, "echo", func(o *Options) {
				o.Isolation = iso
				o.Function.OptDir = layer
				o.Function.Handler = "bootstrap.handler"
			})
			var reqIDs []string
			for i := range 2 {
				req := invocation.Request{ID: invocation.NewRequestID(), Payload: []byte(`{"n":` + strconv.Itoa(i) + `}`), InvokedARN: e.fn.ARN()}
				began := time.Now()
				resp, done, err := start(e, req)
				answered := time.Since(began)
				if err != nil || resp.FunctionError != "" {
					t.Fatalf("invoke: %v %s", err, resp.Payload)
				}
				if i == 1 && answered > 250*time.Millisecond {
					t.Errorf("a warm answer took %v: the caller waited for the extension", answered)
				}
				rep := <-done
				if rep.Status != invocation.StatusSuccess {
					t.Errorf("report status %s %s", rep.Status, rep.ErrorType)
				}
				// extslow works 300 ms after each INVOKE: the invocation
				// lasts that long.
				if rep.Duration < 300*time.Millisecond {
					t.Errorf("Duration %v does not include the extension's 300 ms", rep.Duration)
				}
				reqIDs = append(reqIDs, req.ID)
			}
			for _, want := range []string{
				"EXTENSION\tName: extcount\tState: Ready\tEvents: [INVOKE, SHUTDOWN]\n",
				"EXTENSION\tName: extslow\tState: Ready\tEvents: [INVOKE]\n",
				`extcount registered 200 {"functionName":"echo","functionVersion":"$LATEST","handler":"bootstrap.handler"} handler-env=""`,
				"extcount invoke 1 " + reqIDs[0],
				"extcount invoke 2 " + reqIDs[1],
				"extslow invoke 2 " + reqIDs[1],
			} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("logs lack %q", want)
				}
			}
			if err := e.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			waitForLog(t, logs, "extcount shutdown reason=spindown invokes=2 budget-ok=true")
			if strings.Contains(logs.String(), "extslow shutdown") {
				t.Error("extslow, registered for INVOKE only, was sent SHUTDOWN")
			}
		})
	}
}

func TestExtensionInitErrorFailsTheInvocation(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			iso := m.isolation(t)
			e, logs := newEnv(t, "echo", func(o *Options) {
				o.Isolation = iso
				o.Function.OptDir = extensionLayer(t, "extfail")
			})
			resp, rep := invoke(t, e, `{}`)
			body := errorBody(t, resp)
			if body.ErrorType != "Extension.InitError" || resp.ErrorType != "Extension.InitError" {
				t.Errorf("error %+v (type %s), want Extension.InitError", body, resp.ErrorType)
			}
			if rep.Status != invocation.StatusError || rep.ErrorType != "Extension.InitError" {
				t.Errorf("report %s %s", rep.Status, rep.ErrorType)
			}
			for _, want := range []string{
				"EXTENSION\tName: extfail\tState: InitError\tEvents: [INVOKE]\tError Type: Extension.ConfigInvalid\n",
				"INIT_REPORT Init Duration: ",
				"Status: error\tError Type: Extension.InitError",
			} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("logs lack %q:\n%s", want, logs)
				}
			}
			if got := e.State(); got != StateCold {
				t.Errorf("state %s, want Cold: the next invocation starts again", got)
			}
		})
	}
}

func TestExtensionCrashFailsInit(t *testing.T) {
	e, _ := newEnv(t, "echo", func(o *Options) {
		o.Function.OptDir = extensionLayer(t, "extcrash")
	})
	resp, _ := invoke(t, e, `{}`)
	if body := errorBody(t, resp); body.ErrorType != "Extension.Crash" || !regexp.MustCompile(`exit status 3`).MatchString(body.ErrorMessage) {
		t.Errorf("error %+v, want Extension.Crash with exit status 3", body)
	}
}

func TestExtensionShutdownAfterTimeout(t *testing.T) {
	iso := isolated(t)
	e, logs := newEnv(t, "sleep", func(o *Options) {
		o.Isolation = iso
		o.Function.OptDir = extensionLayer(t, "extcount")
		o.Function.Timeout = time.Second
	})
	resp, rep := invoke(t, e, `{"ms":3000}`)
	if rep.Status != invocation.StatusTimeout {
		t.Fatalf("status %s, payload %s", rep.Status, resp.Payload)
	}
	waitForLog(t, logs, "extcount shutdown reason=timeout invokes=1")
}

func TestExtensionCrashDuringInvokeResets(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			iso := m.isolation(t)
			e, _ := newEnv(t, "echo", func(o *Options) {
				o.Isolation = iso
				o.Function.OptDir = extensionLayer(t, "extdie")
			})
			resp, rep := invoke(t, e, `{"a":1}`)
			if resp.FunctionError != "" || string(resp.Payload) != `{"a":1}` {
				t.Errorf("the runtime's answer was lost: %s", resp.Payload)
			}
			if rep.Status != invocation.StatusError || rep.ErrorType != "Extension.Crash" {
				t.Errorf("report %s %q, want error Extension.Crash", rep.Status, rep.ErrorType)
			}
			if got := e.State(); got != StateCold {
				t.Errorf("state %s, want Cold: the environment resets", got)
			}
			// The next invocation starts the runtime and the extension again.
			if resp, _ := invoke(t, e, `{"b":2}`); string(resp.Payload) != `{"b":2}` {
				t.Errorf("second invocation: %s", resp.Payload)
			}
		})
	}
}

func TestDisableExtensionsSwitch(t *testing.T) {
	layer := extensionLayer(t, "extfail")
	if err := os.WriteFile(filepath.Join(layer, disableExtensionsFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e, _ := newEnv(t, "echo", func(o *Options) { o.Function.OptDir = layer })
	if resp, _ := invoke(t, e, `{}`); resp.FunctionError != "" {
		t.Errorf("an extension ran despite the switch: %s", resp.Payload)
	}
}
