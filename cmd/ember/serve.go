package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emberfn/ember/internal/api"
	"github.com/emberfn/ember/internal/billing"
	"github.com/emberfn/ember/internal/codecache"
	"github.com/emberfn/ember/internal/environment"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invoke"
	"github.com/emberfn/ember/internal/logstore"
	"github.com/emberfn/ember/internal/metrics"
	"github.com/emberfn/ember/internal/runtimes"
	"github.com/emberfn/ember/internal/sigv4"
	"github.com/emberfn/ember/internal/store"
	"github.com/emberfn/ember/internal/usage"
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
	maxConc := fs.Int("max-concurrency", invoke.DefaultAccountConcurrency, "the account's concurrency limit: most environments running at once")
	idle := fs.Duration("idle-timeout", 10*time.Minute, "how long an idle environment lives")
	spares := fs.Int("prepared-sandboxes", 0, "sandboxes each function version keeps built ahead for cold starts")
	blanks := fs.Int("started-sandboxes", 1, startedSandboxesUsage)
	noSandbox := fs.Bool("no-sandbox", false, "run functions as plain processes: no isolation, no limits")
	record := fs.Bool("record", true, "keep a record of each invocation (ember cost) and count it in the metrics (/metrics)")
	pricesFile := fs.String("prices", "", "a JSON file of Lambda prices that override ember's table (see ember's README)")
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
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer l.Close()

	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, err := store.Open(ctx, store.Options{DataDir: filepath.Join(*dataDir, "nats"), URL: *natsURL, Log: log})
	if err != nil {
		return fmt.Errorf("open the store: %w", err)
	}
	defer st.Close()
	code, err := codecache.New(filepath.Join(*dataDir, "code"))
	if err != nil {
		return err
	}
	iso, release, err := isolation(log, *noSandbox, 1, *blanks)
	if err != nil {
		return err
	}
	defer release()
	runtimeDir := filepath.Join(*dataDir, "runtime")
	if err := os.RemoveAll(runtimeDir); err != nil {
		return err
	}
	if err := runtimes.Install(runtimeDir); err != nil {
		return fmt.Errorf("install the runtime clients: %w", err)
	}
	registry := runtimes.NewRegistry()
	logs := logstore.New(logstore.Options{})
	var records *usage.Store
	var counters *metrics.Registry
	if *record {
		records, counters = usage.New(usage.Options{}), metrics.New()
	}
	svc := invoke.New(invoke.Options{
		Store:              st,
		Code:               code,
		Logs:               logs,
		Runtimes:           registry,
		RuntimeDir:         runtimeDir,
		Environment:        environment.Options{Log: log, Isolation: iso},
		Region:             *region,
		AccountID:          *account,
		AccountConcurrency: *maxConc,
		IdleTimeout:        *idle,
		Spares:             *spares,
		RetryDelays:        retryDelays,
		Usage:              records,
		Metrics:            counters,
		Prices:             prices,
		Log:                log,
	})
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := svc.Close(closeCtx); err != nil {
			log.Warn("shut down the environments", "err", err)
		}
	}()
	if err := svc.Ready(ctx); err != nil {
		return fmt.Errorf("load the functions: %w", err)
	}
	srv := &http.Server{
		Handler: api.New(api.Options{
			Store: st, Invoke: svc, Logs: logs, Runtimes: registry,
			Usage: records, Metrics: counters, Prices: prices,
			Region: *region, AccountID: *account, Keys: keys,
			AccountConcurrency: *maxConc, AllowLocalCode: loopback, Log: log,
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}

	runCtx, stopEvents := context.WithCancel(context.Background())
	var events sync.WaitGroup
	events.Add(1)
	go func() {
		defer events.Done()
		if err := svc.RunEvents(runCtx); err != nil && runCtx.Err() == nil {
			log.Error("the event queue stopped", "err", err)
		}
	}()
	defer func() {
		stopEvents()
		events.Wait()
	}()

	log.Info("ember serve listening", "address", l.Addr().String(), "data_dir", *dataDir, "signed_requests", keys != nil)
	fmt.Fprintf(stdout, "ember serve: Lambda API on http://%s\n", l.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		log.Info("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = srv.Shutdown(shutdownCtx)
		cancel()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
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
