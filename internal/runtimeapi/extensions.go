package runtimeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emberfn/ember/internal/invocation"
)

// The Extensions API's paths, and those of the Telemetry and Logs APIs,
// which extensions call on the same listener.
const (
	pathExtRegister  = "/2020-01-01/extension/register"
	pathExtNext      = "/2020-01-01/extension/event/next"
	pathExtInitError = "/2020-01-01/extension/init/error"
	pathExtExitError = "/2020-01-01/extension/exit/error"
	pathTelemetry    = "/2022-07-01/telemetry"
	pathLogs         = "/2020-08-15/logs"
)

// Header names of the Extensions API.
const (
	hdrExtName       = "Lambda-Extension-Name"
	hdrExtID         = "Lambda-Extension-Identifier"
	hdrExtEventID    = "Lambda-Extension-Event-Identifier"
	hdrExtFeature    = "Lambda-Extension-Accept-Feature"
	hdrExtErrorType  = "Lambda-Extension-Function-Error-Type"
	maxExtensions    = 10
	extEventCapacity = 4
)

// The events an extension can register for.
const (
	EventInvoke   = "INVOKE"
	EventShutdown = "SHUTDOWN"
)

// ShutdownReason says why an environment shuts down, as the SHUTDOWN
// event gives it.
type ShutdownReason string

// The reasons of Lambda's SHUTDOWN event, lower case as Lambda's emulator
// sends them.
const (
	ShutdownSpindown ShutdownReason = "spindown"
	ShutdownTimeout  ShutdownReason = "timeout"
	ShutdownFailure  ShutdownReason = "failure"
)

// The APIs a Telemetry implementation is asked to subscribe through.
const (
	TelemetryAPI = "telemetry" // PUT /2022-07-01/telemetry
	LogsAPI      = "logs"      // PUT /2020-08-15/logs
)

// Telemetry takes the subscriptions of extensions to the Telemetry API
// and the Logs API. api is TelemetryAPI or LogsAPI, extensionID and name
// are the registered extension's (the caller checked the identifier),
// body is the request's as sent. The answer's status and body go back to
// the extension as they are, as JSON.
type Telemetry interface {
	Subscribe(extensionID, name string, body []byte, api string) (status int, resp []byte)
}

// FunctionInfo is what an extension learns of its function when it
// registers.
type FunctionInfo struct {
	Name      string
	Version   string
	Handler   string
	AccountID string
}

// ExtensionsConfig configures the Extensions API of one environment.
type ExtensionsConfig struct {
	Function FunctionInfo
	// External are the names of the external extensions the environment
	// starts with each runtime (the files of /opt/extensions): the init
	// phase waits for each of them to register and ask for an event. A
	// registration under any other name is an internal extension's.
	External []string
	// Telemetry serves the Telemetry and Logs APIs; nil answers them as
	// Lambda's emulator does, 202 with a *.NotSupported error type.
	Telemetry Telemetry
	// Registered, if set, is told of each extension that registers, with
	// the events it registered for, before its registration is answered.
	Registered func(name string, events []string)
}

// ExtensionError is an extension's failure: reported through init/error
// or exit/error, or its process ended when it should not have. Type is
// Lambda's error type for the invocation (Extension.InitError,
// Extension.ExitError, Extension.Crash); Reported is the type the
// extension gave, if it gave one.
type ExtensionError struct {
	Name     string
	Type     string
	Reported string
}

func (e *ExtensionError) Error() string {
	if e.Reported != "" {
		return fmt.Sprintf("extension %s: %s: %s", e.Name, e.Type, e.Reported)
	}
	return fmt.Sprintf("extension %s: %s", e.Name, e.Type)
}

// Lambda's error types for an extension's failure.
const (
	ErrorTypeExtensionInit  = "Extension.InitError"
	ErrorTypeExtensionExit  = "Extension.ExitError"
	ErrorTypeExtensionCrash = "Extension.Crash"
)

// ExtensionState is where one extension stands. Every change goes through
// extension.transition.
type ExtensionState int

const (
	// ExtRegistered: registered, and has not asked for an event yet.
	ExtRegistered ExtensionState = iota
	// ExtReady: asked for an event and has none to work on.
	ExtReady
	// ExtInvoking: took an INVOKE event and has not asked for the next.
	ExtInvoking
	// ExtShuttingDown: was sent SHUTDOWN.
	ExtShuttingDown
	// ExtFailed: reported an error, or its process ended; final.
	ExtFailed
)

