package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/emberfn/ember/internal/client"
	"github.com/emberfn/ember/internal/codezip"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/sigv4"
)

// clientFlags are the flags of every command that talks to ember serve.
type clientFlags struct {
	endpoint *string
	region   *string
}

func addClientFlags(fs *flag.FlagSet, env map[string]string) clientFlags {
	endpoint := env["EMBER_ENDPOINT"]
	if endpoint == "" {
		endpoint = "http://" + serveDefaultAddr
	}
	region := env["AWS_REGION"]
	if region == "" {
		region = function.DefaultRegion
	}
	return clientFlags{
		endpoint: fs.String("endpoint", endpoint, "ember serve's Lambda API (or $EMBER_ENDPOINT)"),
		region:   fs.String("region", region, "region to sign requests for"),
	}
}

// client returns the API client; requests are signed when the
// environment holds AWS access keys, as the AWS CLI's are.
func (f clientFlags) client(env map[string]string) *client.Client {
	o := client.Options{Endpoint: *f.endpoint, Region: *f.region}
	if id, secret := env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]; id != "" && secret != "" {
		o.Credentials = &sigv4.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: env["AWS_SESSION_TOKEN"]}
	}
	return client.New(o)
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// clientCommand runs deploy, invoke, logs, ls and rm against ember serve.
func clientCommand(ctx context.Context, cmd string, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	env := envMap(environ)
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addClientFlags(fs, env)
	var run func(c *client.Client, args []string) error
	var usageLine string
	switch cmd {
	case "image":
		usageLine, run = imageCommand(ctx, fs, stdout)
	case "url":
		usageLine = "ember url NAME [flags]: print the function URL of NAME (its $LATEST or --qualifier alias), making it when it has none"
		qualifier := fs.String("qualifier", "", "an alias; default $LATEST")
		authType := fs.String("auth-type", "NONE", "for a new URL: NONE, or AWS_IAM (requests signed with SigV4)")
		stream := fs.Bool("stream", false, "for a new URL: InvokeMode RESPONSE_STREAM, the response relayed as the function writes it")
		run = func(c *client.Client, args []string) error {
			if len(args) != 1 {
				return &usageError{"url needs NAME"}
			}
			cfg, err := c.FunctionURL(ctx, args[0], *qualifier)
			var ae *client.APIError
			if errors.As(err, &ae) && ae.Code == "ResourceNotFoundException" {
				mode := "BUFFERED"
				if *stream {
					mode = "RESPONSE_STREAM"
				}
				cfg, err = c.CreateFunctionURL(ctx, args[0], *qualifier, *authType, mode)
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, cfg.FunctionURL)
			return nil
		}
	case "deploy":
		usageLine = "ember deploy NAME PATH [flags] | NAME --image REF [flags]: create or update the function NAME from a directory or .zip file, or a container image"
		imageRef := fs.String("image", "", "a container image the server holds or can pull, instead of PATH")
		runtime := fs.String("runtime", "provided.al2023", "the function's runtime")
		handler := fs.String("handler", "", "the function's handler")
		memory := fs.Int("memory", 0, "memory in MB (default 128 for a new function, else unchanged)")
		timeout := fs.Int("timeout", 0, "timeout in seconds (default 3 for a new function, else unchanged)")
		tmp := fs.Int("ephemeral-storage", 0, "size of /tmp in MB (default 512 for a new function, else unchanged)")
		role := fs.String("role", "arn:aws:iam::"+function.DefaultAccountID+":role/ember-function", "the function's execution role")
		publish := fs.Bool("publish", false, "publish a version")
		var envs, layers multiFlag
		fs.Var(&envs, "env", "an environment variable K=V (repeatable; replaces all of them when given)")
		fs.Var(&layers, "layer", "a layer version ARN, merged into /opt in the order given (repeatable, at most 5; replaces all of them when given)")
		run = func(c *client.Client, args []string) error {
			if *imageRef == "" && len(args) != 2 {
				return &usageError{"deploy needs NAME and PATH, or NAME and --image REF"}
			}
			if *imageRef != "" && len(args) != 1 {
				return &usageError{"deploy --image REF needs NAME and no PATH"}
			}
			vars, err := parseEnv(envs)
			if err != nil {
				return err
			}
			o := deployOptions{
				runtime: *runtime, handler: *handler, role: *role, memory: *memory, timeout: *timeout,
				tmp: *tmp, env: vars, publish: *publish, layers: layers, image: *imageRef,
			}
			var zip []byte
			if o.image == "" {
				if zip, err = readCode(args[1]); err != nil {
					return err
				}
			}
			return deploy(ctx, c, stdout, args[0], zip, o)
		}
	case "invoke":
		usageLine = "ember invoke NAME [flags]: invoke a function; its response on stdout, its REPORT on stderr"
		payload := fs.String("payload", "", "the event, as JSON")
		event := fs.String("event", "", "a file holding the event ('-': standard input)")
		async := fs.Bool("async", false, "invoke asynchronously (Event): the event is queued and the call returns")
		qualifier := fs.String("qualifier", "", "version or alias to invoke")
		run = func(c *client.Client, args []string) error {
			if len(args) != 1 {
				return &usageError{"invoke needs NAME"}
			}
			body := []byte(*payload)
			if *event != "" {
				if *payload != "" {
					return &usageError{"give --payload or --event, not both"}
				}
				var err error
				if body, err = readEvent(*event, stdin); err != nil {
					return err
				}
			}
			return invokeFunction(ctx, c, stdout, stderr, client.InvokeInput{
				FunctionName: args[0], Qualifier: *qualifier, Payload: body,
				InvocationType: map[bool]string{true: "Event", false: "RequestResponse"}[*async],
				LogTail:        !*async,
			})
		}
	case "logs":
		usageLine = "ember logs NAME [flags]: print the function's log lines"
		follow := fs.Bool("f", false, "follow: keep printing new lines")
		since := fs.Duration("since", 0, "only lines of the last DURATION (default: every line kept)")
		run = func(c *client.Client, args []string) error {
			if len(args) != 1 {
				return &usageError{"logs needs NAME"}
			}
			var from time.Time
			if *since > 0 {
				from = time.Now().Add(-*since)
			}
			err := c.Logs(ctx, args[0], from, *follow, stdout)
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
	case "ls":
		usageLine = "ember ls: list the functions"
		run = func(c *client.Client, args []string) error {
			if len(args) != 0 {
				return &usageError{"ls takes no arguments"}
			}
			fns, err := c.ListFunctions(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tRUNTIME\tMEMORY\tTIMEOUT\tCODE SIZE\tLAST MODIFIED")
			for _, f := range fns {
				fmt.Fprintf(tw, "%s\t%s\t%d MB\t%d s\t%d\t%s\n", f.FunctionName, f.Runtime, f.MemorySize, f.Timeout, f.CodeSize, f.LastModified)
			}
			return tw.Flush()
		}
	case "layer":
		usageLine = "ember layer publish NAME PATH [flags]: publish a layer version from a directory or .zip file"
		description := fs.String("description", "", "the layer version's description")
		var compatible multiFlag
		fs.Var(&compatible, "compatible-runtime", "a runtime the layer is for (repeatable)")
		run = func(c *client.Client, args []string) error {
			if len(args) != 3 || args[0] != "publish" {
				return &usageError{"usage: ember layer publish NAME PATH"}
			}
			zip, err := readCode(args[2])
			if err != nil {
				return err
			}
			lv, err := c.PublishLayerVersion(ctx, client.PublishLayerInput{
				LayerName: args[1], Description: *description, ZipFile: zip, CompatibleRuntimes: compatible,
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, lv.LayerVersionArn)
			return nil
		}
	case "cost":
		usageLine = "ember cost [NAME] [flags]: invocations, GB-seconds and cost per function, at Lambda's prices"
		since := fs.Duration("since", 0, "only invocations of the last DURATION (default: every one kept)")
		each := fs.Bool("invocations", false, "list each invocation instead of the totals")
		run = func(c *client.Client, args []string) error {
			if len(args) > 1 {
				return &usageError{"cost takes at most one NAME"}
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			if *each {
				recs, err := c.Invocations(ctx, name, *since)
				if err != nil {
					return err
				}
				return printInvocations(stdout, recs)
			}
			cost, err := c.Cost(ctx, name, *since)
			if err != nil {
				return err
			}
			return printCost(stdout, cost)
		}
	case "rm":
		usageLine = "ember rm NAME: delete the function with its versions and aliases"
		run = func(c *client.Client, args []string) error {
			if len(args) != 1 {
				return &usageError{"rm needs NAME"}
			}
			if err := c.DeleteFunction(ctx, args[0], ""); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "deleted %s\n", args[0])
			return nil
		}
	}
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: "+usageLine)
		fs.PrintDefaults()
	}
	// Flags may follow the positional arguments, as in "deploy NAME PATH --memory 256".
	positional, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	return run(cf.client(env), positional)
}

type deployOptions struct {
	runtime, handler, role string
	memory, timeout, tmp   int
	env                    map[string]string
	publish                bool
	layers                 []string
	// image, when set, is the container image the function runs
	// instead of a zip.
	image string
}

// deploy creates the function, or updates the code and configuration of
// the one that exists.
func deploy(ctx context.Context, c *client.Client, stdout io.Writer, name string, zip []byte, o deployOptions) error {
	intp := func(v int) *int {
		if v == 0 {
			return nil
		}
		return &v
	}
	_, err := c.GetFunctionConfiguration(ctx, name, "")
	var ae *client.APIError
	var cfg client.FunctionConfiguration
	switch {
	case errors.As(err, &ae) && ae.Code == "ResourceNotFoundException":
		in := client.CreateFunctionInput{
			FunctionName: name, Runtime: o.runtime, Role: o.role, Handler: o.handler, ZipFile: zip,
			MemorySize: intp(o.memory), Timeout: intp(o.timeout), EphemeralStorageMB: intp(o.tmp),
			Environment: o.env, Publish: o.publish, Layers: o.layers,
		}
		if o.image != "" {
			// An image brings its own runtime and handler.
			in.ImageURI, in.Runtime, in.Handler = o.image, "", ""
		}
		if cfg, err = c.CreateFunction(ctx, in); err != nil {
			return err
		}
		if o.image != "" {
			fmt.Fprintf(stdout, "created %s (image %s, %d MB, %d s, digest %s)\n", cfg.FunctionName, o.image, cfg.MemorySize, cfg.Timeout, cfg.CodeSha256)
			break
		}
		fmt.Fprintf(stdout, "created %s (%s, %d MB, %d s, code %s)\n", cfg.FunctionName, cfg.Runtime, cfg.MemorySize, cfg.Timeout, cfg.CodeSha256)
	case err != nil:
		return err
	default:
		in := client.UpdateFunctionConfigurationInput{
			FunctionName: name, Runtime: &o.runtime, MemorySize: intp(o.memory), Timeout: intp(o.timeout),
			EphemeralStorageMB: intp(o.tmp), Environment: o.env, Layers: o.layers,
		}
		if o.handler != "" {
			in.Handler = &o.handler
		}
		if o.image != "" {
			in.Runtime, in.Handler = nil, nil
		}
		if _, err := c.UpdateFunctionConfiguration(ctx, in); err != nil {
			return err
		}
		if o.image != "" {
			cfg, err = c.UpdateFunctionImage(ctx, name, o.image, o.publish)
		} else {
			cfg, err = c.UpdateFunctionCode(ctx, name, zip, o.publish)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "updated %s (code %s)\n", cfg.FunctionName, cfg.CodeSha256)
	}
	if o.publish {
		fmt.Fprintf(stdout, "published version %s\n", cfg.Version)
	}
	return nil
}

// invokeFunction prints the response on stdout and the invocation's
// REPORT on stderr; a function error makes the command fail.
func invokeFunction(ctx context.Context, c *client.Client, stdout, stderr io.Writer, in client.InvokeInput) error {
	out, err := c.Invoke(ctx, in)
	if err != nil {
		return err
	}
	if in.InvocationType == "Event" {
		fmt.Fprintf(stderr, "accepted: request id %s\n", out.RequestID)
		return nil
	}
	stdout.Write(out.Payload)
	if len(out.Payload) > 0 && !bytes.HasSuffix(out.Payload, []byte("\n")) {
		fmt.Fprintln(stdout)
	}
	for _, line := range strings.Split(out.LogResult, "\n") {
		if strings.HasPrefix(line, "REPORT ") {
			fmt.Fprintln(stderr, line)
		}
	}
	if out.FunctionError != "" {
		return &exitError{code: 1}
	}
	return nil
}

// readCode reads a .zip file, or zips a directory.
func readCode(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return os.ReadFile(path)
	}
	var buf bytes.Buffer
	if err := codezip.Create(path, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func parseEnv(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, &usageError{fmt.Sprintf("--env %q is not K=V", kv)}
		}
		m[k] = v
	}
	return m, nil
}

// printCost writes ember cost's table.
func printCost(w io.Writer, cost client.Cost) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "FUNCTION\tVERSION\tINVOCATIONS\tERRORS\tTHROTTLES\tCOLD\tAVG DURATION\tGB-SECONDS\tCOST (USD)\tPER 1M (USD)\t")
	var total float64
	for _, f := range cost.Functions {
		total += f.CostUSD
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%.2f ms\t%.3f\t%.8f\t%.4f\t\n", f.Function, f.Version, f.Invocations, f.Errors,
			f.Throttles, f.ColdStarts, float64(f.AvgDuration)/float64(time.Millisecond), f.GBSeconds, f.CostUSD, f.PerMillionUSD)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "total %.8f USD at Lambda's %s prices of %s (requests and duration, init billed; free tier not applied)\n", total, cost.PricesRegion, cost.PricesTakenOn)
	return err
}

// printInvocations writes ember cost --invocations' table.
func printInvocations(w io.Writer, recs []client.InvocationRecord) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "START\tFUNCTION\tVERSION\tREQUEST ID\tOUTCOME\tSTART TYPE\tDURATION\tBILLED\tINIT\tMEMORY\tMAX USED\tCOST (USD)")
	for _, r := range recs {
		start, outcome := "warm", r.Outcome
		if r.Cold {
			start = "cold"
		}
		if r.ErrorType != "" {
			outcome += " (" + r.ErrorType + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.2f ms\t%d ms\t%.2f ms\t%d MB\t%d MB\t%.10f\n",
			r.Start.UTC().Format("2006-01-02T15:04:05.000Z"), r.Function, r.Version, r.RequestID, outcome, start,
			float64(r.Duration)/float64(time.Millisecond), r.BilledDuration.Milliseconds(),
			float64(r.InitDuration)/float64(time.Millisecond), r.MemoryMB, r.MaxMemoryUsedMB, r.CostUSD)
	}
	return tw.Flush()
}
