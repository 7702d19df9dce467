// Package serve is the wiring of ember serve: it opens the store, the code
// cache and the sandboxes, starts the invoke service and its event queue,
// and serves the Lambda API over HTTP until its context ends; then it stops
// them all, in the reverse order. cmd/ember builds a Config from flags;
// tests call Run in their own process, on port 0.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/emberfn/ember/internal/api"
	"github.com/emberfn/ember/internal/billing"
	"github.com/emberfn/ember/internal/codecache"
	"github.com/emberfn/ember/internal/environment"
	"github.com/emberfn/ember/internal/image"
	"github.com/emberfn/ember/internal/invoke"
	"github.com/emberfn/ember/internal/invokewire"
	"github.com/emberfn/ember/internal/isolation"
	"github.com/emberfn/ember/internal/logstore"
	"github.com/emberfn/ember/internal/metrics"
	"github.com/emberfn/ember/internal/runtimes"
	"github.com/emberfn/ember/internal/sigv4"
	"github.com/emberfn/ember/internal/store"
	"github.com/emberfn/ember/internal/usage"
)

// shutdownGrace is how long requests in flight are given to finish once
// Run's context ends.
const shutdownGrace = 30 * time.Second

// Config is what ember serve runs with. Zero figures take the defaults of
// the packages below (the account's 1000 concurrent executions, a 10
// minute idle timeout, Lambda's prices and retry delays).
type Config struct {
	// Address is where the Lambda API listens: host:port, port 0 for any.
	Address string
	// DataDir holds ember's state: functions, code, queued events.
	DataDir string
	// NATSURL is an external NATS server with JetStream to keep the state
	// in; empty embeds one, without a listener, under DataDir.
	NATSURL string
	// Region and AccountID go into ARNs.
	Region, AccountID string
	// Keys are the access keys whose signatures requests must carry; nil
	// accepts unsigned requests (on loopback only: the caller decides).
	Keys sigv4.Keys
	// AllowLocalCode lets a function's code be a path on this machine
	// (S3Bucket "ember-local"): for a server that only this machine
	// reaches.
	AllowLocalCode bool
	// MaxConcurrency is the account's concurrency limit.
	MaxConcurrency int
	// IdleTimeout is how long an idle environment lives.
	IdleTimeout time.Duration
	// PreparedSandboxes is how many sandboxes each function version keeps
	// built ahead for cold starts.
	PreparedSandboxes int
	// StartedSandboxes is how many sandboxes are kept started ahead for
	// any function.
	StartedSandboxes int
	// NoSandbox runs functions as plain processes: no isolation, no
	// limits. Without root or Linux they run so anyway, with a warning.
	NoSandbox bool
	// Record keeps a record of each invocation and counts it in the
	// metrics.
	Record bool
	// Prices are Lambda's prices; zero is ember's table.
	Prices billing.Prices
	// RetryDelays are the waits before the retries of an asynchronous
	// event whose function failed; nil is Lambda's.
	RetryDelays []time.Duration
	// StreamBandwidth is how fast streamed responses are sent; the zero
	// value is Lambda's cap.
	StreamBandwidth invokewire.Bandwidth
	// Log is ember's log; nil discards it.
	Log *slog.Logger
	// Ready, if set, is called with the address the Lambda API listens
	// on, once it accepts connections.
	Ready func(net.Addr)
}

// Run serves the Lambda API with cfg until ctx ends, then shuts the server
// down, giving requests in flight up to 30 s, and releases everything it
// opened. It returns nil after a shutdown that ctx asked for.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Address, err)
	}
	defer l.Close()

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, err := store.Open(ctx, store.Options{DataDir: filepath.Join(cfg.DataDir, "nats"), URL: cfg.NATSURL, Log: log})
	if err != nil {
		return fmt.Errorf("open the store: %w", err)
	}
	defer st.Close()
	code, err := codecache.New(filepath.Join(cfg.DataDir, "code"))
	if err != nil {
		return err
	}
	images, err := image.Open(filepath.Join(cfg.DataDir, "images"), image.Options{Log: log})
	if err != nil {
		return fmt.Errorf("open the images: %w", err)
	}
	iso, release, err := isolation.Setup(log, cfg.NoSandbox, 1, cfg.StartedSandboxes)
	if err != nil {
		return err
	}
	defer func() {
		if err := release(); err != nil {
			log.Warn("release the sandboxes", "err", err)
		}
	}()
	runtimeDir := filepath.Join(cfg.DataDir, "runtime")
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
	if cfg.Record {
		records, counters = usage.New(usage.Options{}), metrics.New()
	}
	svc := invoke.New(invoke.Options{
		Store:              st,
		Code:               code,
		Images:             images,
		Logs:               logs,
		Runtimes:           registry,
		RuntimeDir:         runtimeDir,
		Environment:        environment.Options{Log: log, Isolation: iso},
		Region:             cfg.Region,
		AccountID:          cfg.AccountID,
		AccountConcurrency: cfg.MaxConcurrency,
		IdleTimeout:        cfg.IdleTimeout,
		Spares:             cfg.PreparedSandboxes,
		RetryDelays:        cfg.RetryDelays,
		Usage:              records,
		Metrics:            counters,
		Prices:             cfg.Prices,
		Log:                log,
	})
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
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
			Store: st, Invoke: svc, Logs: logs, Runtimes: registry, Images: images,
			Usage: records, Metrics: counters, Prices: cfg.Prices,
			Region: cfg.Region, AccountID: cfg.AccountID, Keys: cfg.Keys,
			AccountConcurrency: cfg.MaxConcurrency, AllowLocalCode: cfg.AllowLocalCode,
			StreamBandwidth: cfg.StreamBandwidth, URLPort: urlPort(l.Addr()), Log: log,
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

	log.Info("ember serve listening", "address", l.Addr().String(), "data_dir", cfg.DataDir, "signed_requests", cfg.Keys != nil)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	if cfg.Ready != nil {
		cfg.Ready(l.Addr())
	}
	select {
	case err = <-served:
	case <-ctx.Done():
		log.Info("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		err = srv.Shutdown(shutdownCtx)
		cancel()
		// Serve has returned ErrServerClosed by now; its goroutine ends.
		<-served
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// urlPort is the port of the listener, which function URLs' addresses
// name: they are served by the same server, told apart by their Host.
func urlPort(a net.Addr) string {
	_, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return ""
	}
	return port
}
