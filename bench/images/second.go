package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
	"github.com/emberfn/ember/internal/image"
)

const (
	// holdMS is how long the first environment's invocation sleeps: longer
	// than the wait for it, the second environment's cold start and the
	// disk use read around it.
	holdMS = 1500
	// busyTimeout bounds the wait for the first environment's runtime.
	busyTimeout = 10 * time.Second
	// busySettle is the pause once the first environment's runtime runs:
	// for it to reach its handler, and for ember to start again the
	// sandbox it keeps started ahead, which the first environment took.
	busySettle = 100 * time.Millisecond
	// runtimeCmd is the command line of an image function's runtime.
	runtimeCmd = "/var/runtime/bootstrap\x00"
)

// The paths of the second-environment phase, and their functions.
const (
	pathSmall = "small image"
	pathBig   = "1 GB image"
	fnSmall   = "sleep-small"
	fnBig     = "sleep-big"
)

// slept is the sleep function's answer: when its handler ran, in Unix
// nanoseconds.
type slept struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// secondPath is what the second environments of one function came to.
type secondPath struct {
	coldPath
	// firstImages and secondImages are the most bytes the first and the
	// second environment added to ember's images directory; firstData and
	// secondData the same of all ember's directories.
	firstImages, secondImages, firstData, secondData int64
}

// second loads the big and the small image, and starts, alternately for
// each, a first environment held busy and then a second one, reading the
// disk use of ember's images and data directories before and after each.
func (b *bench) second(ctx context.Context) error {
	ec := b.ec()
	imagesDir := filepath.Join(b.data, "images")
	before, err := image.DiskUsage(imagesDir)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if _, err := ec.LoadImages(ctx, b.imgs.big.tarball, ""); err != nil {
		return err
	}
	d := time.Since(t0)
	after, err := image.DiskUsage(imagesDir)
	if err != nil {
		return err
	}
	b.progress("loaded the big image in %.1f s; ember's images directory grew by %.1f MB", d.Seconds(), float64(after-before)/mb)
	b.res.add(idBigLoad, phaseSecond, pathBig, "load, MB/s", unitMBps, float64(b.imgs.big.size)/mb/d.Seconds())
	b.res.add(idBigDisk, phaseSecond, pathBig, "images directory growth on load", unitBytes, float64(after-before))
	if _, err := ec.LoadImages(ctx, b.imgs.small.tarball, ""); err != nil {
		return err
	}

	c := harness.NewLambdaClient(b.em.URL, b.hc)
	small := &secondPath{coldPath: coldPath{path: path{name: pathSmall}, fn: fnSmall}}
	big := &secondPath{coldPath: coldPath{path: path{name: pathBig}, fn: fnBig}}
	for _, p := range []*secondPath{small, big} {
		ref := smallRef
		if p == big {
			ref = bigRef
		}
		if err := createImage(ctx, c, p.fn, ref); err != nil {
			return err
		}
		// Unmeasured: the function's first cold start finds its image
		// and makes its pool.
		if err := b.quiesce(ctx); err != nil {
			return err
		}
		if _, err := invoke(ctx, b.hc, b.em.URL, p.fn, `{"ms":0}`); err != nil {
			return fmt.Errorf("first Invoke of %s: %w", p.fn, err)
		}
	}

	var quiesceErr error
	turn := func(p *secondPath) func() {
		return func() {
			if quiesceErr != nil {
				return
			}
			if quiesceErr = b.quiesce(ctx); quiesceErr != nil {
				return
			}
			p.record(b.secondEnv(ctx, p, imagesDir))
		}
	}
	b.progress("second environments: %d of the big image and of the small one, alternated, each while a first one is held busy", b.cfg.second)
	start := time.Now()
	harness.Alternate(ctx, b.cfg.second, turn(small), turn(big))
	if err := ctx.Err(); err != nil {
		return err
	}
	if quiesceErr != nil {
		return quiesceErr
	}
	b.progress("second environments done in %.1f s", time.Since(start).Seconds())

	for _, p := range []*secondPath{small, big} {
		cold := p.cold
		b.res.addCheck(phaseSecond, p.name, p.tally, &cold)
		if len(p.lat.Lat) == 0 {
			continue
		}
		b.res.add(idColdP50, phaseSecond, p.name, "second environment's Invoke, p50", unitMillis, harness.Millis(p.lat.Percentile(50)))
		b.res.add(idColdP90, phaseSecond, p.name, "second environment's Invoke, p90", unitMillis, harness.Millis(p.lat.Percentile(90)))
		b.res.add(idInitP50, phaseSecond, p.name, "Init Duration p50 (REPORT)", unitMillis, harness.Millis(p.inits.Percentile(50)))
		b.res.add(idFirstImages, phaseSecond, p.name, "images directory, first environment, most added", unitBytes, float64(p.firstImages))
		b.res.add(idSecondImages, phaseSecond, p.name, "images directory, second environment, most added", unitBytes, float64(p.secondImages))
		b.res.add(idFirstData, phaseSecond, p.name, "all ember's directories, first environment, most added", unitBytes, float64(p.firstData))
		b.res.add(idSecondData, phaseSecond, p.name, "all ember's directories, second environment, most added", unitBytes, float64(p.secondData))
	}
	return nil
}

