package main

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/emberfn/ember/bench/internal/harness"
)

// results are the figures of a run, as printed and as written with -json.
type results struct {
	harness.Report
	Settings settings `json:"settings"`
	Metrics  []metric `json:"metrics"`
	Checks   []check  `json:"checks"`
	Targets  []target `json:"targets"`
}

type settings struct {
	SizeMB int `json:"size_mb"`
	Layers int `json:"layers"`
	// TarballBytes is the size of the docker-save tarball of the image
	// loaded, pulled and copied, which its MB/s count.
	TarballBytes int64 `json:"tarball_bytes"`
	Loads        int   `json:"loads"`
	Cold         int   `json:"cold"`
	BigMB        int   `json:"big_mb"`
	// BigTarballBytes is the size of the big image's tarball.
	BigTarballBytes int64 `json:"big_tarball_bytes"`
	Second          int   `json:"second"`
	MemoryMB        int   `json:"memory_mb"`
	HoldMS          int   `json:"hold_ms"`
}

// The phases.
const (
	phaseLoad   = "image load"
	phaseCold   = "cold start"
	phaseSecond = "second environment"
)

// The metrics; a metric is one figure of one path of one phase.
const (
	idTime         = "time_p50"
	idRate         = "mb_per_s"
	idRatio        = "ratio_to_cp"
	idColdP50      = "cold_p50"
	idColdP90      = "cold_p90"
	idInitP50      = "init_p50"
	idBigLoad      = "big_load_mb_per_s"
	idBigDisk      = "big_load_images_bytes"
	idFirstImages  = "first_env_images_bytes"
	idSecondImages = "second_env_images_bytes"
	idFirstData    = "first_env_data_bytes"
	idSecondData   = "second_env_data_bytes"
)

// Units of the figures.
const (
	unitMillis = harness.UnitMillis
	unitMBps   = "MB/s"
	unitRatio  = "×"
	unitBytes  = "B"
)

type metric struct {
	ID    string  `json:"id"`
	Phase string  `json:"phase"`
	Path  string  `json:"path"`
	Label string  `json:"label"`
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
}

// check says whether the measured requests of a path succeeded, and, for
// Invokes, how many were cold starts.
type check struct {
	Phase    string `json:"phase"`
	Path     string `json:"path"`
	Requests int    `json:"requests"`
	Errors   int    `json:"errors"`
	// ColdStarts counts the REPORT lines with an Init Duration; nil for
	// loads and copies.
	ColdStarts  *int   `json:"cold_starts,omitempty"`
	ErrorDetail string `json:"error_detail,omitempty"`
}

// target bounds a figure computed from the metrics.
type target struct {
	Name   string         `json:"name"`
	Unit   string         `json:"unit"`
	Value  *float64       `json:"value"`
	Target harness.Target `json:"target"`
	Met    bool           `json:"met"`
}

func newResults(cfg config, imgs images) *results {
	return &results{
		Report: harness.NewReport(),
		Settings: settings{SizeMB: cfg.sizeMB, Layers: cfg.layers, TarballBytes: imgs.load.size, Loads: cfg.loads, Cold: cfg.cold,
			BigMB: cfg.bigMB, BigTarballBytes: imgs.big.size, Second: cfg.second, MemoryMB: memoryMB, HoldMS: holdMS},
	}
}

func (r *results) note(format string, a ...any) { r.Note(format, a...) }

func (r *results) add(id, phase, path, label, unit string, v float64) {
	r.Metrics = append(r.Metrics, metric{ID: id, Phase: phase, Path: path, Label: label, Unit: unit, Value: v})
}

func (r *results) addCheck(phase, path string, t harness.Tally, coldStarts *int) {
	r.Checks = append(r.Checks, check{Phase: phase, Path: path, Requests: t.Requests, Errors: t.Errors,
		ColdStarts: coldStarts, ErrorDetail: t.Describe()})
}

func (r *results) value(id, phase, path string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.ID == id && m.Phase == phase && m.Path == path {
			return m.Value, true
		}
	}
	return 0, false
}

// failed reports whether a request failed.
func (r *results) failed() bool {
	for _, c := range r.Checks {
		if c.Errors > 0 {
			return true
		}
	}
	return false
}

