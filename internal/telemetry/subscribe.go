package telemetry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Buffering limits and defaults, the same for both APIs.
const (
	minMaxItems     = 1000
	maxMaxItems     = 10000
	defaultMaxItems = 10000
	minMaxBytes     = 262144
	maxMaxBytes     = 1048576
	defaultMaxBytes = 262144
	minTimeoutMs    = 25
	maxTimeoutMs    = 30000
	defaultTimeout  = 1000
)

// Schema versions each API accepts. The Telemetry API's versions add fields
// to records; ember sends every record with the fields it has, whatever the
// version. The Logs API's 2021-03-18 adds platform.runtimeDone.
var (
	telemetrySchemas = []string{"2022-07-01", "2022-12-13", "2025-01-29"}
	logsSchemas      = []string{"2020-08-15", "2021-03-18"}
)

// subscriptionTypes are the streams a subscription can ask for.
var subscriptionTypes = []string{"platform", "function", "extension"}

// subscribeRequest is the body of a subscribe request. Unknown fields, such
// as a destination's encoding, are ignored. The Logs API lets a subscriber
// receive batches by PUT instead of POST through destination.method.
type subscribeRequest struct {
	SchemaVersion *string  `json:"schemaVersion"`
	Types         []string `json:"types"`
	Buffering     *struct {
		MaxItems  *int `json:"maxItems"`
		MaxBytes  *int `json:"maxBytes"`
		TimeoutMs *int `json:"timeoutMs"`
	} `json:"buffering"`
	Destination *struct {
		Protocol string `json:"protocol"`
		URI      string `json:"URI"`
		Port     *int   `json:"port"`
		Method   string `json:"method"`
	} `json:"destination"`
}

// config is a validated subscription.
type config struct {
	api      API
	schema   string
	types    []string
	maxItems int
	maxBytes int
	timeout  time.Duration
	// protocol is "HTTP" or "TCP".
	protocol string
	// method is how HTTP batches are sent: POST, or PUT when a Logs API
	// subscriber asks for it.
	method string
	// url is where HTTP batches are sent, with the host made an address
	// to dial; host is the Host header, as the subscriber wrote it.
	url  string
	host string
	// tcpAddr is the address of a TCP destination.
	tcpAddr string
}

// wants reports whether the subscription takes the event.
func (c *config) wants(e *event) bool {
	switch c.api {
	case Telemetry:
		if e.to&toTelemetry == 0 {
			return false
		}
	case Logs:
		if e.to&toLogs == 0 && (e.to&toLogsRuntimeDone == 0 || c.schema != "2021-03-18") {
			return false
		}
	}
	return slices.Contains(c.types, e.category())
}

// errorPrefix is the namespace of the API's error types.
func (a API) errorPrefix() string {
	if a == Logs {
		return "Logs."
	}
	return "Telemetry."
}

// errorBody is Lambda's error response body.
func errorBody(errorType, message string) []byte {
	b, err := json.Marshal(struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}{errorType, message})
	if err != nil {
		panic(err) // two strings always encode
	}
	return b
}

// okBody is the body of a successful subscription, the JSON string "OK".
const okBody = `"OK"`

// Subscribe handles one subscribe request of the extension with the given
// identifier and name, for api Telemetry or Logs, and returns the status
// and JSON body to answer with: 200 "OK" on success; 400 with errorType
// "ValidationError" (Telemetry API) or "Logs.ValidationError" (Logs API) for
// a body Lambda would refuse; 403 "Telemetry.SubscriptionClosed" or
// "Logs.SubscriptionClosed" after CloseSubscriptions. The caller has already
// checked that the identifier belongs to a registered extension.
//
// A second request from the same extension to the same API replaces its
// subscription (Lambda's subscriptions are idempotent); a request to the
// other API is refused, as Lambda refuses subscribing to both. On success
// the subscriber first receives every event emitted before it subscribed,
// then platform.telemetrySubscription (or platform.logsSubscription).
func (h *Hub) Subscribe(extensionID, extensionName string, api API, body []byte) (status int, resp []byte) {
	if api != Telemetry && api != Logs {
		return http.StatusNotFound, errorBody("InvalidRequest", "unknown subscription API "+string(api))
	}
	validation := "ValidationError"
	if api == Logs {
		validation = "Logs.ValidationError"
	}
	closed := func() (int, []byte) {
		return http.StatusForbidden, errorBody(api.errorPrefix()+"SubscriptionClosed",
			"subscriptions are accepted only during the init phase")
	}
	h.mu.Lock()
	subsClosed := h.subsClosed
	h.mu.Unlock()
	if subsClosed {
		return closed()
	}
	cfg, err := parseSubscription(api, body)
	if err != nil {
		return http.StatusBadRequest, errorBody(validation, err.Error())
	}

	h.mu.Lock()
	if h.subsClosed {
		h.mu.Unlock()
		return closed()
	}
	s, ok := h.byID[extensionID]
	switch {
	case ok && s.api != api:
		h.mu.Unlock()
		return http.StatusBadRequest, errorBody(validation,
			fmt.Sprintf("extension %s is already subscribed to the %s", extensionName, s.api.title()))
	case ok:
		s.reconfigure(cfg)
	default:
		s = newSubscriber(h, extensionID, extensionName, cfg, h.paused)
		for _, e := range h.backlog {
			s.offer(e)
		}
		h.subs = append(h.subs, s)
		h.byID[extensionID] = s
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			s.run(h.ctx)
		}()
	}
	h.mu.Unlock()

	record := struct {
		Name  string   `json:"name"`
		State string   `json:"state"`
		Types []string `json:"types"`
	}{extensionName, "Subscribed", cfg.types}
	if api == Logs {
		h.emit("platform.logsSubscription", toLogs, record)
	} else {
		h.emit("platform.telemetrySubscription", toTelemetry, record)
	}
	if h.platformLine != nil {
		h.platformLine(SubscriptionLine(api, extensionName, cfg.types))
	}
	return http.StatusOK, []byte(okBody)
}

