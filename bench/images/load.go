package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
	"github.com/emberfn/ember/internal/client"
)

// bench runs the phases and collects their figures.
type bench struct {
	cfg      config
	progress func(format string, a ...any)
	res      *results
	imgs     images
	// tmp is the run's directory, data ember's data directory in it.
	tmp, data string
	reg       *localRegistry
	em        harness.Server
	hc        *http.Client
	// fnDir holds the echo function's bootstrap, the zip's code.
	fnDir string
}

// ec is a client of ember's own API (images) of the ember measured.
func (b *bench) ec() *client.Client {
	return client.New(client.Options{Endpoint: b.em.URL, HTTPClient: b.hc})
}

// The paths of the load phase.
const (
	pathCp   = "cp"
	pathLoad = "ember image load"
	pathPull = "ember image pull"
)

// load measures, in alternating turns, `cp` of the load image's tarball,
// its load by ember and its pull by ember from the registry, each load
// and pull of an image ember did not hold: each turn ends with its
// removal and a prune.
func (b *bench) load(ctx context.Context) error {
	ec := b.ec()
	ref, err := b.reg.push(ctx, "ember-bench/load:v1", b.imgs.load.img)
	if err != nil {
		return err
	}
	digest, err := b.imgs.load.img.Digest()
	if err != nil {
		return err
	}
	b.progress("pushed the image to the registry at %s", b.reg.host)
	copyTo := filepath.Join(filepath.Dir(b.data), "cp-copy.tar")

	var cp, load, pull path
	cp.name, load.name, pull.name = pathCp, pathLoad, pathPull
	// forget removes the image, which deletes the layers no other image
	// uses, and prunes, untimed; the image must then be gone.
	forget := func(ref string) error {
		if err := ec.RemoveImage(ctx, ref); err != nil {
			return err
		}
		if _, err := ec.PruneImages(ctx); err != nil {
			return err
		}
		left, err := ec.Images(ctx)
		if err != nil {
			return err
		}
		for _, img := range left {
			if img.Digest == digest.String() {
				return fmt.Errorf("ember still held %s after its removal and a prune", digest)
			}
		}
		return nil
	}
	check := func(imgs []client.Image) error {
		if len(imgs) != 1 || imgs[0].Digest != digest.String() || imgs[0].Layers != b.cfg.layers {
			return fmt.Errorf("ember answered %+v, not the image %s of %d layers", imgs, digest, b.cfg.layers)
		}
		return nil
	}
	b.progress("image load: %d copies, loads and pulls of the %d MB image, alternated", b.cfg.loads, b.cfg.sizeMB)
	start := time.Now()
	harness.Alternate(ctx, b.cfg.loads, func() {
		t0 := time.Now()
		out, err := exec.CommandContext(ctx, "cp", b.imgs.load.tarball, copyTo).CombinedOutput()
		d := time.Since(t0)
		if err != nil {
			err = fmt.Errorf("cp: %w: %s", err, out)
		}
		cp.record(d, err)
		if err := os.Remove(copyTo); err != nil && cp.tally.Errors == 0 {
			cp.tally.Record(err)
		}
	}, func() {
		t0 := time.Now()
		imgs, err := ec.LoadImages(ctx, b.imgs.load.tarball, "")
		d := time.Since(t0)
		if err == nil {
			err = check(imgs)
		}
		if err == nil {
			err = forget(loadRef)
		}
		load.record(d, err)
	}, func() {
		t0 := time.Now()
		img, err := ec.PullImage(ctx, client.PullInput{Reference: ref, Insecure: true})
		d := time.Since(t0)
		if err == nil {
			err = check([]client.Image{img})
		}
		if err == nil {
			err = forget(ref)
		}
		pull.record(d, err)
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	b.progress("image load done in %.1f s", time.Since(start).Seconds())

	size := float64(b.imgs.load.size) / mb
	cpP50 := harness.Millis(cp.lat.Percentile(50))
	for _, p := range []*path{&cp, &load, &pull} {
		b.res.addCheck(phaseLoad, p.name, p.tally, nil)
		if len(p.lat.Lat) == 0 {
			continue
		}
		p50 := harness.Millis(p.lat.Percentile(50))
		b.res.add(idTime, phaseLoad, p.name, "time p50", unitMillis, p50)
		b.res.add(idRate, phaseLoad, p.name, "MB/s at p50", unitMBps, size/(p50/1000))
		if p.name != pathCp && cpP50 > 0 {
			b.res.add(idRatio, phaseLoad, p.name, "÷ cp's MB/s", unitRatio, cpP50/p50)
		}
	}
	return nil
}

// path is what the requests or runs of one path came to.
type path struct {
	name  string
	tally harness.Tally
	lat   harness.Samples
}

// record counts a request that took d, and keeps d when it succeeded.
func (p *path) record(d time.Duration, err error) {
	if p.tally.Record(err) {
		p.lat.Lat = append(p.lat.Lat, d)
	}
}
