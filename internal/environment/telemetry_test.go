package environment

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/testfunc"
)

// telemetryLayer makes a layer whose extensions/ holds the telemetry test
// extension under each of names.
func telemetryLayer(t *testing.T, names ...string) string {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join(testfunc.Build(t, "telemetryext"), "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	layer := t.TempDir()
	if err := os.Mkdir(filepath.Join(layer, "extensions"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(layer, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(layer, "extensions", name), bin, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return layer
}

// received is one event a test extension printed.
type received struct {
	Time   string          `json:"time"`
	Type   string          `json:"type"`
	Record json.RawMessage `json:"record"`
}

// eventsOf parses the events extension name printed to the logs.
func eventsOf(t *testing.T, logs, name string) []received {
	t.Helper()
	var out []received
	for line := range strings.Lines(logs) {
		raw, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), name+" EVENT ")
		if !ok {
			continue
		}
		var ev received
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			t.Fatalf("%s printed an event that is not JSON: %s", name, raw)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", ev.Time); err != nil {
			t.Errorf("event %s: time %q is not Lambda's format", ev.Type, ev.Time)
		}
		out = append(out, ev)
	}
	return out
}

// record decodes an event's record into a map.
func record(t *testing.T, ev received) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Record, &m); err != nil {
		t.Fatalf("%s record %s: %v", ev.Type, ev.Record, err)
	}
	return m
}

// inOrder finds each of want, a type or "function:<text>", in events, in
// this order, and returns their indexes.
func inOrder(t *testing.T, events []received, want ...string) []int {
	t.Helper()
	var at []int
	i := 0
	for _, w := range want {
		for ; i < len(events); i++ {
			ev := events[i]
			if typ, text, ok := strings.Cut(w, ":"); ok && typ != "platform.x" {
				if ev.Type == typ && strings.Contains(string(ev.Record), text) {
					break
				}
				continue
			}
			if ev.Type == w {
				break
			}
		}
		if i == len(events) {
			var types []string
			for _, ev := range events {
				types = append(types, ev.Type)
			}
			t.Fatalf("events lack %s in order %q; got %s", w, want, strings.Join(types, " "))
		}
		at = append(at, i)
		i++
	}
	return at
}

// number checks that m's field at path is a number, and returns it.
func number(t *testing.T, what string, m map[string]any, key string) float64 {
	t.Helper()
	v, ok := m[key].(float64)
	if !ok {
		t.Errorf("%s: %s = %#v, want a number", what, key, m[key])
	}
	return v
}

