// Command stream measures InvokeWithResponseStream in ember serve, each
// figure beside a plain loopback HTTP transfer measured in the same run,
// in alternating turns, since shared machines are too noisy for figures
// from different runs to compare:
//
//   - the first byte of a streamed response beside its end: the streamer
//     function (testdata/functions/streamer) writes 10 chunks of 1 KB
//     100 ms apart; the time to the first PayloadChunk and to the end of
//     the stream (p50, p90), beside the same chunks flushed 100 ms apart
//     by a plain net/http server, and the sum of the pauses;
//   - the throughput of a 100 MB stream with --stream-bandwidth
//     unlimited, in MB/s, beside the plain server sending the same bytes
//     to the same client, and the CPU each side spends on it;
//   - a 16 MB stream under Lambda's bandwidth (--stream-bandwidth lambda,
//     ember's default), beside the time its rule gives: the first 6 MB
//     uncapped, then 2 MB/s.
//
// Every Invoke is a plain net/http request to InvokeWithResponseStream,
// whose answer aws-sdk-go-v2's eventstream.Decoder decodes (each message's
// CRCs checked); every plain transfer a GET with the same http.Client. The bytes of every transfer are checked
// after it is timed. The streamer has 1769 MB, which in ember's sandbox is
// one vCPU. Ember runs functions in sandboxes by default as root;
// -no-sandbox measures embers started with --no-sandbox instead.
//
// It builds ember and the streamer into a temporary directory, starts the
// plain server (its own binary again) and ember serve as child processes,
// one ember for the unlimited bandwidth and then one for Lambda's, and
// stops them when it ends, also on error or interrupt. Run it from the
// module root:
//
//	go run ./bench/stream [-first 20] [-size 100] [-n 5] [-capped 16] [-json FILE]
//
// It prints tables of the figures on stdout, and its progress on stderr;
// bench/README.md explains each figure. The exit status is 1 when the
// benchmark could not run or a request failed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	// readyTimeout bounds the wait for ember serve to listen; it starts
	// its embedded NATS server and, as root, its sandbox network first.
	readyTimeout = 30 * time.Second
	// stopGrace is how long a child has to exit after SIGTERM.
	stopGrace = 20 * time.Second
	// mb is a megabyte as the flags and the figures count it: Lambda's
	// bandwidth rule counts in MiB.
	mb = 1 << 20
)

// config is the benchmark's command line.
type config struct {
	first     int
	sizeMB    int
	n         int
	cappedMB  int
	cappedN   int
	noSandbox bool
	jsonPath  string
	keep      bool
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == baselineArg {
		if err := serveBaseline(os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	if code := harness.Main(run); code != 0 {
		os.Exit(code)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := harness.NewFlagSet("stream", "ember serve's InvokeWithResponseStream", stderr)
	fs.IntVar(&cfg.first, "first", 20, "streamed responses of 10 chunks 100 ms apart, through ember and from the plain server each, for the first byte")
	fs.IntVar(&cfg.sizeMB, "size", 100, "MB of the stream whose throughput is measured")
	fs.IntVar(&cfg.n, "n", 5, "streams of -size MB through ember and from the plain server each")
	fs.IntVar(&cfg.cappedMB, "capped", 16, "MB of the stream sent under Lambda's bandwidth; 0 skips it")
	fs.IntVar(&cfg.cappedN, "capped-n", 2, "streams of -capped MB")
	fs.BoolVar(&cfg.noSandbox, "no-sandbox", false, "start ember serve with --no-sandbox")
	fs.StringVar(&cfg.jsonPath, "json", "", "also write the figures as JSON to this file")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory with the binaries, ember's state and its stdout and stderr")
	if err := harness.ParseFlags(fs, args); err != nil {
		return cfg, err
	}
	if cfg.first < 1 || cfg.sizeMB < 1 || cfg.n < 1 || cfg.cappedMB < 0 || cfg.cappedN < 1 {
		return cfg, errors.New("-first, -size, -n and -capped-n must be positive; -capped not negative")
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	progress := harness.Progress(stderr)
	tmp, cleanup, err := harness.TempDir("ember-bench-stream-", cfg.keep, progress)
	if err != nil {
		return err
	}
	defer cleanup()

	progress("building ember and the streamer function")
	emberBin, fnDir, err := build(ctx, tmp)
	if err != nil {
		return err
	}

	res := newResults(cfg)
	procs := &harness.Children{StopGrace: stopGrace, ReadyTimeout: readyTimeout}
	// On the way out after an error; a successful run has stopped every
	// child and noted what went wrong.
	defer procs.StopAll(func(err error) { progress("%v", err) })
	plain, err := harness.StartBaseline(ctx, procs, tmp, "plain", baselineArg)
	if err != nil {
		return err
	}
	b := &bench{cfg: cfg, progress: progress, res: res, fnDir: fnDir, plain: plain,
		hc: harness.NewHTTPClient(4, 2, 5*time.Minute)}

	progress("starting ember serve --stream-bandwidth unlimited")
	em, err := harness.StartServe(ctx, procs, emberBin, tmp, "ember-unlimited", cfg.noSandbox, "--stream-bandwidth", "unlimited")
	if err != nil {
		return err
	}
	for _, phase := range []func(context.Context, harness.Server) error{b.warmUp, b.firstByte, b.throughput} {
		if err := phase(ctx, em); err != nil {
			return err
		}
	}
	b.stopEmber(em)

	if cfg.cappedMB > 0 {
		progress("starting ember serve --stream-bandwidth lambda")
		capped, err := harness.StartServe(ctx, procs, emberBin, tmp, "ember-lambda", cfg.noSandbox, "--stream-bandwidth", "lambda")
		if err != nil {
			return err
		}
		for _, phase := range []func(context.Context, harness.Server) error{b.warmUp, b.capped} {
			if err := phase(ctx, capped); err != nil {
				return err
			}
		}
		b.stopEmber(capped)
	}
	if err := plain.Child.Stop(); err != nil {
		res.note("%v", err)
	}
	res.Summary = res.whereTimeGoes()

	return harness.Finish(stdout, res.print, cfg.jsonPath, res, res.failed(), progress)
}

// stopEmber stops em with SIGTERM, which has it end its functions and
// remove its cgroups, and notes what went wrong, and the errors it
// logged.
func (b *bench) stopEmber(em harness.Server) {
	b.progress("stopping %s", em.Name)
	harness.StopServe(em, b.res.note)
}
