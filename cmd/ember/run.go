package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emberfn/ember/internal/codezip"
	"github.com/emberfn/ember/internal/environment"
	"github.com/emberfn/ember/internal/envpool"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/image"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/isolation"
	"github.com/emberfn/ember/internal/runtimes"
)

// maxUnzipped is Lambda's limit on a function's unpacked code.
const maxUnzipped = 250 * 1024 * 1024

// envFlags collects repeated --env K=V flags.
type envFlags map[string]string

func (e envFlags) String() string { return fmt.Sprint(map[string]string(e)) }

func (e envFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	e[k] = v
	return nil
}

// runCommand invokes the function in a directory or zip once, like
// `sam local invoke`: the response on stdout, the logs on stderr, and a
// non-zero exit status on a function error.
func runCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	event := fs.String("event", "", "file holding the event JSON, or - for standard input (default {})")
	memory := fs.Int("memory", function.DefaultMemoryMB, "memory size in MB (128–10240)")
	timeout := fs.Float64("timeout", function.DefaultTimeout.Seconds(), "timeout in seconds (1–900)")
	handler := fs.String("handler", "", "handler, passed to the runtime as _HANDLER")
	runtime := fs.String("runtime", "provided.al2023", "runtime name")
	name := fs.String("name", "", "function name (default: the directory or zip's base name)")
	logLevel := fs.String("log-level", "warn", "ember's own log level: debug, info, warn, error")
	imageRef := fs.String("image", "", "a container image to run instead of PATH: a docker-save tarball, an OCI image layout, or a reference held or pulled")
	arch := fs.String("arch", "x86_64", "architecture of the image: x86_64 or arm64")
	dataDir := fs.String("data-dir", defaultDataDir(envMap(os.Environ())), "directory whose images/ holds the images that --image loads or pulls")
	sandboxed := addSandboxFlags(fs)
	env := envFlags{}
	fs.Var(env, "env", "function variable KEY=VALUE (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ember run PATH [flags] | ember run --image REF [flags]")
		fmt.Fprintln(stderr, "Invokes the function in directory or zip PATH, or in a container image, once: response on stdout, logs on stderr.")
		fs.PrintDefaults()
	}
	// Flags may come before or after PATH.
	paths, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if *imageRef == "" && len(paths) != 1 || *imageRef != "" && len(paths) != 0 {
		fs.Usage()
		return &usageError{"run takes exactly one PATH, or --image REF"}
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	payload, err := readEvent(*event, stdin)
	if err != nil {
		return err
	}

	fn := function.Config{
		Name:     *name,
		Runtime:  *runtime,
		Handler:  *handler,
		MemoryMB: *memory,
		Timeout:  time.Duration(*timeout * float64(time.Second)),
		Env:      env,
	}
	if *imageRef != "" {
		if fn.Name == "" {
			fn.Name = "function"
		}
		fn.Runtime = ""
		if err := runImage(ctx, &fn, *imageRef, *arch, filepath.Join(*dataDir, "images"), log); err != nil {
			return err
		}
		if *handler != "" {
			fn.Handler = *handler
		}
	} else {
		codeDir, cleanup, err := codeDirectory(paths[0])
		if err != nil {
			return err
		}
		defer cleanup()
		fn.CodeDir = codeDir
		if fn.Name == "" {
			fn.Name = strings.TrimSuffix(filepath.Base(paths[0]), ".zip")
		}
	}
	fn = fn.WithDefaults()
	if err := sandboxed.apply(&fn); err != nil {
		return err
	}
	rt, err := runtimes.NewRegistry().Lookup(fn.Runtime)
	if err != nil {
		return err
	}
	if rt.Deprecated {
		log.Warn("the runtime is deprecated on Lambda", "runtime", rt.Name)
	}
	if rt.Family != runtimes.Provided && fn.Image == nil {
		dir, err := os.MkdirTemp("", "ember-runtime-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if err := runtimes.Install(dir); err != nil {
			return fmt.Errorf("install the runtime clients: %w", err)
		}
		rt.Configure(&fn, dir)
	}
	iso, release, err := isolation.Setup(log, *sandboxed.noSandbox, 0, 0)
	if err != nil {
		return err
	}
	defer func() {
		if err := release(); err != nil {
			log.Warn("release the sandboxes", "err", err)
		}
	}()

	pool := envpool.New(envpool.Options{
		Environment: environment.Options{Function: fn, Logs: stderr, Log: log, Isolation: iso},
	})
	defer func() {
		if cerr := pool.Close(context.Background()); cerr != nil {
			log.Warn("shut down the environment", "err", cerr)
		}
	}()
	req := invocation.Request{ID: invocation.NewRequestID(), Payload: payload, InvokedARN: fn.ARN()}
	reports := make(chan invocation.Report, 1)
	resp, err := pool.Invoke(ctx, req, func(r invocation.Report) { reports <- r })
	if err != nil {
		return err
	}
	if resp.Stream != nil {
		_, err = io.Copy(stdout, resp.Stream)
		resp.Stream.Close()
		if fe := resp.Stream.Err(); fe != nil {
			resp.FunctionError, resp.Payload = invocation.FunctionErrorUnhandled, fe.Body
			fmt.Fprintf(stdout, "\n%s", fe.Body)
		}
	} else {
		_, err = stdout.Write(resp.Payload)
	}
	fmt.Fprintln(stdout)
	<-reports
	if err != nil {
		return fmt.Errorf("write response: %w", err)
	}
	if resp.FunctionError != "" {
		return &exitError{code: 1}
	}
	return nil
}

