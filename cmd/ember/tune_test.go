package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/client"
	"github.com/emberfn/ember/internal/testenv"
)

// runTune runs `ember tune` against the server at url, in this process.
func runTune(t *testing.T, url string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = tuneCommand(context.Background(), args, []string{"EMBER_ENDPOINT=" + url}, strings.NewReader(""), &out, &errb)
	t.Logf("ember tune %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out.String(), errb.String())
	return out.String(), errb.String(), err
}

// createTuneFunction creates a test function with the given memory and a
// timeout of 60 s, so that a slow run at 128 MB is no failure.
func createTuneFunction(t *testing.T, c *client.Client, name, fn string, memoryMB int) {
	t.Helper()
	timeout := 60
	if _, err := c.CreateFunction(context.Background(), client.CreateFunctionInput{
		FunctionName: name, Runtime: "provided.al2023", Role: testRole, Handler: "bootstrap",
		ZipFile: zipFunction(t, fn), MemorySize: &memoryMB, Timeout: &timeout,
	}); err != nil {
		t.Fatal(err)
	}
}

// chartPoints reads the SVG at path with encoding/xml, failing the test if
// it is not well-formed, and returns each panel's measured values by
// memory size: "p50" in ms, "cost" in USD per million.
func chartPoints(t *testing.T, path string) map[string]map[int]float64 {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	points := map[string]map[int]float64{}
	var groups []string
	dec := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", path, err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			attr := map[string]string{}
			for _, a := range el.Attr {
				attr[a.Name.Local] = a.Value
			}
			if el.Name.Local == "g" {
				groups = append(groups, attr["id"])
			}
			if el.Name.Local != "circle" || attr["data-value"] == "" || len(groups) == 0 {
				continue
			}
			mb, err1 := strconv.Atoi(attr["data-memory-mb"])
			v, err2 := strconv.ParseFloat(attr["data-value"], 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("point %v", el.Attr)
			}
			g := groups[len(groups)-1]
			if points[g] == nil {
				points[g] = map[int]float64{}
			}
			points[g][mb] = v
		case xml.EndElement:
			if el.Name.Local == "g" {
				groups = groups[:len(groups)-1]
			}
		}
	}
	return points
}

// tableRow returns the table's row of a memory size, and its cells:
// memory, cold start, init, warm p50, warm p90, max memory used, cost per
// 1M, failures.
func tableRow(t *testing.T, stdout string, mb int) (string, []string) {
	t.Helper()
	row := regexp.MustCompile(fmt.Sprintf(`(?m)^ *%d MB  .*$`, mb)).FindString(stdout)
	cells := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(row), -1)
	if len(cells) != 8 {
		t.Fatalf("no row of 8 cells for %d MB in:\n%s", mb, stdout)
	}
	return row, cells
}

// mibFor returns how many MiB this machine hashes with SHA-256 in about d
// on one CPU, as the cpu test function does.
func mibFor(d time.Duration) int {
	block := make([]byte, 1<<20)
	h := sha256.New()
	const probe = 32
	start := time.Now()
	for range probe {
		h.Write(block)
	}
	perMiB := time.Since(start) / probe
	return min(max(int(d/max(perMiB, 1)), 4), 512)
}