func (s ExtensionState) String() string {
	switch s {
	case ExtRegistered:
		return "Registered"
	case ExtReady:
		return "Ready"
	case ExtInvoking:
		return "Invoking"
	case ExtShuttingDown:
		return "ShuttingDown"
	case ExtFailed:
		return "Failed"
	}
	return fmt.Sprintf("ExtensionState(%d)", int(s))
}

// extAllowed lists the legal moves; ExtFailed is legal from every state
// but itself, ExtShuttingDown from every state but ExtFailed.
var extAllowed = map[ExtensionState][]ExtensionState{
	ExtRegistered: {ExtReady},
	ExtReady:      {ExtInvoking},
	ExtInvoking:   {ExtReady},
}

func (s ExtensionState) canMoveTo(to ExtensionState) bool {
	switch {
	case s == ExtFailed:
		return false
	case to == ExtFailed, to == ExtShuttingDown:
		return true
	}
	return slices.Contains(extAllowed[s], to)
}

// extension is one registered extension.
type extension struct {
	id, name string
	external bool
	// invoke and shutdown are the events it registered for.
	invoke, shutdown bool
	state            ExtensionState
	// events holds the events sent and not yet taken by a next.
	events chan extEvent
	// owed counts the INVOKE events sent that it has not finished with a
	// next: the invocation waits for it while owed > 0.
	owed int
	// gone is closed when the extension's registration ends with a reset.
	gone chan struct{}
}

// transition moves x to state to, or says why it may not.
func (x *extension) transition(to ExtensionState) error {
	if !x.state.canMoveTo(to) {
		return fmt.Errorf("State transition from %s to %s failed for extension %s", x.state, to, x.name)
	}
	x.state = to
	return nil
}

// extEvent is one event for an extension, marshalled as Lambda sends it.
type extEvent struct {
	EventType          string         `json:"eventType"`
	DeadlineMs         int64          `json:"deadlineMs"`
	RequestID          string         `json:"requestId,omitempty"`
	InvokedFunctionArn string         `json:"invokedFunctionArn,omitempty"`
	Tracing            *tracing       `json:"tracing,omitempty"`
	ShutdownReason     ShutdownReason `json:"shutdownReason,omitempty"`
}

type tracing struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// extensions is the Extensions API's state of one runtime's life; the
// server's mu guards it.
type extensions struct {
	cfg   ExtensionsConfig
	byID  map[string]*extension
	order []*extension
	// initDone is set once the init phase is over: registration closes.
	initDone bool
	// failure is the first extension failure since the runtime started.
	failure *ExtensionError
	// failed is closed on failure.
	failed chan struct{}
	// changed is closed and replaced whenever an extension moves, for
	// AwaitInit.
	changed chan struct{}
}

// resetExtensionsLocked forgets every extension: a new runtime starts,
// with new extension processes.
func (s *Server) resetExtensionsLocked() {
	for _, x := range s.ext.order {
		close(x.gone)
	}
	cfg := s.ext.cfg
	s.ext = extensions{cfg: cfg, byID: map[string]*extension{}, failed: make(chan struct{}), changed: make(chan struct{})}
}

// ConfigureExtensions sets what the Extensions API tells and expects of
// the extensions of every runtime from now on.
func (s *Server) ConfigureExtensions(cfg ExtensionsConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ext.cfg = cfg
}

// changedLocked wakes AwaitInit to look again.
func (s *Server) changedLocked() {
	close(s.ext.changed)
	s.ext.changed = make(chan struct{})
}

// failLocked records err as the extensions' failure, if it is the first.
func (s *Server) failLocked(err *ExtensionError) {
	if s.ext.failure == nil {
		s.ext.failure = err
		close(s.ext.failed)
	}
	s.changedLocked()
}

// extensionsReadyLocked reports whether every extension has finished its
// init: each external one registered, and each registered one asked for
// an event.
func (s *Server) extensionsReadyLocked() bool {
	for _, name := range s.ext.cfg.External {
		if !slices.ContainsFunc(s.ext.order, func(x *extension) bool { return x.name == name && x.external }) {
			return false
		}
	}
	for _, x := range s.ext.order {
		if x.state == ExtRegistered {
			return false
		}
	}
	return true
}

// awaitExtensions waits, once the runtime's init is over, for the
// extensions' init; it then closes registration.
func (s *Server) awaitExtensions(ctx context.Context) error {
	for {
		s.mu.Lock()
		switch {
		case s.state == StateClosed:
			s.mu.Unlock()
			return ErrClosed
		case s.ext.failure != nil:
			err := s.ext.failure
			s.mu.Unlock()
			return err
		case s.extensionsReadyLocked():
			s.ext.initDone = true
			s.mu.Unlock()
			return nil
		}
		changed := s.ext.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-s.closed:
			return ErrClosed
		}
	}
}