// secondEnv starts a first environment of p's function with an
// invocation that sleeps holdMS, waits until its runtime runs, and then
// starts a second environment with an invocation that does not sleep,
// the one measured. It reads the disk use before the first, between them
// and after the second. It returns the second's answer.
func (b *bench) secondEnv(ctx context.Context, p *secondPath, imagesDir string) (answer, error) {
	var a answer
	imgs0, data0, err := b.disk(imagesDir)
	if err != nil {
		return a, err
	}
	type held struct {
		a   answer
		err error
	}
	first := make(chan held, 1)
	go func() {
		a, err := invoke(ctx, b.hc, b.em.URL, p.fn, fmt.Sprintf(`{"ms":%d}`, holdMS))
		first <- held{a, err}
	}()
	// The first invocation is waited for whatever comes of the second.
	firstErr := func() error {
		h := <-first
		if h.err != nil {
			return fmt.Errorf("the first environment's invocation: %w", h.err)
		}
		return nil
	}
	if err := b.waitRuntime(ctx); err != nil {
		firstErr()
		return a, err
	}
	imgs1, data1, err := b.disk(imagesDir)
	if err != nil {
		firstErr()
		return a, err
	}
	a, err = invoke(ctx, b.hc, b.em.URL, p.fn, `{"ms":0}`)
	if err != nil {
		firstErr()
		return a, err
	}
	imgs2, data2, err := b.disk(imagesDir)
	h := <-first
	switch {
	case err != nil:
		return a, err
	case h.err != nil:
		return a, fmt.Errorf("the first environment's invocation: %w", h.err)
	}
	var s slept
	if err := json.Unmarshal(h.a.body, &s); err != nil {
		return a, fmt.Errorf("the first environment's answer %q: %w", harness.Clip(string(h.a.body), 200), err)
	}
	// The first environment ran its handler from before the second was
	// asked for until after the second answered: ember had to start the
	// second.
	if s.Start > a.sent.UnixNano() || s.End < a.sent.Add(a.d).UnixNano() {
		return a, fmt.Errorf("the first environment's handler ran from %s to %s, not throughout the second's Invoke (%s to %s)",
			time.Unix(0, s.Start).Format(time.StampMicro), time.Unix(0, s.End).Format(time.StampMicro),
			a.sent.Format(time.StampMicro), a.sent.Add(a.d).Format(time.StampMicro))
	}
	p.firstImages, p.secondImages = max(p.firstImages, imgs1-imgs0), max(p.secondImages, imgs2-imgs1)
	p.firstData, p.secondData = max(p.firstData, data1-data0), max(p.secondData, data2-data1)
	return a, nil
}

// record counts a second environment's Invoke, and keeps its figures when
// it was a cold start.
func (p *secondPath) record(a answer, err error) {
	if !p.tally.Record(err) || a.init == 0 {
		return
	}
	p.cold++
	p.lat.Lat = append(p.lat.Lat, a.d)
	p.inits.Lat = append(p.inits.Lat, a.init)
}

// waitRuntime waits until an image function's runtime runs under ember,
// and then busySettle.
func (b *bench) waitRuntime(ctx context.Context) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		pids, err := runtimes(b.em.Pid())
		if err != nil {
			return err
		}
		for _, pid := range pids {
			cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err == nil && strings.HasPrefix(string(cmd), runtimeCmd) {
				return sleep(ctx, busySettle)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no runtime ran under %s %v after the first environment's Invoke", b.em.Name, busyTimeout)
		}
		if err := sleep(ctx, quiescePoll); err != nil {
			return err
		}
	}
}

// disk reads the disk use of ember's images directory, and of all its
// directories: its data directory, and the state and sandbox directories
// it makes in the temporary directory, named after its pid, where each
// environment's /tmp is a sparse file.
func (b *bench) disk(imagesDir string) (images, all int64, err error) {
	if images, err = image.DiskUsage(imagesDir); err != nil {
		return 0, 0, err
	}
	dirs := []string{b.data}
	for _, prefix := range []string{"ember-state-", "ember-sandbox-"} {
		m, err := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-*", prefix, b.em.Pid())))
		if err != nil {
			return 0, 0, err
		}
		dirs = append(dirs, m...)
	}
	for _, d := range dirs {
		n, err := image.DiskUsage(d)
		if err != nil {
			return 0, 0, err
		}
		all += n
	}
	return images, all, nil
}