// TestTuneCPUBoundFunction tunes a single-threaded CPU-bound function: in
// a sandbox, whose CPU share is memory/1769 MB of a vCPU, it runs about 14
// times slower at 128 MB than at 1769, and no faster at 3008 MB.
func TestTuneCPUBoundFunction(t *testing.T) {
	p := startServe(t, t.TempDir())
	c := client.New(client.Options{Endpoint: p.url})
	createTuneFunction(t, c, "cpu", "cpu", 256)
	// About 100 ms of work at one vCPU, so about 1.4 s at 128 MB. Shorter
	// work would not show the share: a function idle for most of a 100 ms
	// CFS period may spend the period's whole quota at once, and work that
	// fits in it runs at full speed whatever the share.
	mib := mibFor(100 * time.Millisecond)
	svg := filepath.Join(t.TempDir(), "chart.svg")
	start := time.Now()
	stdout, stderr, err := runTune(t, p.url, "cpu", "--memory", "3008,128,512,1769", "--runs", "3",
		"--payload", fmt.Sprintf(`{"mb":%d}`, mib), "--svg", svg)
	if err != nil {
		t.Fatalf("ember tune: %v", err)
	}
	t.Logf("%d MiB of SHA-256 a run; ember tune took %v", mib, time.Since(start).Round(time.Millisecond))

	// Progress, as plain lines: stderr is no terminal here.
	for _, s := range []string{"tune: 128 MB: cold start\n", "tune: 128 MB: run 1/3\n", "tune: 3008 MB: run 3/3\n"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q", s)
		}
	}
	if strings.Contains(stderr, "\r") {
		t.Errorf("stderr, not a terminal, has carriage returns: %q", stderr)
	}
	// The table has its sizes in ascending order, none failed, and picks.
	var rows []int
	for _, mb := range []int{128, 512, 1769, 3008} {
		row, cells := tableRow(t, stdout, mb)
		rows = append(rows, strings.Index(stdout, row))
		if !strings.HasSuffix(cells[1], " ms") || !strings.HasSuffix(cells[2], " ms") || !strings.HasSuffix(cells[3], " ms") ||
			!strings.HasSuffix(cells[4], " ms") || !strings.HasPrefix(cells[6], "$") || cells[7] != "-" {
			t.Errorf("row %q: want a cold start with its init, warm durations, a cost and no failures", row)
		}
	}
	if !(rows[0] < rows[1] && rows[1] < rows[2] && rows[2] < rows[3]) {
		t.Errorf("rows not in ascending order of memory:\n%s", stdout)
	}
	for _, s := range []string{"COST PER 1M", "warm p50", "cheapest:", "fastest:", "balanced:", "within 10% of the fastest", "chart: " + svg,
		"memory of cpu restored to 256 MB"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout lacks %q", s)
		}
	}
	cfg, err := c.GetFunctionConfiguration(context.Background(), "cpu", "")
	if err != nil || cfg.MemorySize != 256 {
		t.Errorf("after ember tune the function has %d MB, %v; want its 256 MB back", cfg.MemorySize, err)
	}

	points := chartPoints(t, svg)
	p50, cost := points["p50"], points["cost"]
	for _, mb := range []int{128, 512, 1769, 3008} {
		if p50[mb] <= 0 || cost[mb] <= 0 {
			t.Errorf("the chart has no p50 or cost point at %d MB: %v %v", mb, p50, cost)
		}
	}
	if len(p50) != 4 || len(cost) != 4 {
		t.Errorf("chart points %v; want 4 in each panel", points)
	}
	t.Logf("warm p50 by memory: %v ms; cost per 1M: %v USD", p50, cost)

	// Unknown functions are refused before anything changes.
	if _, _, err := runTune(t, p.url, "nope", "--runs", "1"); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("tuning an unknown function: %v; want ResourceNotFoundException", err)
	}

	testenv.Root(t, "ember serve runs functions without a sandbox, so memory gives no CPU share; duration against memory is not checked")
	if strings.Contains(stdout, "without limits") {
		testenv.Missing(t, "ember serve ran the function without limits (no usable cgroups here); duration against memory is not checked")
	}
	// 128/1769 of a vCPU: about 14 times slower; allow a wide margin.
	if r := p50[128] / p50[1769]; r < 5 {
		t.Errorf("warm p50 at 128 MB is %.1f× that at 1769 MB; want ≥ 5× (about 14×)", r)
	}
	if !(p50[128] > p50[512] && p50[512] > p50[1769]) {
		t.Errorf("warm p50 does not fall with memory up to 1769 MB: %v", p50)
	}
	// One thread can't use more than one vCPU.
	if r := p50[3008] / p50[1769]; math.Abs(r-1) > 0.35 {
		t.Errorf("warm p50 at 3008 MB is %.2f× that at 1769 MB; want within ±35%% (one thread uses one vCPU)", r)
	}
}