// extensionsFailed is closed when an extension fails.
func (s *Server) extensionsFailed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ext.failed
}

// ExtensionFailure is the first failure of an extension since the runtime
// started, or nil: after one, the environment resets at the end of the
// invocation.
func (s *Server) ExtensionFailure() *ExtensionError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ext.failure
}

// Extensions lists the registered extensions' names and the events each
// registered for, in order of registration.
func (s *Server) Extensions() []RegisteredExtension {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RegisteredExtension, 0, len(s.ext.order))
	for _, x := range s.ext.order {
		out = append(out, RegisteredExtension{Name: x.name, External: x.external, Events: x.eventNames(), State: x.state})
	}
	return out
}

// RegisteredExtension describes one registered extension.
type RegisteredExtension struct {
	Name     string
	External bool
	Events   []string
	State    ExtensionState
}

func (x *extension) eventNames() []string {
	var ev []string
	if x.invoke {
		ev = append(ev, EventInvoke)
	}
	if x.shutdown {
		ev = append(ev, EventShutdown)
	}
	return ev
}

// ExtensionExited tells the server that the process of external extension
// name ended with status: during init, or before it was told to shut
// down, that fails it with Extension.Crash.
func (s *Server) ExtensionExited(name string, status string) {
	s.mu.Lock()
	if s.state == StateClosed {
		s.mu.Unlock()
		return
	}
	var x *extension
	for _, y := range s.ext.order {
		if y.name == name && y.external {
			x = y
		}
	}
	if x != nil {
		if x.state == ExtShuttingDown || x.state == ExtFailed {
			s.mu.Unlock()
			return
		}
		x.owed = 0
		x.transition(ExtFailed)
	}
	s.failLocked(&ExtensionError{Name: name, Type: ErrorTypeExtensionCrash, Reported: status})
	end := s.endLocked()
	s.mu.Unlock()
	callIf(end)
}

// dispatchInvokeLocked sends req's INVOKE event to every extension that
// registered for it.
func (s *Server) dispatchInvokeLocked(req *invocation.Request) {
	ev := extEvent{
		EventType:          EventInvoke,
		DeadlineMs:         req.Deadline.UnixMilli(),
		RequestID:          req.ID,
		InvokedFunctionArn: req.InvokedARN,
		Tracing:            &tracing{Type: "X-Amzn-Trace-Id", Value: req.TraceID},
	}
	for _, x := range s.ext.order {
		if !x.invoke || x.state == ExtFailed || x.state == ExtShuttingDown {
			continue
		}
		x.owed++
		select {
		case x.events <- ev:
		default:
			// It has not taken the events before: it owes them all.
		}
	}
}

// extensionsIdleLocked reports whether no extension owes a next for an
// INVOKE event.
func (s *Server) extensionsIdleLocked() bool {
	for _, x := range s.ext.order {
		if x.owed > 0 {
			return false
		}
	}
	return true
}

// endLocked takes the invocation's end, kept by AfterNext, if the runtime
// and every extension have asked for their next event. The caller calls
// it, not nil, once it has let go of the lock.
func (s *Server) endLocked() func() {
	c := s.cur
	if c == nil || !c.asked || c.afterNext == nil || !s.extensionsIdleLocked() {
		return nil
	}
	f := c.afterNext
	c.afterNext = nil
	return f
}

// callIf calls f unless it is nil.
func callIf(f func()) {
	if f != nil {
		f()
	}
}

// Shutdown sends the SHUTDOWN event, with reason and deadline, to every
// extension that registered for it, and returns how many it was sent to.
// Any further INVOKE they owe is forgotten.
func (s *Server) Shutdown(reason ShutdownReason, deadline time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := extEvent{EventType: EventShutdown, ShutdownReason: reason, DeadlineMs: deadline.UnixMilli()}
	n := 0
	for _, x := range s.ext.order {
		if x.state == ExtFailed || x.state == ExtShuttingDown {
			continue
		}
		x.owed = 0
		x.transition(ExtShuttingDown)
		if !x.shutdown {
			continue
		}
		// The buffer may hold INVOKE events never taken: SHUTDOWN goes
		// first.
	drain:
		for {
			select {
			case <-x.events:
			default:
				break drain
			}
		}
		x.events <- ev
		n++
	}
	return n
}

