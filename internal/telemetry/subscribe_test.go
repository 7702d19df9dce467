package telemetry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Subscribe requests are validated as Lambda validates them, with its
// statuses and error bodies.
func TestSubscribeValidation(t *testing.T) {
	r := newReceiver(t)
	uri := r.uri()
	port := r.port()
	body := func(schema string, buffering string, dest string, types string) []byte {
		var parts []string
		if schema != "" {
			parts = append(parts, `"schemaVersion":`+schema)
		}
		if buffering != "" {
			parts = append(parts, `"buffering":`+buffering)
		}
		if dest != "" {
			parts = append(parts, `"destination":`+dest)
		}
		if types != "" {
			parts = append(parts, `"types":`+types)
		}
		return []byte("{" + strings.Join(parts, ",") + "}")
	}
	httpDest := `{"protocol":"HTTP","URI":"` + uri + `"}`
	all := `["platform","function","extension"]`
	cases := []struct {
		name    string
		api     API
		body    []byte
		status  int
		errType string
		message string // the whole errorMessage, or a prefix ending in "…"
	}{
		{"minimal telemetry", Telemetry, body(`"2022-07-01"`, "", httpDest, all), 200, "", ""},
		{"2022-12-13", Telemetry, body(`"2022-12-13"`, "", httpDest, `["platform"]`), 200, "", ""},
		{"2025-01-29", Telemetry, body(`"2025-01-29"`, "", httpDest, `["function"]`), 200, "", ""},
		{"lowest limits", Telemetry, body(`"2022-12-13"`, `{"maxItems":1000,"maxBytes":262144,"timeoutMs":25}`, httpDest, all), 200, "", ""},
		{"highest limits", Telemetry, body(`"2022-12-13"`, `{"maxItems":10000,"maxBytes":1048576,"timeoutMs":30000}`, httpDest, all), 200, "", ""},
		{"sandbox host and unknown fields", Telemetry, body(`"2022-12-13"`, "",
			`{"protocol":"HTTP","URI":"http://sandbox:`+port+`","method":"POST","encoding":"JSON"}`, all), 200, "", ""},
		{"loopback host", Telemetry, body(`"2022-12-13"`, "", `{"protocol":"HTTP","URI":"http://127.0.0.1:`+port+`/x"}`, all), 200, "", ""},
		{"logs default schema", Logs, body("", "", httpDest, `["platform","function"]`), 200, "", ""},
		{"logs 2021-03-18 by PUT", Logs, body(`"2021-03-18"`, "", `{"protocol":"HTTP","URI":"`+uri+`","method":"PUT"}`, all), 200, "", ""},

		{"not JSON", Telemetry, []byte(`{"schemaVersion":`), 400, "ValidationError", "request body is not valid JSON…"},
		{"two objects", Telemetry, []byte(`{} {}`), 400, "ValidationError", "request body is not valid JSON: data after the object"},
		{"port and types", Telemetry, body(`"2022-07-01"`, "", `{"protocol":"HTTP","URI":"http://sandbox.localdomain/lambda"}`, `[]`),
			400, "ValidationError", "URI port is not provided; types should not be empty"},
		{"no schema", Telemetry, body("", "", httpDest, all), 400, "ValidationError", "schemaVersion is required"},
		{"logs schema on telemetry", Telemetry, body(`"2020-08-15"`, "", httpDest, all), 400, "ValidationError",
			`schemaVersion "2020-08-15" is not supported (supported: 2022-07-01, 2022-12-13, 2025-01-29)`},
		{"unknown type", Telemetry, body(`"2022-07-01"`, "", httpDest, `["platform","logs"]`), 400, "ValidationError",
			`type "logs" is not one of platform, function, extension`},
		{"maxItems low", Telemetry, body(`"2022-07-01"`, `{"maxItems":999}`, httpDest, all), 400, "ValidationError",
			"buffering.maxItems must be between 1000 and 10000"},
		{"maxItems high", Telemetry, body(`"2022-07-01"`, `{"maxItems":10001}`, httpDest, all), 400, "ValidationError",
			"buffering.maxItems must be between 1000 and 10000"},
		{"maxBytes low", Telemetry, body(`"2022-07-01"`, `{"maxBytes":262143}`, httpDest, all), 400, "ValidationError",
			"buffering.maxBytes must be between 262144 and 1048576"},
		{"maxBytes high", Telemetry, body(`"2022-07-01"`, `{"maxBytes":1048577}`, httpDest, all), 400, "ValidationError",
			"buffering.maxBytes must be between 262144 and 1048576"},
		{"timeout low", Telemetry, body(`"2022-07-01"`, `{"timeoutMs":24}`, httpDest, all), 400, "ValidationError",
			"buffering.timeoutMs must be between 25 and 30000"},
		{"timeout high", Telemetry, body(`"2022-07-01"`, `{"timeoutMs":30001}`, httpDest, all), 400, "ValidationError",
			"buffering.timeoutMs must be between 25 and 30000"},
		{"timeout not an integer", Telemetry, body(`"2022-07-01"`, `{"timeoutMs":25.5}`, httpDest, all), 400, "ValidationError",
			"request body is not valid JSON…"},
		{"no destination", Telemetry, body(`"2022-07-01"`, "", "", all), 400, "ValidationError", "destination is required"},
		{"https", Telemetry, body(`"2022-07-01"`, "", `{"protocol":"HTTP","URI":"https://sandbox.localdomain:443"}`, all),
			400, "ValidationError", "destination URI scheme must be http"},
		{"outside host", Telemetry, body(`"2022-07-01"`, "", `{"protocol":"HTTP","URI":"http://example.com:80/"}`, all),
			400, "ValidationError", `URI host "example.com" is not inside the execution environment (use sandbox.localdomain)`},
		{"protocol", Telemetry, body(`"2022-07-01"`, "", `{"protocol":"UDP","URI":"`+uri+`"}`, all),
			400, "ValidationError", `destination protocol "UDP" is not one of HTTP, TCP`},
		{"tcp without port", Telemetry, body(`"2022-07-01"`, "", `{"protocol":"TCP"}`, all),
			400, "ValidationError", "destination port is not provided or not a TCP port"},
		{"logs empty types", Logs, body(`"2020-08-15"`, "", httpDest, `[]`), 400, "Logs.ValidationError", "types should not be empty"},
		{"telemetry schema on logs", Logs, body(`"2022-07-01"`, "", httpDest, all), 400, "Logs.ValidationError",
			`schemaVersion "2022-07-01" is not supported (supported: 2020-08-15, 2021-03-18)`},
	}
	h := newHub(t, Options{})
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, resp := h.Subscribe(fmt.Sprint("id-", i), "ext", c.api, c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, resp)
			}
			if c.status == 200 {
				if string(resp) != `"OK"` {
					t.Fatalf("body %s, want \"OK\"", resp)
				}
				return
			}
			checkError(t, resp, c.errType, c.message)
		})
	}
}