// The targets.
const (
	targetImageCold  = "image cold start − zip cold start, p50, within"
	targetSecondCold = "1 GB image's second environment − small image's, p50, within"
	targetSecondDisk = "images directory growth, 1 GB image's second environment"
)

// judge computes the targets' figures and verdicts.
func (r *results) judge() {
	r.Targets = nil
	diff := func(phase, a, b string) *float64 {
		va, oka := r.value(idColdP50, phase, a)
		vb, okb := r.value(idColdP50, phase, b)
		if !oka || !okb {
			return nil
		}
		d := math.Abs(va - vb)
		return &d
	}
	var disk *float64
	if v, ok := r.value(idSecondImages, phaseSecond, pathBig); ok {
		disk = &v
	}
	for _, t := range []target{
		{Name: targetImageCold, Unit: unitMillis, Value: diff(phaseCold, pathImage, pathZip), Target: harness.Target{Op: "<=", Value: 1}},
		{Name: targetSecondCold, Unit: unitMillis, Value: diff(phaseSecond, pathBig, pathSmall), Target: harness.Target{Op: "<=", Value: 1}},
		{Name: targetSecondDisk, Unit: unitBytes, Value: disk, Target: harness.Target{Op: "<=", Value: mb}},
	} {
		t.Met = t.Value != nil && t.Target.Met(*t.Value)
		r.Targets = append(r.Targets, t)
	}
}

func (r *results) print(w io.Writer) error {
	r.judge()
	return harness.Print(w, r.write)
}