// ServeExtensions routes a request of the Extensions, Telemetry or Logs
// APIs; it reports false for any other path.
func (s *Server) serveExtensions(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case r.URL.Path == pathExtRegister && r.Method == http.MethodPost:
		s.handleExtRegister(w, r)
	case r.URL.Path == pathExtNext && r.Method == http.MethodGet:
		s.handleExtNext(w, r)
	case r.URL.Path == pathExtInitError && r.Method == http.MethodPost:
		s.handleExtError(w, r, true)
	case r.URL.Path == pathExtExitError && r.Method == http.MethodPost:
		s.handleExtError(w, r, false)
	case r.URL.Path == pathTelemetry && r.Method == http.MethodPut:
		s.handleSubscribe(w, r, TelemetryAPI)
	case r.URL.Path == pathLogs && r.Method == http.MethodPut:
		s.handleSubscribe(w, r, LogsAPI)
	default:
		return false
	}
	return true
}

func writeExtError(w http.ResponseWriter, typ, msg string) {
	writeError(w, http.StatusForbidden, typ, msg)
}

// registerRequest is the body of a registration.
type registerRequest struct {
	Events            []string        `json:"events"`
	ConfigurationKeys json.RawMessage `json:"configurationKeys"`
}

// registerResponse is Lambda's answer to a registration.
type registerResponse struct {
	FunctionName    string `json:"functionName"`
	FunctionVersion string `json:"functionVersion"`
	Handler         string `json:"handler"`
	AccountID       string `json:"accountId,omitempty"`
}

// handleExtRegister serves POST /extension/register.
func (s *Server) handleExtRegister(w http.ResponseWriter, r *http.Request) {
	name := r.Header.Get(hdrExtName)
	if name == "" {
		writeExtError(w, "Extension.InvalidExtensionName", "Empty extension name")
		return
	}
	body, tooLarge, err := readLimited(r, 64<<10)
	if err != nil || tooLarge {
		writeExtError(w, "InvalidRequestFormat", "The registration body could not be read")
		return
	}
	var req registerRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			writeExtError(w, "InvalidRequestFormat", fmt.Sprintf("Invalid registration body: %v", err))
			return
		}
	}
	if req.ConfigurationKeys != nil {
		writeExtError(w, "InvalidRequestFormat", "configurationKeys are deprecated and not supported")
		return
	}
	x := &extension{id: invocation.NewRequestID(), name: name, events: make(chan extEvent, extEventCapacity), gone: make(chan struct{})}
	for _, ev := range req.Events {
		switch ev {
		case EventInvoke:
			x.invoke = true
		case EventShutdown:
			x.shutdown = true
		default:
			writeExtError(w, "Extension.InvalidEventType", fmt.Sprintf("Invalid event type %q", ev))
			return
		}
	}

	s.mu.Lock()
	x.external = slices.Contains(s.ext.cfg.External, name)
	switch {
	case s.state == StateClosed:
		s.mu.Unlock()
		writeError(w, http.StatusInternalServerError, "InternalServerError", "The environment is shutting down")
		return
	case s.ext.initDone:
		s.mu.Unlock()
		writeExtError(w, "Extension.RegistrationClosed", "Extension registration is closed: the init phase is over")
		return
	case len(s.ext.order) >= maxExtensions:
		s.mu.Unlock()
		writeExtError(w, "Extension.TooManyExtensions", fmt.Sprintf("Too many extensions: at most %d may register", maxExtensions))
		return
	case !x.external && x.shutdown:
		s.mu.Unlock()
		writeExtError(w, "Extension.InvalidEventType", "Internal extensions cannot register for the SHUTDOWN event")
		return
	case slices.ContainsFunc(s.ext.order, func(y *extension) bool { return y.name == name }):
		s.mu.Unlock()
		writeExtError(w, "Extension.InvalidExtensionState", fmt.Sprintf("Extension %s is registered already", name))
		return
	}
	s.ext.byID[x.id] = x
	s.ext.order = append(s.ext.order, x)
	s.changedLocked()
	info := s.ext.cfg.Function
	registered, events := s.ext.cfg.Registered, x.eventNames()
	s.mu.Unlock()
	if registered != nil {
		registered(name, events)
	}

	resp := registerResponse{FunctionName: info.Name, FunctionVersion: info.Version, Handler: info.Handler}
	for _, f := range strings.Split(r.Header.Get(hdrExtFeature), ",") {
		if strings.TrimSpace(f) == "accountId" {
			resp.AccountID = info.AccountID
		}
	}
	b, err := json.Marshal(resp)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	h := w.Header()
	h[hdrExtID] = []string{x.id}
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// uuidPattern is the form of the identifiers the Extensions API hands out.
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// extensionLocked finds the extension r names, or writes the API's error
// and returns nil.
func (s *Server) extensionLocked(w http.ResponseWriter, r *http.Request) *extension {
	id := r.Header.Get(hdrExtID)
	switch {
	case id == "":
		writeExtError(w, "Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header")
	case !uuidPattern.MatchString(id):
		writeExtError(w, "Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier")
	case s.ext.byID[id] == nil:
		writeExtError(w, "Extension.UnknownExtensionIdentifier", "Unknown extension "+id)
	default:
		return s.ext.byID[id]
	}
	return nil
}

