package runtimeapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/invocation"
)

// extCall makes one call of the Extensions (or Telemetry, Logs) API; path
// is from the API's version on, headers are "Key: value" pairs.
func (e *testEnv) extCall(ctx context.Context, method, path, body string, headers ...string) reply {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(e.base, "/2018-06-01/runtime")+path, strings.NewReader(body))
	if err != nil {
		return reply{err: err}
	}
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ": ")
		req.Header.Set(k, v)
	}
	return e.do(req)
}

// register registers an extension and returns its identifier.
func (e *testEnv) register(name, events string) string {
	e.t.Helper()
	r := e.extCall(context.Background(), http.MethodPost, "/2020-01-01/extension/register", `{"events":`+events+`}`, "Lambda-Extension-Name: "+name)
	if r.err != nil || r.status != http.StatusOK {
		e.t.Fatalf("register %s: status %d, err %v, body %s", name, r.status, r.err, r.body)
	}
	id := r.header.Get("Lambda-Extension-Identifier")
	if !uuidPattern.MatchString(id) {
		e.t.Fatalf("register %s: identifier %q is not a UUID", name, id)
	}
	return id
}

// extNext asks for an extension's next event in a goroutine.
func (e *testEnv) extNext(id string) <-chan reply {
	return goCall(e, func() reply {
		return e.extCall(context.Background(), http.MethodGet, "/2020-01-01/extension/event/next", "", "Lambda-Extension-Identifier: "+id)
	})
}

// awaitInit runs AwaitInit in a goroutine.
func (e *testEnv) awaitInit() <-chan error {
	return goCall(e, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		return e.s.AwaitInit(ctx)
	})
}

func notYet[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s happened too early: %v", what, v)
	case <-time.After(50 * time.Millisecond):
	}
}

var testFunction = FunctionInfo{Name: "f", Version: "$LATEST", Handler: "h.handler", AccountID: "123456789012"}