// checkError checks an error body: its errorType, and its errorMessage
// whole or, when want ends in "…", its start.
func checkError(t *testing.T, resp []byte, errType, want string) {
	t.Helper()
	var e map[string]string
	if err := json.Unmarshal(resp, &e); err != nil {
		t.Fatalf("error body %s: %v", resp, err)
	}
	if len(e) != 2 || e["errorType"] != errType {
		t.Errorf("error body %s, want errorType %s and errorMessage only", resp, errType)
	}
	if prefix, ok := strings.CutSuffix(want, "…"); ok {
		if !strings.HasPrefix(e["errorMessage"], prefix) {
			t.Errorf("errorMessage %q, want it to start %q", e["errorMessage"], prefix)
		}
	} else if e["errorMessage"] != want {
		t.Errorf("errorMessage %q, want %q", e["errorMessage"], want)
	}
}

// An extension subscribes to one API only, and nobody subscribes after
// init.
func TestSubscribeWindowAndOneAPI(t *testing.T) {
	r := newReceiver(t)
	h := newHub(t, Options{})
	mustSubscribe(t, h, "id-1", "ext", Telemetry, subscription("2022-12-13", r.uri(), allTypes, nil))
	status, resp := h.Subscribe("id-1", "ext", Logs, subscription("", r.uri(), allTypes, nil))
	if status != http.StatusBadRequest {
		t.Fatalf("logs after telemetry: %d %s", status, resp)
	}
	checkError(t, resp, "Logs.ValidationError", "extension ext is already subscribed to the Telemetry API")

	h.CloseSubscriptions()
	for _, api := range []API{Telemetry, Logs} {
		status, resp := h.Subscribe("id-2", "late", api, subscription("2022-12-13", r.uri(), allTypes, nil))
		if status != http.StatusForbidden {
			t.Fatalf("%s after init: %d %s", api, status, resp)
		}
		checkError(t, resp, api.errorPrefix()+"SubscriptionClosed", "subscriptions are accepted only during the init phase")
	}
}

func TestPlatformLines(t *testing.T) {
	if got, want := SubscriptionLine(Logs, "Foo.bar", []string{"platform", "function"}),
		"LOGS\tName: Foo.bar\tState: Subscribed\tTypes: [Platform, Function]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := ExtensionLine(Extension{Name: "datadog-agent", State: "Ready", Events: []string{"INVOKE", "SHUTDOWN"}}),
		"EXTENSION\tName: datadog-agent\tState: Ready\tEvents: [INVOKE,SHUTDOWN]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// The subscription parser takes any body without panicking, and what it
// accepts is within Lambda's limits.
func FuzzParseSubscription(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":"2022-12-13","types":["platform"],"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":25},"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:8080/x"}}`))
	f.Add([]byte(`{"types":["function"],"destination":{"protocol":"TCP","port":9999}}`))
	f.Add([]byte(`{"schemaVersion":"2021-03-18","types":["extension"],"destination":{"protocol":"HTTP","URI":"http://[::1]:1/"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, api := range []API{Telemetry, Logs} {
			cfg, err := parseSubscription(api, body)
			if err != nil {
				continue
			}
			if cfg.maxItems < minMaxItems || cfg.maxItems > maxMaxItems || cfg.maxBytes < minMaxBytes ||
				cfg.maxBytes > maxMaxBytes || cfg.timeout <= 0 || len(cfg.types) == 0 {
				t.Fatalf("accepted %+v from %q", cfg, body)
			}
			if cfg.protocol == "HTTP" && (cfg.url == "" || cfg.host == "") || cfg.protocol == "TCP" && cfg.tcpAddr == "" {
				t.Fatalf("accepted a destination without an address: %+v from %q", cfg, body)
			}
		}
	})
}