// handleExtNext serves GET /extension/event/next: it ends the extension's
// init or its work on the last INVOKE, then waits for its next event.
func (s *Server) handleExtNext(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	x := s.extensionLocked(w, r)
	if x == nil {
		s.mu.Unlock()
		return
	}
	switch x.state {
	case ExtFailed:
		s.mu.Unlock()
		writeExtError(w, "Extension.InvalidExtensionState", fmt.Sprintf("Extension %s has failed", x.name))
		return
	case ExtRegistered:
		x.transition(ExtReady)
		s.changedLocked()
	case ExtInvoking:
		x.transition(ExtReady)
		if x.owed > 0 {
			x.owed--
		}
	}
	end := s.endLocked()
	events, gone := x.events, x.gone
	s.mu.Unlock()
	// The invocation ends here, if this was the last to ask.
	callIf(end)

	select {
	case ev := <-events:
		s.mu.Lock()
		if ev.EventType == EventInvoke && x.state == ExtReady {
			x.transition(ExtInvoking)
		}
		s.mu.Unlock()
		b, err := json.Marshal(ev)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
			return
		}
		h := w.Header()
		h[hdrExtEventID] = []string{invocation.NewRequestID()}
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{strconv.Itoa(len(b))}
		w.WriteHeader(http.StatusOK)
		w.Write(b)
	case <-gone:
		writeError(w, http.StatusInternalServerError, "InternalServerError", "The environment was reset")
	case <-s.closed:
		writeError(w, http.StatusInternalServerError, "InternalServerError", "The environment is shutting down")
	case <-r.Context().Done():
	}
}

// handleExtError serves POST /extension/init/error (init) and
// /extension/exit/error: the extension fails, and with it the init phase
// or, after it, the environment, which resets.
func (s *Server) handleExtError(w http.ResponseWriter, r *http.Request, init bool) {
	typ := r.Header.Get(hdrExtErrorType)
	s.mu.Lock()
	x := s.extensionLocked(w, r)
	if x == nil {
		s.mu.Unlock()
		return
	}
	if typ == "" {
		s.mu.Unlock()
		writeExtError(w, "Extension.MissingHeader", "Missing Lambda-Extension-Function-Error-Type header")
		return
	}
	if x.state == ExtFailed || (init && s.ext.initDone) {
		from := x.state
		s.mu.Unlock()
		writeExtError(w, "Extension.InvalidExtensionState", fmt.Sprintf("State transition from %s to Failed failed for extension %s", from, x.name))
		return
	}
	s.mu.Unlock()
	// The body is the extension's own account of the error; Lambda logs
	// it and answers the same whatever it holds.
	if _, _, err := readLimited(r, invocation.MaxErrorBody); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestFormat", fmt.Sprintf("read error body: %v", err))
		return
	}
	s.mu.Lock()
	lambdaType := ErrorTypeExtensionExit
	if init {
		lambdaType = ErrorTypeExtensionInit
	}
	x.owed = 0
	x.transition(ExtFailed)
	s.failLocked(&ExtensionError{Name: x.name, Type: lambdaType, Reported: typ})
	end := s.endLocked()
	s.mu.Unlock()
	callIf(end)
	w.Header()[hdrExtID] = []string{x.id}
	writeAccepted(w)
}

// handleSubscribe serves PUT /2022-07-01/telemetry and PUT
// /2020-08-15/logs through the Telemetry implementation, if there is one.
func (s *Server) handleSubscribe(w http.ResponseWriter, r *http.Request, api string) {
	s.mu.Lock()
	x := s.extensionLocked(w, r)
	t := s.ext.cfg.Telemetry
	s.mu.Unlock()
	if x == nil {
		return
	}
	if t == nil {
		typ := "Telemetry.NotSupported"
		if api == LogsAPI {
			typ = "Logs.NotSupported"
		}
		writeError(w, http.StatusAccepted, typ, fmt.Sprintf("The %s API is not supported", api))
		return
	}
	body, tooLarge, err := readLimited(r, 64<<10)
	if err != nil || tooLarge {
		writeError(w, http.StatusBadRequest, "InvalidRequestFormat", "The subscription body could not be read")
		return
	}
	status, resp := t.Subscribe(x.id, x.name, body, api)
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(resp))}
	w.WriteHeader(status)
	w.Write(resp)
}