func (r *results) write(w io.Writer) {
	s := r.Settings
	fmt.Fprintf(w, "ember container images benchmark, %s %s/%s, %d CPUs, ember serve sandboxed, functions at %d MB (one vCPU)\n",
		r.Go, r.OS, r.Arch, r.CPUs, memoryMB)

	fmt.Fprintln(w)
	tw := harness.NewTable(w)
	fmt.Fprintf(tw, "image load, %d MB in %d layers (%.1f MB tarball), %d each\ttime p50\tMB/s\t÷ cp\n", s.SizeMB, s.Layers, float64(s.TarballBytes)/mb, s.Loads)
	for _, p := range []string{pathCp, pathLoad, pathPull} {
		label := p
		if p == pathCp {
			label = "cp (baseline)"
		}
		ratio := "-"
		if v, ok := r.value(idRatio, phaseLoad, p); ok {
			ratio = fmt.Sprintf("%.2f×", v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", label, r.cell(idTime, phaseLoad, p), r.cell(idRate, phaseLoad, p), ratio)
	}
	tw.Flush()

	r.pairTable(w, fmt.Sprintf("cold start, echo at %d MB, %d each", memoryMB, s.Cold), phaseCold, pathZip, pathImage, "image − zip", []string{idColdP50, idColdP90, idInitP50})

	r.pairTable(w, fmt.Sprintf("second environment, %d each, first held %d ms", s.Second, s.HoldMS), phaseSecond, pathSmall, pathBig, "1 GB − small",
		[]string{idColdP50, idColdP90, idInitP50, idFirstImages, idSecondImages, idFirstData, idSecondData})
	fmt.Fprintf(w, "1 GB image (%.1f MB tarball): load %s, images directory grew by %s\n",
		float64(s.BigTarballBytes)/mb, r.cell(idBigLoad, phaseSecond, pathBig), r.cell(idBigDisk, phaseSecond, pathBig))

	fmt.Fprintln(w)
	tw = harness.NewTable(w)
	fmt.Fprintln(tw, "target\tvalue\ttarget\tverdict")
	for _, t := range r.Targets {
		v := "-"
		if t.Value != nil {
			v = formatValue(t.Unit, *t.Value)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\n", t.Name, v, t.Target.Symbol(), formatValue(t.Unit, t.Target.Value), harness.Verdict(t.Met))
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = harness.NewTable(w)
	fmt.Fprintln(tw, "phase\tpath\trequests\terrors\tcold starts")
	for _, c := range r.Checks {
		cold := "-"
		if c.ColdStarts != nil {
			cold = fmt.Sprint(*c.ColdStarts)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", c.Phase, c.Path, c.Requests, c.Errors, cold)
	}
	tw.Flush()
	for _, c := range r.Checks {
		if c.ErrorDetail != "" {
			fmt.Fprintf(w, "%s, %s: %s\n", c.Phase, c.Path, c.ErrorDetail)
		}
	}

	harness.WriteNotes(w, r.Notes, r.Summary, true, isUnit)
}

// pairTable writes the metrics ids of two paths of phase side by side,
// and their difference b − a.
func (r *results) pairTable(w io.Writer, title, phase, a, b, diff string, ids []string) {
	var rows [][]string
	for _, id := range ids {
		label, unit := "", ""
		for _, m := range r.Metrics {
			if m.ID == id && m.Phase == phase {
				label, unit = m.Label, m.Unit
				break
			}
		}
		if label == "" {
			continue
		}
		d := "-"
		va, oka := r.value(id, phase, a)
		vb, okb := r.value(id, phase, b)
		if oka && okb {
			d = harness.Signed(vb-va, func(v float64) string { return formatValue(unit, v) })
		}
		rows = append(rows, []string{label, r.cell(id, phase, a), r.cell(id, phase, b), d})
	}
	harness.WriteTable(w, []string{title, a, b, diff}, rows)
}

// cell formats a metric, "-" when it is missing.
func (r *results) cell(id, phase, path string) string {
	for _, m := range r.Metrics {
		if m.ID == id && m.Phase == phase && m.Path == path {
			return formatValue(m.Unit, m.Value)
		}
	}
	return "-"
}

func formatValue(unit string, v float64) string {
	switch unit {
	case unitMBps:
		return fmt.Sprintf("%.0f MB/s", v)
	case unitRatio:
		return fmt.Sprintf("%.2f×", v)
	case unitBytes:
		return formatBytes(v)
	}
	return harness.FormatMillis(v)
}

// formatBytes shows a size in B, KB or MB.
func formatBytes(v float64) string {
	switch {
	case math.Abs(v) >= mb:
		return fmt.Sprintf("%.1f MB", v/mb)
	case math.Abs(v) >= 1<<10:
		return fmt.Sprintf("%.1f KB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}

// isUnit says which words the wrapped text keeps on the line of the
// number before them.
func isUnit(w string) bool {
	unit := strings.TrimRight(w, ",.;:)")
	return unit == "ms" || unit == "MB" || unit == "MB/s" || unit == "KB" || unit == "B" || unit == "s"
}

// whereTimeGoes says in words what the figures show.
func (r *results) whereTimeGoes() string {
	var s []string
	add := func(format string, a ...any) { s = append(s, fmt.Sprintf(format, a...)) }
	cp, cok := r.value(idRate, phaseLoad, pathCp)
	load, lok := r.value(idRate, phaseLoad, pathLoad)
	pull, pok := r.value(idRate, phaseLoad, pathPull)
	if cok && lok && pok {
		add("Loading the image's docker-save tarball ran at %.0f MB/s and pulling it from a registry on loopback at %.0f MB/s, "+
			"against %.0f MB/s for cp of the same file (%.2f× and %.2f×); either un-gzips each layer, checks its digests "+
			"and writes each of its files into the layer's tree, where cp writes one file.",
			load, pull, cp, load/cp, pull/cp)
	}
	zip, zok := r.value(idColdP50, phaseCold, pathZip)
	img, iok := r.value(idColdP50, phaseCold, pathImage)
	if zok && iok {
		add("An image function's cold start took %.2f ms at p50 against %.2f ms for the same bootstrap as a zip (%+.2f ms).", img, zip, img-zip)
	}
	small, sok := r.value(idColdP50, phaseSecond, pathSmall)
	big, bok := r.value(idColdP50, phaseSecond, pathBig)
	disk, dok := r.value(idSecondImages, phaseSecond, pathBig)
	data, aok := r.value(idSecondData, phaseSecond, pathBig)
	if sok && bok && dok && aok {
		add("A second environment of the 1 GB image, while the first was busy, started in %.2f ms at p50 against %.2f ms for a small image's (%+.2f ms), "+
			"and added %s to ember's images directory and %s to all its directories (data, state, sandboxes): the environments share the layers ember unpacked once.",
			big, small, big-small, formatBytes(disk), formatBytes(data))
	}
	return strings.Join(s, " ")
}
