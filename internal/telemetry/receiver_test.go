package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fixedTime is the clock of tests that compare records with golden files.
var fixedTime = time.Date(2022, 10, 12, 0, 0, 15, 64e6, time.UTC)

// received is one delivered event as the subscriber decodes it.
type received struct {
	Time   string          `json:"time"`
	Type   string          `json:"type"`
	Record json.RawMessage `json:"record"`
	raw    json.RawMessage
}

// receiver is a subscriber's HTTP listener on loopback: it records every
// batch it accepts.
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	// fail is how many requests to refuse with 500 before accepting.
	fail atomic.Int32
	// hold, while set, makes requests wait until it is closed.
	hold atomic.Pointer[chan struct{}]

	mu       sync.Mutex
	attempts int
	batches  [][]received
	methods  []string
	hosts    []string
	paths    []string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	if h := r.hold.Load(); h != nil {
		select {
		case <-*h:
		case <-req.Context().Done():
			return
		}
	}
	body, err := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	if err != nil {
		r.t.Errorf("read delivery: %v", err)
		return
	}
	if r.fail.Load() > 0 {
		r.fail.Add(-1)
		http.Error(w, "not yet", http.StatusInternalServerError)
		return
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		r.t.Errorf("delivery is not a JSON array: %v: %s", err, body)
		return
	}
	batch := make([]received, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &batch[i]); err != nil {
			r.t.Errorf("event is not an object: %v: %s", err, raw)
		}
		batch[i].raw = raw
	}
	r.batches = append(r.batches, batch)
	r.methods = append(r.methods, req.Method)
	r.hosts = append(r.hosts, req.Host)
	r.paths = append(r.paths, req.URL.Path)
}

// port is the listener's port, for a sandbox.localdomain URI.
func (r *receiver) port() string {
	u, err := url.Parse(r.srv.URL)
	if err != nil {
		r.t.Fatal(err)
	}
	return u.Port()
}

// uri is the destination an extension inside the environment would give.
func (r *receiver) uri() string {
	return "http://sandbox.localdomain:" + r.port() + "/lambda/telemetry"
}

// events returns every event delivered so far, in order.
func (r *receiver) events() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []received
	for _, b := range r.batches {
		all = append(all, b...)
	}
	return all
}

func (r *receiver) batchSizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n []int
	for _, b := range r.batches {
		n = append(n, len(b))
	}
	return n
}

// types lists the delivered events' types.
func (r *receiver) types() []string {
	var ts []string
	for _, e := range r.events() {
		ts = append(ts, e.Type)
	}
	return ts
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// subscription builds a subscribe request body.
func subscription(schema, uri string, types []string, buffering map[string]int) []byte {
	req := map[string]any{
		"types":       types,
		"destination": map[string]any{"protocol": "HTTP", "URI": uri},
	}
	if schema != "" {
		req["schemaVersion"] = schema
	}
	if buffering != nil {
		req["buffering"] = buffering
	}
	b, err := json.Marshal(req)
	if err != nil {
		panic(err)
	}
	return b
}

var allTypes = []string{"platform", "function", "extension"}

// mustSubscribe subscribes and fails the test unless Lambda's 200 "OK"
// comes back.
func mustSubscribe(t *testing.T, h *Hub, id, name string, api API, body []byte) {
	t.Helper()
	status, resp := h.Subscribe(id, name, api, body)
	if status != http.StatusOK || string(resp) != `"OK"` {
		t.Fatalf("subscribe %s: %d %s", name, status, resp)
	}
}

// newHub returns a Hub closed at the end of the test.
func newHub(t *testing.T, opts Options) *Hub {
	h := New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return h
}

func flush(t *testing.T, h *Hub) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// compareGolden compares one delivered event with testdata/<dir>/<type>.json
// field by field.
func compareGolden(t *testing.T, dir string, e received) {
	t.Helper()
	path := filepath.Join("testdata", dir, e.Type+".json")
	wantRaw, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%s: %v", e.Type, err)
		return
	}
	var want, got any
	if err := json.Unmarshal(wantRaw, &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := json.Unmarshal(e.raw, &got); err != nil {
		t.Fatalf("%s: %v", e.Type, err)
	}
	for _, d := range diffJSON("", want, got) {
		t.Errorf("%s (%s): %s", e.Type, path, d)
	}
}

// diffJSON lists the fields where got differs from want.
func diffJSON(at string, want, got any) []string {
	wm, wok := want.(map[string]any)
	gm, gok := got.(map[string]any)
	if wok && gok {
		keys := map[string]bool{}
		for k := range wm {
			keys[k] = true
		}
		for k := range gm {
			keys[k] = true
		}
		var sorted []string
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		var out []string
		for _, k := range sorted {
			w, inW := wm[k]
			g, inG := gm[k]
			switch {
			case !inW:
				out = append(out, fmt.Sprintf("%s.%s: unexpected field %v", at, k, g))
			case !inG:
				out = append(out, fmt.Sprintf("%s.%s: missing, want %v", at, k, w))
			default:
				out = append(out, diffJSON(at+"."+k, w, g)...)
			}
		}
		return out
	}
	wa, wok := want.([]any)
	ga, gok := got.([]any)
	if wok && gok && len(wa) == len(ga) {
		var out []string
		for i := range wa {
			out = append(out, diffJSON(fmt.Sprintf("%s[%d]", at, i), wa[i], ga[i])...)
		}
		return out
	}
	if !reflect.DeepEqual(want, got) {
		return []string{fmt.Sprintf("%s: got %v, want %v", at, got, want)}
	}
	return nil
}
