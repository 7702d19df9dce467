// Command images measures container-image functions in ember serve, each
// figure beside a baseline measured in the same run, in alternating
// turns, since shared machines are too noisy for figures from different
// runs to compare:
//
//   - image load throughput: a generated image of random data (256 MB in
//     4 layers by default), loaded from its docker-save tarball (POST
//     /ember/v1/images/load) and pulled from a registry on 127.0.0.1 in the
//     benchmark's process (POST /ember/v1/images/pull), each in MB/s
//     beside `cp` of the same tarball into the filesystem of ember's data
//     directory; the image is removed and pruned between repetitions, so
//     that each unpacks its layers afresh;
//   - cold starts, request → response (p50, p90), of the echo function
//     (testdata/functions/echo) as an image beside the same bootstrap as a
//     zip (provided.al2023), both at 1769 MB, alternated;
//   - the second environment of a 1 GB image: with a first environment
//     held busy (testdata/functions/sleep), the disk a second one adds
//     to ember's images directory and data directory, and its cold start
//     beside that of the second environment of a small image.
//
// Image functions run in ember's sandbox, so the benchmark must run as
// root. It builds ember and the functions into a temporary directory,
// generates the images there, runs ember serve as a child process with
// its state there, and stops it when it ends, also on error or interrupt.
// Run it from the module root:
//
//	go run ./bench/images [-size 256] [-big 1024] [-cold 20] [-json FILE]
//
// It prints tables of the figures on stdout, and its progress on stderr;
// bench/README.md explains each figure. The exit status is 1 when the
// benchmark could not run or a request failed.
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	// readyTimeout bounds the wait for ember serve to listen; it starts
	// its embedded NATS server and its sandbox network first.
	readyTimeout = 30 * time.Second
	// stopGrace is how long a child has to exit after SIGTERM.
	stopGrace = 20 * time.Second
	// mb is a megabyte as the flags and the figures count it.
	mb = 1 << 20
)

// config is the benchmark's command line.
type config struct {
	sizeMB   int
	layers   int
	loads    int
	cold     int
	bigMB    int
	second   int
	jsonPath string
	keep     bool
}

func main() {
	if code := harness.Main(run); code != 0 {
		os.Exit(code)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := harness.NewFlagSet("images", "ember serve's container-image functions", stderr)
	fs.IntVar(&cfg.sizeMB, "size", 256, "MB of random data in the image loaded and pulled")
	fs.IntVar(&cfg.layers, "layers", 4, "layers of that image")
	fs.IntVar(&cfg.loads, "loads", 5, "loads, pulls and copies of that image")
	fs.IntVar(&cfg.cold, "cold", 20, "cold starts of the echo function as an image, and as a zip")
	fs.IntVar(&cfg.bigMB, "big", 1024, "MB of data files in the big image, of which a second environment starts")
	fs.IntVar(&cfg.second, "second", 8, "second environments started of the big image, and of a small one")
	fs.StringVar(&cfg.jsonPath, "json", "", "also write the figures as JSON to this file")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory with the binaries, the images, ember's state and its stdout and stderr")
	if err := harness.ParseFlags(fs, args); err != nil {
		return cfg, err
	}
	if cfg.sizeMB < 1 || cfg.layers < 1 || cfg.loads < 1 || cfg.cold < 1 || cfg.bigMB < 1 || cfg.second < 1 {
		return cfg, errors.New("every flag but -json and -keep must be positive")
	}
	if os.Geteuid() != 0 {
		return cfg, errors.New("not root: ember runs image functions in its sandbox, which needs root")
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	progress := harness.Progress(stderr)
	tmp, cleanup, err := harness.TempDir("ember-bench-images-", cfg.keep, progress)
	if err != nil {
		return err
	}
	defer cleanup()

	progress("building ember, the Go echo function and the sleep function")
	bins, err := harness.Build(ctx, tmp, "go-echo")
	if err != nil {
		return err
	}
	root, err := harness.ModuleRoot(ctx)
	if err != nil {
		return err
	}
	sleepBin := filepath.Join(tmp, "sleep-bootstrap")
	if err := goBuild(ctx, root, sleepBin, "./testdata/functions/sleep"); err != nil {
		return err
	}
	imgDir := filepath.Join(tmp, "images")
	if err := os.Mkdir(imgDir, 0o755); err != nil {
		return err
	}
	imgs, err := makeImages(cfg, bins.Bootstrap, sleepBin, imgDir, progress)
	if err != nil {
		return err
	}

	res := newResults(cfg, imgs)
	procs := &harness.Children{StopGrace: stopGrace, ReadyTimeout: readyTimeout}
	// On the way out after an error; a successful run has stopped every
	// child and noted what went wrong.
	defer procs.StopAll(func(err error) { progress("%v", err) })
	reg, err := startRegistry()
	if err != nil {
		return err
	}
	defer func() {
		if err := reg.close(); err != nil {
			progress("stop the registry: %v", err)
		}
	}()

	progress("starting ember serve --idle-timeout %s", coldIdleTimeout)
	em, err := harness.StartServe(ctx, procs, bins.Ember, tmp, "ember", false, "--idle-timeout", coldIdleTimeout)
	if err != nil {
		return err
	}
	b := &bench{
		cfg: cfg, progress: progress, res: res, imgs: imgs, tmp: tmp, reg: reg, em: em,
		data: filepath.Join(tmp, "ember-data"), hc: harness.NewHTTPClient(8, 4, 5*time.Minute),
		fnDir: bins.FnDir,
	}
	for _, phase := range []func(context.Context) error{b.load, b.cold, b.second} {
		if err := phase(ctx); err != nil {
			return err
		}
	}
	progress("stopping %s", em.Name)
	harness.StopServe(em, res.note)
	res.Summary = res.whereTimeGoes()

	return harness.Finish(stdout, res.print, cfg.jsonPath, res, res.failed(), progress)
}