// TestTuneOutOfMemory tunes the memory function asking for 200 MB: it
// runs out of memory at 128 MB, every time, and succeeds at 512 MB, which
// is then the only size recommended.
func TestTuneOutOfMemory(t *testing.T) {
	testenv.Root(t, "functions run without a sandbox, so 128 MB is no limit and nothing runs out of memory")
	p := startServe(t, t.TempDir())
	c := client.New(client.Options{Endpoint: p.url})
	createTuneFunction(t, c, "mem", "memory", 1024)
	svg := filepath.Join(t.TempDir(), "mem.svg")
	stdout, _, err := runTune(t, p.url, "mem", "--memory", "128,512", "--runs", "2", "--payload", `{"mb":200}`, "--svg", svg)
	if err != nil {
		t.Fatalf("ember tune: %v", err)
	}
	if strings.Contains(stdout, "without limits") {
		testenv.Missing(t, "ember serve ran the function without limits (no usable cgroups here): nothing runs out of memory")
	}
	if row, cells := tableRow(t, stdout, 128); cells[7] != "3/3 Runtime.OutOfMemory" || cells[3] != "-" || cells[6] != "-" {
		t.Errorf("128 MB row %q: want 3/3 Runtime.OutOfMemory, and no warm duration or cost", row)
	}
	row, cells := tableRow(t, stdout, 512)
	used, err := strconv.Atoi(strings.TrimSuffix(cells[5], " MB"))
	if cells[7] != "-" || err != nil || used < 200 || used > 512 {
		t.Errorf("512 MB row %q: want no failures and a Max Memory Used of 200–512 MB", row)
	}
	for _, s := range []string{"cheapest:   512 MB", "fastest:    512 MB", "balanced:   512 MB", "memory of mem restored to 1024 MB"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout lacks %q", s)
		}
	}
	points := chartPoints(t, svg)
	if _, ok := points["p50"][128]; ok || points["p50"][512] <= 0 || points["cost"][512] <= 0 {
		t.Errorf("chart points %v; want 512 MB's only", points)
	}
	doc, err := os.ReadFile(svg)
	if err != nil || !bytes.Contains(doc, []byte("Runtime.OutOfMemory")) {
		t.Errorf("the chart does not name the failures at 128 MB (%v)", err)
	}
	cfg, err := c.GetFunctionConfiguration(context.Background(), "mem", "")
	if err != nil || cfg.MemorySize != 1024 {
		t.Errorf("after ember tune the function has %d MB, %v; want its 1024 MB back", cfg.MemorySize, err)
	}
}

// TestTuneUsage: command lines that make no sense are usage errors,
// refused before any request.
func TestTuneUsage(t *testing.T) {
	event := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(event, []byte(`{"a":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{},
		{"a", "b"},
		{"fn", "--memory", "64"},
		{"fn", "--memory", "128,10241"},
		{"fn", "--memory", "128,lots"},
		{"fn", "--runs", "0"},
		{"fn", "--payload", `{"a":1}`, "--event", event},
		{"fn", "--payload", `{"a":`},
		{"fn", "--bogus"},
	} {
		// No server listens there: a request would fail otherwise than as usage.
		_, _, err := runTune(t, "http://127.0.0.1:1", args...)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("ember tune %q: %v; want a usage error", args, err)
		}
	}
	sizes, err := parseMemorySizes(" 3008, 128 ,512MB,128")
	if err != nil || fmt.Sprint(sizes) != "[128 512 3008]" {
		t.Errorf("parseMemorySizes = %v, %v; want [128 512 3008]", sizes, err)
	}
}
