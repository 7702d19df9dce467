package tune

import (
	"bytes"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emberfn/ember/internal/billing"
)

// svgPoint is a marked point of the chart, as a reader of the SVG finds it.
type svgPoint struct {
	panel    string
	memoryMB int
	value    float64
}

// parseSVG decodes the whole document, failing the test if it is not
// well-formed, and returns its root's name, the marked points, and the
// text of its <text> elements.
func parseSVG(t *testing.T, doc []byte) (root xml.Name, points []svgPoint, texts []string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var groups []string
	inText := 0
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v\n%s", err, doc)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if root.Local == "" {
				root = el.Name
			}
			attr := map[string]string{}
			for _, a := range el.Attr {
				attr[a.Name.Local] = a.Value
			}
			switch el.Name.Local {
			case "g":
				groups = append(groups, attr["id"])
			case "text":
				inText++
				text.Reset()
			case "circle":
				if attr["data-value"] == "" {
					break
				}
				mb, err1 := strconv.Atoi(attr["data-memory-mb"])
				v, err2 := strconv.ParseFloat(attr["data-value"], 64)
				if err1 != nil || err2 != nil || len(groups) == 0 {
					t.Fatalf("point %v", el.Attr)
				}
				points = append(points, svgPoint{groups[len(groups)-1], mb, v})
			}
		case xml.EndElement:
			switch el.Name.Local {
			case "g":
				groups = groups[:len(groups)-1]
			case "text":
				inText--
				texts = append(texts, text.String())
			}
		case xml.CharData:
			if inText > 0 {
				text.Write(el)
			}
		}
	}
	return root, points, texts
}

func TestTuneWriteSVG(t *testing.T) {
	prices := billing.Default()
	mk := func(mb int, p50 time.Duration, failures ...Failure) Size {
		s := Size{MemoryMB: mb, Warm: make([]Sample, 3), WarmOK: 3, WarmP50: p50, WarmP90: p50}
		for _, f := range failures {
			s.Failures = append(s.Failures, f)
			s.Failed += f.Count
			s.WarmOK -= min(f.Count, 3)
		}
		if s.WarmOK > 0 {
			s.CostPerMillion = prices.PerMillion(billing.Invocation{Duration: p50, MemoryMB: mb})
		} else {
			s.WarmP50, s.WarmP90 = 0, 0
		}
		return s
	}
	res := &Result{
		Function: `odd<name>&"'`, Runs: 3, Arch: "x86_64", EphemeralMB: 512, Prices: prices,
		Sizes: []Size{
			mk(128, 0, Failure{"Runtime.OutOfMemory", 4}),
			mk(512, 180500*time.Microsecond),
			mk(1769, 52250*time.Microsecond, Failure{"Sandbox.Timedout", 1}),
			mk(3008, 51*time.Millisecond),
		},
	}
	res.Pick = Recommend(res.Sizes)
	var b bytes.Buffer
	if err := res.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	root, points, texts := parseSVG(t, b.Bytes())
	if root.Space != "http://www.w3.org/2000/svg" || root.Local != "svg" {
		t.Errorf("root element %v", root)
	}
	want := map[svgPoint]bool{}
	for _, s := range res.Sizes[1:] {
		want[svgPoint{"p50", s.MemoryMB, float64(s.WarmP50) / 1e6}] = true
		c, _ := strconv.ParseFloat(strconv.FormatFloat(s.CostPerMillion, 'f', 6, 64), 64)
		want[svgPoint{"cost", s.MemoryMB, c}] = true
	}
	if len(points) != len(want) {
		t.Errorf("points %v; want %v", points, want)
	}
	for _, p := range points {
		if !want[p] {
			t.Errorf("point %+v was not measured; want those of %v", p, want)
		}
	}
	all := strings.Join(texts, "\n")
	for _, s := range []string{
		`ember tune: odd<name>&"'`, // the name, unescaped again by the parser
		"180.5 ms", "52.2 ms", "51.0 ms", FormatUSD(res.Sizes[1].CostPerMillion),
		"128 MB", "512 MB", "1769 MB", "3008 MB",
		"4/4 failed", "Runtime.OutOfMemory", "no successful run", "1/4 failed", "Sandbox.Timedout",
		"cheapest", "fastest", "balanced", BalancedRule,
	} {
		if !strings.Contains(all, s) {
			t.Errorf("the chart's text lacks %q:\n%s", s, all)
		}
	}
}

func TestTuneWriteSVGWithoutPoints(t *testing.T) {
	res := &Result{Function: "fn", Runs: 1, Sizes: []Size{{MemoryMB: 128, Failed: 2, Failures: []Failure{{"Runtime.ExitError", 2}}}}}
	res.Pick = Recommend(res.Sizes)
	var b bytes.Buffer
	if err := res.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	if _, points, _ := parseSVG(t, b.Bytes()); len(points) != 0 {
		t.Errorf("points %v of a size that never succeeded", points)
	}
	if strings.Contains(b.String(), "NaN") || strings.Contains(b.String(), "Inf") {
		t.Errorf("the chart holds NaN or Inf:\n%s", b.String())
	}
}

func TestTuneTicks(t *testing.T) {
	for _, tc := range []struct {
		max           float64
		step, ceiling float64
		decimals      int
	}{
		{0, 0.25, 1, 2},
		{52.25, 20, 80, 0},
		{691, 200, 800, 0},
		{1.4, 0.5, 2, 1},
		{0.41, 0.2, 0.6, 1},
		{0.0123, 0.005, 0.015, 3},
	} {
		step, ceiling, decimals := ticks(tc.max)
		if !near(step, tc.step) || !near(ceiling, tc.ceiling) || decimals != tc.decimals {
			t.Errorf("ticks(%v) = %v, %v, %d; want %v, %v, %d", tc.max, step, ceiling, decimals, tc.step, tc.ceiling, tc.decimals)
		}
		if ceiling < tc.max*1.15-1e-12 {
			t.Errorf("ticks(%v): ceiling %v leaves no room above the highest point", tc.max, ceiling)
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
