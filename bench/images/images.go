package main

import (
	"fmt"
	"os"
	"time"
)

// The images' references, in their docker-save tarballs and as the
// ImageUri of their functions.
const (
	loadRef  = "ember-bench/load:v1"
	echoRef  = "ember-bench/echo:v1"
	smallRef = "ember-bench/sleep-small:v1"
	bigRef   = "ember-bench/sleep-big:v1"
)

const (
	// loadFileSize is the largest file of the image loaded and pulled.
	loadFileSize = 16 * mb
	// bigLayerSize is the largest data layer of the big image, and
	// bigFileSize its largest file.
	bigLayerSize = 256 * mb
	bigFileSize  = 64 * mb
)

// images are the images the benchmark generates.
type images struct {
	// load is random data alone, loaded, pulled and copied.
	load built
	// echo is the echo function's bootstrap, as Lambda's provided base
	// images lay out a runtime.
	echo built
	// small is the sleep function's bootstrap alone, and big the same
	// with data files beneath it.
	small, big built
	// bigData is the size of the big image's data files.
	bigData int64
}

// makeImages writes the images' layers and docker-save tarballs under dir.
func makeImages(cfg config, echoBin, sleepBin, dir string, progress func(string, ...any)) (images, error) {
	var imgs images
	echo, err := os.ReadFile(echoBin)
	if err != nil {
		return imgs, err
	}
	sleep, err := os.ReadFile(sleepBin)
	if err != nil {
		return imgs, err
	}

	start := time.Now()
	size := int64(cfg.sizeMB) * mb
	var load imageSpec
	load.ref = loadRef
	for i := range cfg.layers {
		// The layers share the size out, the first ones taking what the
		// division leaves.
		n := size / int64(cfg.layers)
		if int64(i) < size%int64(cfg.layers) {
			n++
		}
		load.layers = append(load.layers, dataEntries(fmt.Sprintf("data-%d", i), n, loadFileSize))
	}
	if imgs.load, err = buildImage(dir, "load", load, 1); err != nil {
		return imgs, err
	}
	progress("generated the %d MB image in %d layers, a %.1f MB docker-save tarball, in %.1f s",
		cfg.sizeMB, cfg.layers, float64(imgs.load.size)/mb, time.Since(start).Seconds())

	start = time.Now()
	if imgs.echo, err = buildImage(dir, "echo", imageSpec{ref: echoRef, layers: [][]entry{runtimeEntries(echo)}, function: true}, 2); err != nil {
		return imgs, err
	}
	if imgs.small, err = buildImage(dir, "small", imageSpec{ref: smallRef, layers: [][]entry{runtimeEntries(sleep)}, function: true}, 3); err != nil {
		return imgs, err
	}
	big := imageSpec{ref: bigRef, function: true}
	imgs.bigData = int64(cfg.bigMB) * mb
	for i, left := 0, imgs.bigData; left > 0; i++ {
		n := min(left, bigLayerSize)
		big.layers = append(big.layers, dataEntries(fmt.Sprintf("data-%d", i), n, bigFileSize))
		left -= n
	}
	big.layers = append(big.layers, runtimeEntries(sleep))
	if imgs.big, err = buildImage(dir, "big", big, 4); err != nil {
		return imgs, err
	}
	progress("generated the function images, the big one with %d MB of data in %d layers, in %.1f s",
		cfg.bigMB, len(big.layers), time.Since(start).Seconds())
	return imgs, nil
}
