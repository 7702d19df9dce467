package tune

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// The chart's geometry, in SVG user units.
const (
	svgWidth     = 820
	svgLeft      = 90 // room for the y axis's labels
	svgRight     = 40
	panelHeight  = 190
	panel1Top    = 95
	panel2Top    = panel1Top + panelHeight + 60
	xLabelsTop   = panel2Top + panelHeight
	svgHeight    = xLabelsTop + 110
	plotWidth    = svgWidth - svgLeft - svgRight
	colorP50     = "#1f77b4"
	colorCost    = "#2c8a2c"
	colorFailure = "#c62828"
	colorText    = "#333333"
	colorGrid    = "#dddddd"
)

// panel is one of the chart's two plots.
type panel struct {
	id, title, color string
	top              float64
	value            func(Size) float64 // the measured value of a size
	label            func(Size) string  // the value as written beside its point
	data             func(Size) string  // the value in data-value: ms or USD
	tick             func(v float64, decimals int) string
}

// WriteSVG draws the warm p50 duration (upper panel) and the cost per
// million invocations (lower panel) against memory, on a categorical x
// axis of the sizes measured, each point marked and labelled with its
// value. Every point is a <circle> with data-memory-mb and data-value (ms,
// or USD per million), in a <g> whose id is "p50" or "cost". Sizes without
// a successful warm run have no point; their failures are written under
// the axis, and so are the recommended sizes.
func (r *Result) WriteSVG(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12" fill="%s">
<rect width="100%%" height="100%%" fill="#ffffff"/>
`, svgWidth, svgHeight, svgWidth, svgHeight, colorText)
	fmt.Fprintf(&b, "<title>%s</title>\n", esc("ember tune "+r.Function))
	fmt.Fprintf(&b, `<text x="%d" y="28" font-size="16" font-weight="bold">%s</text>`+"\n", svgLeft, esc("ember tune: "+r.Function))
	fmt.Fprintf(&b, `<text x="%d" y="50">%s</text>`+"\n", svgLeft,
		esc(fmt.Sprintf("%d warm runs per memory size after a cold start; cost per 1M invocations at the warm p50 (%s)", r.Runs, r.Arch)))

	panels := []panel{{
		id: "p50", title: "warm p50 duration (ms)", color: colorP50, top: panel1Top,
		value: func(s Size) float64 { return float64(s.WarmP50) / float64(time.Millisecond) },
		label: func(s Size) string { return formatMillis(s.WarmP50) },
		data: func(s Size) string {
			return strconv.FormatFloat(float64(s.WarmP50)/float64(time.Millisecond), 'f', 3, 64)
		},
		tick: func(v float64, d int) string { return strconv.FormatFloat(v, 'f', d, 64) + " ms" },
	}, {
		id: "cost", title: "cost per 1M invocations (USD, at the warm p50)", color: colorCost, top: panel2Top,
		value: func(s Size) float64 { return s.CostPerMillion },
		label: func(s Size) string { return FormatUSD(s.CostPerMillion) },
		data:  func(s Size) string { return strconv.FormatFloat(s.CostPerMillion, 'f', 6, 64) },
		tick:  func(v float64, d int) string { return "$" + strconv.FormatFloat(v, 'f', d, 64) },
	}}
	for _, p := range panels {
		r.drawPanel(&b, p)
	}
	r.drawXAxis(&b)
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// x is the centre of size i's category.
func (r *Result) x(i int) float64 {
	return svgLeft + (float64(i)+0.5)*plotWidth/float64(len(r.Sizes))
}

func (r *Result) drawPanel(b *bytes.Buffer, p panel) {
	top, bottom := p.top, p.top+panelHeight
	has := func(s Size) bool { return s.Measured() && !math.IsNaN(p.value(s)) }
	maxV := 0.0
	for _, s := range r.Sizes {
		if has(s) {
			maxV = math.Max(maxV, p.value(s))
		}
	}
	step, ceiling, decimals := ticks(maxV)
	y := func(v float64) float64 { return bottom - v/ceiling*panelHeight }

	fmt.Fprintf(b, "<g id=\"%s\">\n", p.id)
	fmt.Fprintf(b, `<text x="%d" y="%.1f" font-weight="bold" fill="%s">%s</text>`+"\n", svgLeft, top-10, p.color, esc(p.title))
	for k := 0; float64(k)*step <= ceiling+step/2; k++ {
		v := float64(k) * step
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", svgLeft, y(v), svgWidth-svgRight, y(v), colorGrid)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" font-size="10">%s</text>`+"\n", svgLeft-6, y(v)+3, esc(p.tick(v, decimals)))
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", svgLeft, top, svgLeft, bottom, colorText)
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", svgLeft, bottom, svgWidth-svgRight, bottom, colorText)

	// A line through consecutive measured sizes, broken where one is not.
	var run []string
	flush := func() {
		if len(run) > 1 {
			fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(run, " "), p.color)
		}
		run = run[:0]
	}
	for i, s := range r.Sizes {
		if !has(s) {
			flush()
			continue
		}
		run = append(run, fmt.Sprintf("%.1f,%.1f", r.x(i), y(p.value(s))))
	}
	flush()

	for i, s := range r.Sizes {
		if !has(s) {
			why := "no successful run"
			if s.Measured() {
				why = "no price for " + r.Arch
			}
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="%s">%s</text>`+"\n", r.x(i), bottom-8, colorFailure, esc(why))
			continue
		}
		cx, cy := r.x(i), y(p.value(s))
		fill := p.color
		if s.Failed > 0 {
			fill = "#ffffff" // hollow: some runs at this size failed
		}
		fmt.Fprintf(b, `<circle class="point" cx="%.1f" cy="%.1f" r="5" fill="%s" stroke="%s" stroke-width="2" data-memory-mb="%d" data-value="%s">`,
			cx, cy, fill, p.color, s.MemoryMB, p.data(s))
		fmt.Fprintf(b, "<title>%s</title></circle>\n", esc(fmt.Sprintf("%d MB: %s", s.MemoryMB, p.label(s))))
		if i == r.Pick.Balanced {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="10" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", cx, cy, colorText)
		}
		fmt.Fprintf(b, `<text class="value" x="%.1f" y="%.1f" text-anchor="middle" font-size="11" fill="%s" stroke="#ffffff" stroke-width="3" paint-order="stroke" data-memory-mb="%d">%s</text>`+"\n",
			cx, cy-12, p.color, s.MemoryMB, esc(p.label(s)))
	}
	b.WriteString("</g>\n")
}

// drawXAxis writes each size's memory under the lower panel, with its
// failures and whether it is recommended, and the rule of the balanced pick.
func (r *Result) drawXAxis(b *bytes.Buffer) {
	b.WriteString("<g id=\"memory\">\n")
	for i, s := range r.Sizes {
		x := r.x(i)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" font-weight="bold">%d MB</text>`+"\n", x, xLabelsTop+18, s.MemoryMB)
		var notes []string
		color := colorFailure
		if s.Failed > 0 {
			notes = append(notes, fmt.Sprintf("%d/%d failed", s.Failed, s.Invocations()))
			for _, f := range s.Failures {
				notes = append(notes, f.Type)
			}
		} else {
			color = colorText
			for _, pick := range []struct {
				name string
				i    int
			}{{"cheapest", r.Pick.Cheapest}, {"fastest", r.Pick.Fastest}, {"balanced", r.Pick.Balanced}} {
				if pick.i == i {
					notes = append(notes, pick.name)
				}
			}
		}
		for j, n := range notes {
			fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="10" fill="%s">%s</text>`+"\n", x, xLabelsTop+34+13*j, color, esc(n))
		}
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="11">%s</text>`+"\n", svgLeft, svgHeight-30,
		esc("memory, one category per size measured (not to scale); a hollow point: some runs at that size failed"))
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="11">%s</text>`+"\n", svgLeft, svgHeight-14,
		esc("ringed: balanced, "+BalancedRule))
	b.WriteString("</g>\n")
}

// ticks chooses grid lines for values up to maxV: a step of 1, 2 or 5
// times a power of ten, about four of them, a ceiling with room above the
// highest point for its label, and the decimals a tick label needs.
func ticks(maxV float64) (step, ceiling float64, decimals int) {
	if !(maxV > 0) || math.IsInf(maxV, 0) {
		return 0.25, 1, 2
	}
	raw := maxV * 1.15 / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / mag; {
	case f <= 1:
		step = mag
	case f <= 2:
		step = 2 * mag
	case f <= 5:
		step = 5 * mag
	default:
		step = 10 * mag
	}
	ceiling = math.Ceil(maxV*1.15/step) * step
	decimals = max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	return step, ceiling, decimals
}

// esc escapes s for XML text and attribute values.
func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}