func TestExtensionRegisterAnswersAsLambda(t *testing.T) {
	e := newTestEnv(t)
	var mu sync.Mutex
	var told []string
	e.s.ConfigureExtensions(ExtensionsConfig{Function: testFunction, External: []string{"ext"}, Registered: func(name string, events []string) {
		mu.Lock()
		defer mu.Unlock()
		told = append(told, name+":"+strings.Join(events, ","))
	}})
	r := e.extCall(t.Context(), http.MethodPost, "/2020-01-01/extension/register", `{"events":["INVOKE","SHUTDOWN"]}`, "Lambda-Extension-Name: ext")
	if r.status != http.StatusOK || string(r.body) != `{"functionName":"f","functionVersion":"$LATEST","handler":"h.handler"}` {
		t.Errorf("register: %d %s", r.status, r.body)
	}
	r = e.extCall(t.Context(), http.MethodPost, "/2020-01-01/extension/register", `{"events":["INVOKE"]}`,
		"Lambda-Extension-Name: internal", "Lambda-Extension-Accept-Feature: accountId")
	if r.status != http.StatusOK || string(r.body) != `{"functionName":"f","functionVersion":"$LATEST","handler":"h.handler","accountId":"123456789012"}` {
		t.Errorf("register with accountId: %d %s", r.status, r.body)
	}
	got := e.s.Extensions()
	if len(got) != 2 || !got[0].External || got[1].External || strings.Join(got[0].Events, ",") != "INVOKE,SHUTDOWN" {
		t.Errorf("Extensions() = %+v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(told, " ") != "ext:INVOKE,SHUTDOWN internal:INVOKE" {
		t.Errorf("Registered was told %q, want each registration", told)
	}
}

func TestExtensionRegisterErrors(t *testing.T) {
	e := newTestEnv(t)
	e.s.ConfigureExtensions(ExtensionsConfig{Function: testFunction, External: []string{"ext"}})
	reg := func(body string, headers ...string) reply {
		return e.extCall(t.Context(), http.MethodPost, "/2020-01-01/extension/register", body, headers...)
	}
	wantErrorType(t, reg(`{"events":["INVOKE"]}`), http.StatusForbidden, "Extension.InvalidExtensionName")
	wantErrorType(t, reg(`{"events":["INVOKE","SHUTDOWN"]}`, "Lambda-Extension-Name: internal"), http.StatusForbidden, "Extension.InvalidEventType")
	wantErrorType(t, reg(`{"events":["BOGUS"]}`, "Lambda-Extension-Name: ext"), http.StatusForbidden, "Extension.InvalidEventType")
	wantErrorType(t, reg(`{"events":`, "Lambda-Extension-Name: ext"), http.StatusForbidden, "InvalidRequestFormat")
	wantErrorType(t, reg(`{"events":[],"configurationKeys":["a"]}`, "Lambda-Extension-Name: ext"), http.StatusForbidden, "InvalidRequestFormat")
	e.register("ext", `["INVOKE"]`)
	wantErrorType(t, reg(`{"events":["INVOKE"]}`, "Lambda-Extension-Name: ext"), http.StatusForbidden, "Extension.InvalidExtensionState")
	for i := range maxExtensions - 1 {
		e.register("internal"+string(rune('a'+i)), `[]`)
	}
	wantErrorType(t, reg(`{"events":[]}`, "Lambda-Extension-Name: eleventh"), http.StatusForbidden, "Extension.TooManyExtensions")

	next := func(id string) reply {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		h := []string{}
		if id != "" {
			h = append(h, "Lambda-Extension-Identifier: "+id)
		}
		return e.extCall(ctx, http.MethodGet, "/2020-01-01/extension/event/next", "", h...)
	}
	wantErrorType(t, next(""), http.StatusForbidden, "Extension.MissingExtensionIdentifier")
	wantErrorType(t, next("not-a-uuid"), http.StatusForbidden, "Extension.InvalidExtensionIdentifier")
	wantErrorType(t, next(invocation.NewRequestID()), http.StatusForbidden, "Extension.UnknownExtensionIdentifier")
}

func TestInitWaitsForRuntimeAndEveryExtension(t *testing.T) {
	e := newTestEnv(t)
	e.s.ConfigureExtensions(ExtensionsConfig{Function: testFunction, External: []string{"ext"}})
	init := e.awaitInit()
	runtimeNext := e.next()
	notYet(t, init, "init before the external extension registered")
	internal := e.register("internal", `["INVOKE"]`)
	ext := e.register("ext", `["INVOKE","SHUTDOWN"]`)
	notYet(t, init, "init before the extensions asked for an event")
	extNext := e.extNext(ext)
	notYet(t, init, "init before the internal extension asked for an event")
	internalNext := e.extNext(internal)
	if err := recv(t, init, "AwaitInit"); err != nil {
		t.Fatalf("AwaitInit: %v", err)
	}
	r := e.extCall(t.Context(), http.MethodPost, "/2020-01-01/extension/register", `{"events":["INVOKE"]}`, "Lambda-Extension-Name: late")
	wantErrorType(t, r, http.StatusForbidden, "Extension.RegistrationClosed")

	// An invocation: the caller gets the answer at once, the end waits for
	// the extensions.
	deadline := time.Now().Add(time.Minute)
	req := &invocation.Request{ID: invocation.NewRequestID(), Payload: []byte(`{}`), Deadline: deadline,
		InvokedARN: "arn:aws:lambda:us-east-1:123456789012:function:f", TraceID: "Root=1-5f35ae12-0c0fec141ab77a00bc047aa2;Sampled=1"}
	inv := e.deliver(runtimeNext, req)
	for _, ch := range []<-chan reply{extNext, internalNext} {
		got := recv(t, ch, "the INVOKE event")
		if got.status != http.StatusOK || got.header.Get("Lambda-Extension-Event-Identifier") == "" {
			t.Fatalf("next: %d %s", got.status, got.body)
		}
		want := `{"eventType":"INVOKE","deadlineMs":` + jsonInt(deadline.UnixMilli()) + `,"requestId":"` + req.ID +
			`","invokedFunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:f","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-5f35ae12-0c0fec141ab77a00bc047aa2;Sampled=1"}}`
		if string(got.body) != want {
			t.Errorf("event %s\nwant  %s", got.body, want)
		}
	}
	ended := make(chan struct{})
	var once sync.Once
	if asked := e.s.AfterNext(func() { once.Do(func() { close(ended) }) }); asked {
		t.Fatal("AfterNext: asked before anyone asked")
	}
	e.post("/invocation/"+req.ID+"/response", `"ok"`)
	if res := recv(t, inv, "the answer"); res.err != nil || string(res.resp.Payload) != `"ok"` {
		t.Fatalf("Invoke: %v %s", res.err, res.resp.Payload)
	}
	runtimeNext = e.next()
	notYet(t, ended, "the end before the extensions asked")
	extNext = e.extNext(ext)
	notYet(t, ended, "the end before the internal extension asked")
	internalNext = e.extNext(internal)
	recv(t, ended, "the end of the invocation")

	// Shutdown goes to the external extension that asked for it only.
	shutdownAt := time.Now().Add(2 * time.Second)
	if n := e.s.Shutdown(ShutdownSpindown, shutdownAt); n != 1 {
		t.Errorf("Shutdown sent %d events, want 1", n)
	}
	got := recv(t, extNext, "the SHUTDOWN event")
	if want := `{"eventType":"SHUTDOWN","deadlineMs":` + jsonInt(shutdownAt.UnixMilli()) + `,"shutdownReason":"spindown"}`; string(got.body) != want {
		t.Errorf("event %s, want %s", got.body, want)
	}
	notYet(t, internalNext, "an event for the internal extension")
	e.s.Close()
	recv(t, internalNext, "the internal extension's next to end")
	recv(t, runtimeNext, "the runtime's next to end")
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestExtensionInitErrorFailsInit(t *testing.T) {
	e := newTestEnv(t)
	e.s.ConfigureExtensions(ExtensionsConfig{Function: testFunction, External: []string{"ext"}})
	init := e.awaitInit()
	id := e.register("ext", `["INVOKE"]`)
	post := func(path string, headers ...string) reply {
		return e.extCall(t.Context(), http.MethodPost, path, `{"errorMessage":"no key","errorType":"Extension.ConfigInvalid"}`, headers...)
	}
	wantErrorType(t, post("/2020-01-01/extension/init/error", "Lambda-Extension-Identifier: "+id), http.StatusForbidden, "Extension.MissingHeader")
	wantErrorType(t, post("/2020-01-01/extension/init/error", "Lambda-Extension-Function-Error-Type: Extension.ConfigInvalid"), http.StatusForbidden, "Extension.MissingExtensionIdentifier")
	r := post("/2020-01-01/extension/init/error", "Lambda-Extension-Identifier: "+id, "Lambda-Extension-Function-Error-Type: Extension.ConfigInvalid")
	if r.status != http.StatusAccepted || string(r.body) != "{\"status\":\"OK\"}\n" {
		t.Errorf("init/error: %d %s", r.status, r.body)
	}
	var extErr *ExtensionError
	if err := recv(t, init, "AwaitInit"); !errors.As(err, &extErr) || extErr.Type != "Extension.InitError" || extErr.Name != "ext" || extErr.Reported != "Extension.ConfigInvalid" {
		t.Fatalf("AwaitInit: %v, want Extension.InitError of ext", err)
	}
	// No further call succeeds.
	wantErrorType(t, post("/2020-01-01/extension/exit/error", "Lambda-Extension-Identifier: "+id, "Lambda-Extension-Function-Error-Type: X"), http.StatusForbidden, "Extension.InvalidExtensionState")
	// A reset forgets the extensions.
	e.s.Reset()
	if got := e.s.Extensions(); len(got) != 0 || e.s.ExtensionFailure() != nil {
		t.Errorf("after Reset: %+v, %v", got, e.s.ExtensionFailure())
	}
}

func TestExtensionExitDuringInitIsACrash(t *testing.T) {
	e := newTestEnv(t)
	e.s.ConfigureExtensions(ExtensionsConfig{Function: testFunction, External: []string{"ext"}})
	init := e.awaitInit()
	e.s.ExtensionExited("ext", "exit status 2")
	var extErr *ExtensionError
	if err := recv(t, init, "AwaitInit"); !errors.As(err, &extErr) || extErr.Type != "Extension.Crash" {
		t.Fatalf("AwaitInit: %v, want Extension.Crash", err)
	}
}

// recordingTelemetry is a Telemetry that answers with a fixed status and
// records what it was asked.
type recordingTelemetry struct {
	mu    sync.Mutex
	calls []string
}

func (r *recordingTelemetry) Subscribe(id, name string, body []byte, api string) (int, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, api+" "+name+" "+string(body))
	return http.StatusOK, []byte(`"OK"`)
}

var _ Telemetry = (*recordingTelemetry)(nil)

func TestTelemetrySubscriptions(t *testing.T) {
	e := newTestEnv(t)
	e.s.ConfigureExtensions(ExtensionsConfig{Function: testFunction, External: []string{"ext"}})
	id := e.register("ext", `["INVOKE"]`)
	r := e.extCall(t.Context(), http.MethodPut, "/2022-07-01/telemetry", `{}`, "Lambda-Extension-Identifier: "+id)
	wantErrorType(t, r, http.StatusAccepted, "Telemetry.NotSupported")
	r = e.extCall(t.Context(), http.MethodPut, "/2020-08-15/logs", `{}`, "Lambda-Extension-Identifier: "+id)
	wantErrorType(t, r, http.StatusAccepted, "Logs.NotSupported")

	tel := &recordingTelemetry{}
	e.s.ConfigureExtensions(ExtensionsConfig{Function: testFunction, External: []string{"ext"}, Telemetry: tel})
	r = e.extCall(t.Context(), http.MethodPut, "/2022-07-01/telemetry", `{"types":["platform"]}`, "Lambda-Extension-Identifier: "+id)
	if r.status != http.StatusOK || string(r.body) != `"OK"` {
		t.Errorf("telemetry: %d %s", r.status, r.body)
	}
	r = e.extCall(t.Context(), http.MethodPut, "/2022-07-01/telemetry", `{}`)
	wantErrorType(t, r, http.StatusForbidden, "Extension.MissingExtensionIdentifier")
	tel.mu.Lock()
	defer tel.mu.Unlock()
	if len(tel.calls) != 1 || tel.calls[0] != `telemetry ext {"types":["platform"]}` {
		t.Errorf("calls %q", tel.calls)
	}
}
