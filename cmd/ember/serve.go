package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emberfn/ember/internal/billing"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invokewire"
	"github.com/emberfn/ember/internal/serve"
	"github.com/emberfn/ember/internal/sigv4"
)

// serveDefaultAddr is where `sam local start-lambda` listens too.
const serveDefaultAddr = "127.0.0.1:3001"

// serveCommand serves the Lambda API with its state in NATS JetStream.
func serveCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := envMap(environ)
	addr := fs.String("address", serveDefaultAddr, "address of the Lambda API; beyond loopback every request must be signed (SigV4)")
	dataDir := fs.String("data-dir", defaultDataDir(env), "directory of ember's state: functions, code, queued events")
	natsURL := fs.String("nats", "", "URL of an external NATS server with JetStream to keep the state in (default: embedded, no listener)")
	region := fs.String("region", function.DefaultRegion, "region in ARNs")
	account := fs.String("account-id", function.DefaultAccountID, "account id in ARNs")
	credentials := fs.String("credentials", "", "AWS shared credentials file whose access keys may sign requests (required beyond loopback)")
	auth := fs.Bool("auth", false, "require signed requests on loopback too")
	logLevel := fs.String("log-level", "info", "ember's log level: debug, info, warn, error")
	maxConc := fs.Int("max-concurrency", 1000, "the account's concurrency limit: most environments running at once")
	idle := fs.Duration("idle-timeout", 10*time.Minute, "how long an idle environment lives")
	spares := fs.Int("prepared-sandboxes", 0, "sandboxes each function version keeps built ahead for cold starts")
	blanks := fs.Int("started-sandboxes", 1, startedSandboxesUsage)
	noSandbox := fs.Bool("no-sandbox", false, "run functions as plain processes: no isolation, no limits")
	record := fs.Bool("record", true, "keep a record of each invocation (ember cost) and count it in the metrics (/metrics)")
	pricesFile := fs.String("prices", "", "a JSON file of Lambda prices that override ember's table (see ember's README)")
	var bandwidth invokewire.Bandwidth
	fs.Var(&bandwidth, "stream-bandwidth", invokewire.BandwidthUsage)
	retries := fs.String("async-retry-delays", "1m,2m", "waits before the retries of an asynchronous event whose function failed (Lambda's: 1m,2m)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ember serve [flags]")
		fmt.Fprintln(stderr, "Serves the AWS Lambda API (2015-03-31) for the AWS CLI and SDKs (--endpoint-url http://"+serveDefaultAddr+").")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	retryDelays, err := parseDurations(*retries)
	if err != nil {
		return &usageError{"--async-retry-delays: " + err.Error()}
	}
	var keys sigv4.Keys
	loopback, err := isLoopbackAddr(*addr)
	if err != nil {
		return &usageError{err.Error()}
	}
	switch {
	case *credentials != "":
		km, err := sigv4.LoadCredentialsFile(*credentials)
		if err != nil {
			return err
		}
		if len(km) == 0 {
			return fmt.Errorf("%s holds no access keys", *credentials)
		}
		if *auth || !loopback {
			keys = km
		}
	case *auth || !loopback:
		return &usageError{"signed requests need access keys: give --credentials FILE (required when listening beyond loopback)"}
	}

	prices := billing.Default()
	if *pricesFile != "" {
		if prices, err = billing.Load(*pricesFile); err != nil {
			return err
		}
	}
	return serve.Run(ctx, serve.Config{
		Address:           *addr,
		DataDir:           *dataDir,
		NATSURL:           *natsURL,
		Region:            *region,
		AccountID:         *account,
		Keys:              keys,
		AllowLocalCode:    loopback,
		MaxConcurrency:    *maxConc,
		IdleTimeout:       *idle,
		PreparedSandboxes: *spares,
		StartedSandboxes:  *blanks,
		NoSandbox:         *noSandbox,
		Record:            *record,
		Prices:            prices,
		RetryDelays:       retryDelays,
		StreamBandwidth:   bandwidth,
		Log:               log,
		Ready: func(addr net.Addr) {
			fmt.Fprintf(stdout, "ember serve: Lambda API on http://%s\n", addr)
		},
	})
}

// defaultDataDir is $XDG_DATA_HOME/ember, or ~/.local/share/ember.
func defaultDataDir(env map[string]string) string {
	if d := env["XDG_DATA_HOME"]; d != "" {
		return filepath.Join(d, "ember")
	}
	if h := env["HOME"]; h != "" {
		return filepath.Join(h, ".local", "share", "ember")
	}
	return filepath.Join(os.TempDir(), "ember")
}

// isLoopbackAddr reports whether a listen address is on loopback only:
// "localhost" or a loopback IP; an empty host listens on every address.
func isLoopbackAddr(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("--address %q: %w", addr, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// parseDurations reads a comma-separated list of durations; "" is none.
func parseDurations(s string) ([]time.Duration, error) {
	ds := []time.Duration{}
	if s == "" {
		return ds, nil
	}
	for _, f := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%q is not a duration", f)
		}
		ds = append(ds, d)
	}
	return ds, nil
}