func TestTelemetryAndLogsAPIs(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			iso := m.isolation(t)
			layer := telemetryLayer(t, "telemetryext", "logsext")
			e, logs := newEnv(t, "logs", func(o *Options) {
				o.Isolation = iso
				o.Function.OptDir = layer
			})
			var ids []string
			for range 2 {
				resp, rep := invoke(t, e, `{}`)
				if resp.FunctionError != "" || rep.Status != "success" {
					t.Fatalf("invoke: %s %s %s", resp.Payload, rep.Status, rep.ErrorType)
				}
				ids = append(ids, rep.RequestID)
			}
			if err := e.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			waitForLog(t, logs, "telemetryext shutdown")
			waitForLog(t, logs, "logsext shutdown")
			all := logs.String()
			for _, want := range []string{
				"TELEMETRY\tName: telemetryext\tState: Subscribed\tTypes: [Platform, Function, Extension]\n",
				"LOGS\tName: logsext\tState: Subscribed\tTypes: [Platform, Function, Extension]\n",
				`telemetryext subscribed 200 "OK"`,
			} {
				if !strings.Contains(all, want) {
					t.Errorf("logs lack %q", want)
				}
			}

			tel := eventsOf(t, all, "telemetryext")
			at := inOrder(t, tel,
				"platform.initStart", "platform.initRuntimeDone", "platform.initReport",
				"platform.start", "function:hello stdout", "function:hello stderr", "platform.runtimeDone", "platform.report",
				"platform.start", "function:hello stdout", "platform.runtimeDone", "platform.report")
			// The subscription and the registrations come during init.
			sub := inOrder(t, tel, "platform.telemetrySubscription")[0]
			ext := inOrder(t, tel, "platform.extension:telemetryext")[0]
			if sub < at[0] || sub > at[1] || ext < at[0] || ext > at[1] {
				t.Errorf("subscription at %d, extension at %d: want both between initStart (%d) and initRuntimeDone (%d)", sub, ext, at[0], at[1])
			}
			// An extension's output is told apart from the runtime's,
			// in a sandbox as in a plain process.
			inOrder(t, tel, "extension:telemetryext listening")
			for _, ev := range tel {
				if ev.Type == "function" && strings.Contains(string(ev.Record), "telemetryext listening") {
					t.Errorf("the extension's line came as a function event: %s", ev.Record)
				}
			}

			is := record(t, tel[at[0]])
			if is["initializationType"] != "on-demand" || is["phase"] != "init" || is["functionName"] != "logs" || is["functionVersion"] != "$LATEST" {
				t.Errorf("platform.initStart %s", tel[at[0]].Record)
			}
			ird := record(t, tel[at[1]])
			if ird["status"] != "success" || ird["phase"] != "init" || ird["initializationType"] != "on-demand" {
				t.Errorf("platform.initRuntimeDone %s", tel[at[1]].Record)
			}
			ir := record(t, tel[at[2]])
			if met, _ := ir["metrics"].(map[string]any); met == nil || number(t, "initReport", met, "durationMs") <= 0 {
				t.Errorf("platform.initReport %s", tel[at[2]].Record)
			}
			for n, idx := range [][3]int{{at[3], at[6], at[7]}, {at[8], at[10], at[11]}} {
				st, rd, rp := record(t, tel[idx[0]]), record(t, tel[idx[1]]), record(t, tel[idx[2]])
				if st["requestId"] != ids[n] || st["version"] != "$LATEST" {
					t.Errorf("platform.start %d: %s", n, tel[idx[0]].Record)
				}
				if rd["requestId"] != ids[n] || rd["status"] != "success" {
					t.Errorf("platform.runtimeDone %d: %s", n, tel[idx[1]].Record)
				}
				met, _ := rd["metrics"].(map[string]any)
				if met == nil || number(t, "runtimeDone", met, "durationMs") <= 0 || number(t, "runtimeDone", met, "producedBytes") != 4 {
					t.Errorf("platform.runtimeDone %d metrics: %s", n, tel[idx[1]].Record)
				}
				spans, _ := rd["spans"].([]any)
				var names []string
				for _, s := range spans {
					sm, _ := s.(map[string]any)
					names = append(names, sm["name"].(string))
					number(t, "span", sm, "durationMs")
					if start, _ := sm["start"].(string); start == "" {
						t.Errorf("span %v has no start", sm)
					}
				}
				if strings.Join(names, ",") != "responseLatency,responseDuration" {
					t.Errorf("platform.runtimeDone %d spans %v", n, names)
				}
				if rp["requestId"] != ids[n] || rp["status"] != "success" {
					t.Errorf("platform.report %d: %s", n, tel[idx[2]].Record)
				}
				rm, _ := rp["metrics"].(map[string]any)
				if rm == nil {
					t.Fatalf("platform.report %d has no metrics: %s", n, tel[idx[2]].Record)
				}
				number(t, "report", rm, "durationMs")
				if number(t, "report", rm, "billedDurationMs") < 1 || number(t, "report", rm, "memorySizeMB") != 256 || number(t, "report", rm, "maxMemoryUsedMB") < 1 {
					t.Errorf("platform.report %d metrics: %s", n, tel[idx[2]].Record)
				}
				_, cold := rm["initDurationMs"]
				if cold != (n == 0) {
					t.Errorf("platform.report %d: initDurationMs present %v, want it on the cold start only", n, cold)
				}
			}

			logsAPI := eventsOf(t, all, "logsext")
			inOrder(t, logsAPI, "platform.logsSubscription",
				"platform.start", "function:hello stdout", "platform.runtimeDone", "platform.end", "platform.report",
				"platform.start", "function:hello stdout", "platform.runtimeDone", "platform.end", "platform.report")
			for _, ev := range logsAPI {
				if ev.Type == "platform.initStart" || ev.Type == "platform.telemetrySubscription" {
					t.Errorf("the Logs API received %s", ev.Type)
				}
			}
		})
	}
}
