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
	"strconv"
	"time"

	"github.com/emberfn/ember/internal/environment"
	"github.com/emberfn/ember/internal/envpool"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invoke"
	"github.com/emberfn/ember/internal/invokewire"
	"github.com/emberfn/ember/internal/isolation"
	"github.com/emberfn/ember/internal/rie"
)

// Defaults of AWS's runtime interface emulator.
const (
	rieDefaultTimeout = 300 * time.Second
	rieDefaultMemory  = 3008
	rieDefaultName    = "test_function"
	rieAccountID      = "012345678912"
)

// rieCommand serves the emulator's endpoint. asRIE is true when the binary
// was started as aws-lambda-rie: it then listens where AWS's emulator does,
// on every address of the container it runs in.
func rieCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer, asRIE bool) error {
	fs := flag.NewFlagSet("rie", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultAddr := "127.0.0.1:8080"
	if asRIE {
		defaultAddr = "0.0.0.0:8080"
	}
	addr := fs.String("runtime-interface-emulator-address", defaultAddr, "address of the invoke endpoint")
	apiAddr := fs.String("runtime-api-address", "127.0.0.1:9001", "address of the first environment's Runtime API (more environments take free ports)")
	logLevel := fs.String("log-level", "info", "ember's log level: debug, info, warn, error")
	maxConc := fs.Int("max-concurrency", invoke.DefaultAccountConcurrency, "most environments running at once; past it invocations are throttled (429)")
	queue := fs.Duration("queue-timeout", 0, "how long an invocation waits for an environment at the limit before a 429 (0: none)")
	idle := fs.Duration("idle-timeout", 10*time.Minute, "how long an idle environment lives")
	spares := fs.Int("prepared-sandboxes", 1, "sandboxes kept built ahead for cold starts")
	blanks := fs.Int("started-sandboxes", 1, startedSandboxesUsage)
	sandboxed := addSandboxFlags(fs)
	defaultOpt := ""
	if asRIE {
		// Inside a container, as AWS's emulator: the image's /opt, with
		// its extensions.
		defaultOpt = environment.OptDir
	}
	optDir := fs.String("opt", defaultOpt, "directory the function sees as /opt: its layers, and external extensions in extensions/ that start with the runtime")
	var bandwidth invokewire.Bandwidth
	fs.Var(&bandwidth, "stream-bandwidth", invokewire.BandwidthUsage)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ember rie [flags] [BOOTSTRAP [ARGS...] [HANDLER]]")
		fmt.Fprintln(stderr, "Serves POST /2015-03-31/functions/function/invocations, as aws-lambda-rie does.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &usageError{err.Error()}
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	env := envMap(environ)
	fn, err := rieFunction(fs.Args(), env)
	if err != nil {
		return err
	}
	if *optDir != "" {
		if fn.OptDir, err = filepath.Abs(*optDir); err != nil {
			return fmt.Errorf("--opt %s: %w", *optDir, err)
		}
	}
	if err := sandboxed.apply(&fn); err != nil {
		return err
	}
	iso, release, err := isolation.Setup(log, *sandboxed.noSandbox, 2, *blanks)
	if err != nil {
		return err
	}
	defer func() {
		if err := release(); err != nil {
			log.Warn("release the sandboxes", "err", err)
		}
	}()
	pool := envpool.New(envpool.Options{
		Environment: environment.Options{
			Function:       fn,
			Logs:           stdout,
			Log:            log,
			RuntimeAPIAddr: *apiAddr,
			BaseEnv:        env,
			Isolation:      iso,
		},
		IdleTimeout: *idle,
		Spares:      *spares,
	})
	limited := invoke.NewLimited(invoke.NewLimiter(invoke.LimiterOptions{Account: *maxConc, QueueTimeout: *queue}), fn.Name, pool)
	handler := rie.New(fn, limited, bandwidth, log)

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return errors.Join(fmt.Errorf("listen on %s: %w", *addr, err), pool.Close(context.Background()))
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	log.Info("ember rie listening", "address", l.Addr().String(), "function", fn.Name, "command", fn.Command)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		log.Info("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), fn.Timeout+5*time.Second)
		err = srv.Shutdown(shutdownCtx)
		cancel()
	}
	handler.Wait()
	limited.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if cerr := pool.Close(closeCtx); cerr != nil {
		log.Warn("shut down the environments", "err", cerr)
		err = errors.Join(err, cerr)
	}
	return err
}

// rieFunction reads the function's configuration the way AWS's emulator
// does: the bootstrap command and handler from the arguments, the code
// directory from LAMBDA_TASK_ROOT, the rest from AWS_LAMBDA_* variables.
func rieFunction(args []string, env map[string]string) (function.Config, error) {
	fn := function.Config{
		Name:      rieDefaultName,
		Version:   function.LatestVersion,
		AccountID: rieAccountID,
		Region:    function.DefaultRegion,
		MemoryMB:  rieDefaultMemory,
		Timeout:   rieDefaultTimeout,
		Handler:   env["_HANDLER"],
	}
	if v := env["AWS_LAMBDA_FUNCTION_NAME"]; v != "" {
		fn.Name = v
	}
	if v := env["AWS_LAMBDA_FUNCTION_VERSION"]; v != "" {
		fn.Version = v
	}
	if v := env["AWS_REGION"]; v != "" {
		fn.Region = v
	} else if v := env["AWS_DEFAULT_REGION"]; v != "" {
		fn.Region = v
	}
	if v := env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]; v != "" {
		mb, err := strconv.Atoi(v)
		if err != nil || mb <= 0 {
			return fn, &usageError{fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%q is not a size in MB", v)}
		}
		fn.MemoryMB = mb
	}
	if v := env["AWS_LAMBDA_FUNCTION_TIMEOUT"]; v != "" {
		s, err := strconv.Atoi(v)
		if err != nil || s <= 0 {
			return fn, &usageError{fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%q is not a number of seconds", v)}
		}
		fn.Timeout = time.Duration(s) * time.Second
	}
	// The code directory is the one LAMBDA_TASK_ROOT names, as Lambda's
	// images set it and as a shell started outside a container may; else
	// /var/task when no command is given, else the working directory.
	taskRoot := env["LAMBDA_TASK_ROOT"]
	if taskRoot != "" {
		dir, err := filepath.Abs(taskRoot)
		if err != nil {
			return fn, fmt.Errorf("LAMBDA_TASK_ROOT=%q: %w", taskRoot, err)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fn, &usageError{fmt.Sprintf("LAMBDA_TASK_ROOT=%q is not a directory", taskRoot)}
		}
		fn.CodeDir = dir
	}
	switch {
	case len(args) == 0:
		if fn.CodeDir == "" {
			fn.CodeDir = environment.TaskRoot
		}
		codeBootstrap := filepath.Join(fn.CodeDir, "bootstrap")
		for _, candidate := range []string{codeBootstrap, "/opt/bootstrap", "/var/runtime/bootstrap"} {
			if st, err := os.Stat(candidate); err == nil && !st.IsDir() {
				fn.Command = []string{candidate}
				break
			}
		}
		if fn.Command == nil {
			return fn, fmt.Errorf("no bootstrap given and none found at %s, /opt/bootstrap or /var/runtime/bootstrap", codeBootstrap)
		}
	default:
		fn.Command = args
		if len(args) > 1 {
			fn.Handler = args[len(args)-1]
		}
		cmd, err := filepath.Abs(args[0])
		if err == nil && filepath.Base(args[0]) != args[0] {
			fn.Command = append([]string{cmd}, args[1:]...)
		}
		if fn.CodeDir == "" {
			wd, err := os.Getwd()
			if err != nil {
				return fn, fmt.Errorf("working directory: %w", err)
			}
			fn.CodeDir = wd
		}
	}
	if v := env["AWS_LAMBDA_FUNCTION_HANDLER"]; v != "" {
		fn.Handler = v
	}
	return fn, nil
}