// title is the API's name in messages.
func (a API) title() string {
	if a == Logs {
		return "Logs API"
	}
	return "Telemetry API"
}

// SubscriptionLine is the line Lambda writes to the function's log when an
// extension subscribes, such as
// "TELEMETRY\tName: collector\tState: Subscribed\tTypes: [Platform, Function]".
// A Logs API subscription starts with "LOGS" instead.
func SubscriptionLine(api API, extensionName string, types []string) string {
	names := make([]string, 0, len(types))
	for _, t := range types {
		if t != "" {
			names = append(names, strings.ToUpper(t[:1])+t[1:])
		}
	}
	head := "TELEMETRY"
	if api == Logs {
		head = "LOGS"
	}
	return fmt.Sprintf("%s\tName: %s\tState: Subscribed\tTypes: [%s]", head, extensionName, strings.Join(names, ", "))
}

// parseSubscription validates a subscribe request body as Lambda does and
// names every problem it finds, joined with "; ".
func parseSubscription(api API, body []byte) (*config, error) {
	var req subscribeRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("request body is not valid JSON: data after the object")
	}
	cfg := &config{api: api, maxItems: defaultMaxItems, maxBytes: defaultMaxBytes, timeout: defaultTimeout * time.Millisecond}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	switch {
	case api == Telemetry && req.SchemaVersion == nil:
		bad("schemaVersion is required")
	case api == Telemetry && !slices.Contains(telemetrySchemas, *req.SchemaVersion):
		bad("schemaVersion %q is not supported (supported: %s)", *req.SchemaVersion, strings.Join(telemetrySchemas, ", "))
	case api == Logs && req.SchemaVersion == nil:
		cfg.schema = logsSchemas[0]
	case api == Logs && !slices.Contains(logsSchemas, *req.SchemaVersion):
		bad("schemaVersion %q is not supported (supported: %s)", *req.SchemaVersion, strings.Join(logsSchemas, ", "))
	}
	if cfg.schema == "" && req.SchemaVersion != nil {
		cfg.schema = *req.SchemaVersion
	}

	if b := req.Buffering; b != nil {
		if b.MaxItems != nil {
			cfg.maxItems = *b.MaxItems
			if cfg.maxItems < minMaxItems || cfg.maxItems > maxMaxItems {
				bad("buffering.maxItems must be between %d and %d", minMaxItems, maxMaxItems)
			}
		}
		if b.MaxBytes != nil {
			cfg.maxBytes = *b.MaxBytes
			if cfg.maxBytes < minMaxBytes || cfg.maxBytes > maxMaxBytes {
				bad("buffering.maxBytes must be between %d and %d", minMaxBytes, maxMaxBytes)
			}
		}
		if b.TimeoutMs != nil {
			if *b.TimeoutMs < minTimeoutMs || *b.TimeoutMs > maxTimeoutMs {
				bad("buffering.timeoutMs must be between %d and %d", minTimeoutMs, maxTimeoutMs)
			}
			cfg.timeout = time.Duration(*b.TimeoutMs) * time.Millisecond
		}
	}

	d := req.Destination
	switch {
	case d == nil:
		bad("destination is required")
	case d.Protocol == "HTTP":
		cfg.protocol = "HTTP"
		cfg.method = http.MethodPost
		if api == Logs && strings.EqualFold(d.Method, http.MethodPut) {
			cfg.method = http.MethodPut
		}
		if err := cfg.setURI(d.URI); err != nil {
			bad("%v", err)
		}
	case d.Protocol == "TCP":
		cfg.protocol = "TCP"
		if d.Port == nil || *d.Port < 1 || *d.Port > 65535 {
			bad("destination port is not provided or not a TCP port")
		} else {
			cfg.tcpAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(*d.Port))
		}
	default:
		bad("destination protocol %q is not one of HTTP, TCP", d.Protocol)
	}
	if len(req.Types) == 0 {
		bad("types should not be empty")
	}
	for _, t := range req.Types {
		if !slices.Contains(subscriptionTypes, t) {
			bad("type %q is not one of platform, function, extension", t)
		} else if !slices.Contains(cfg.types, t) {
			cfg.types = append(cfg.types, t)
		}
	}

	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return cfg, nil
}

// setURI checks an HTTP destination: http only, a host inside the
// environment, an explicit port. Hosts inside the environment are the names
// Lambda gives it (sandbox.localdomain, sandbox), localhost, and loopback or
// unspecified addresses; all are reached at the loopback address of the
// environment's network.
func (c *config) setURI(raw string) error {
	if raw == "" {
		return fmt.Errorf("destination URI is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("destination URI is not valid: %v", err)
	}
	if u.Scheme != "http" {
		return fmt.Errorf("destination URI scheme must be http")
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		return fmt.Errorf("URI port is not provided")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("URI port %q is not valid", port)
	}
	dialHost := "127.0.0.1"
	switch strings.ToLower(host) {
	case "sandbox.localdomain", "sandbox", "localhost":
	default:
		a, err := netip.ParseAddr(host)
		if err != nil || !(a.IsLoopback() || a.IsUnspecified()) {
			return fmt.Errorf("URI host %q is not inside the execution environment (use sandbox.localdomain)", host)
		}
		if a.IsLoopback() {
			dialHost = a.String()
		}
	}
	c.host = u.Host
	dial := *u
	dial.Host = net.JoinHostPort(dialHost, port)
	c.url = dial.String()
	return nil
}