// runImage gives fn the container image that ref names: a docker-save
// tarball or an OCI image layout on this machine, loaded, or a reference
// held in the images directory or else pulled from its registry with the
// user's Docker credentials.
func runImage(ctx context.Context, fn *function.Config, ref, arch, dir string, log *slog.Logger) error {
	images, err := image.Open(dir, image.Options{Log: log})
	if err != nil {
		return fmt.Errorf("open the images: %w", err)
	}
	var img image.Image
	if _, statErr := os.Stat(ref); statErr == nil {
		imgs, err := images.Load(ctx, ref, arch)
		if err != nil {
			return err
		}
		if len(imgs) != 1 {
			return fmt.Errorf("%s holds %d images for %s; load it with 'ember image load' and run one by its reference", ref, len(imgs), arch)
		}
		img = imgs[0]
	} else if img, err = images.Resolve(ref, arch); errors.Is(err, image.ErrNotFound) {
		if img, err = images.Pull(ctx, ref, image.PullOptions{Arch: arch}); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	fn.Image, fn.Handler, err = images.Function(img, image.Overrides{})
	return err
}

// readEvent reads the event from a file, from stdin for "-", or gives {}.
func readEvent(path string, stdin io.Reader) ([]byte, error) {
	var b []byte
	var err error
	switch path {
	case "":
		return []byte("{}"), nil
	case "-":
		b, err = io.ReadAll(io.LimitReader(stdin, invocation.MaxSyncRequest+1))
	default:
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read event: %w", err)
	}
	if len(b) > invocation.MaxSyncRequest {
		return nil, fmt.Errorf("event is larger than Lambda's %d-byte limit", invocation.MaxSyncRequest)
	}
	return b, nil
}

// codeDirectory returns the directory holding the function's code: path
// itself, or a temporary directory the zip at path is unpacked into.
func codeDirectory(path string) (string, func(), error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", nil, fmt.Errorf("function code: %w", err)
	}
	if st.IsDir() {
		abs, err := filepath.Abs(path)
		if err != nil {
			return "", nil, fmt.Errorf("function code: %w", err)
		}
		return abs, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "ember-run-")
	if err != nil {
		return "", nil, fmt.Errorf("unpack %s: %w", path, err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	// The function runs as an unprivileged user, who must reach its code.
	if err := os.Chmod(dir, 0o755); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("unpack %s: %w", path, err)
	}
	if _, err := codezip.Extract(path, dir, maxUnzipped); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("unpack %s: %w", path, err)
	}
	return dir, cleanup, nil
}
