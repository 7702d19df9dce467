package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/emberfn/ember/bench/internal/harness"
)

const (
	// memoryMB is every function's memory: in ember's sandbox, one vCPU.
	memoryMB = 1769
	// functionTimeout is every function's timeout, in seconds.
	functionTimeout = 10
	// benchRole is the execution role of every function; ember checks its
	// form only.
	benchRole = "arn:aws:iam::123456789012:role/ember-bench"
	// localBucket, as a function's S3Bucket, makes ember take its code from
	// the directory its S3Key names.
	localBucket = "ember-local"
	// zipRuntime is the zip function's runtime.
	zipRuntime = "provided.al2023"
	// event is the echo functions' payload.
	event = `{"bench":"ember images"}`
)

// The paths of the cold-start phase, and their functions.
const (
	pathZip   = "zip (" + zipRuntime + ")"
	pathImage = "image"
	fnZip     = "echo-zip"
	fnImage   = "echo-image"
)

// createZip creates the function name of the bootstrap in dir, as a zip
// function of zipRuntime.
func createZip(ctx context.Context, c *lambda.Client, name, dir string) error {
	_, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Role: aws.String(benchRole),
		Runtime: types.Runtime(zipRuntime), Handler: aws.String("bootstrap"),
		MemorySize: aws.Int32(memoryMB), Timeout: aws.Int32(functionTimeout),
		Code: &types.FunctionCode{S3Bucket: aws.String(localBucket), S3Key: aws.String(dir)},
	})
	if err != nil {
		return fmt.Errorf("CreateFunction %s: %w", name, err)
	}
	return nil
}

// createImage creates the function name of the image ref.
func createImage(ctx context.Context, c *lambda.Client, name, ref string) error {
	_, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Role: aws.String(benchRole), PackageType: types.PackageTypeImage,
		MemorySize: aws.Int32(memoryMB), Timeout: aws.Int32(functionTimeout),
		Code: &types.FunctionCode{ImageUri: aws.String(ref)},
	})
	if err != nil {
		return fmt.Errorf("CreateFunction %s: %w", name, err)
	}
	return nil
}

// coldPath is what the cold starts of one function came to.
type coldPath struct {
	path
	fn string
	// inits are the Init Durations of the cold starts; cold counts the
	// Invokes that were cold starts.
	inits harness.Samples
	cold  int
}

// cold measures cold starts of the echo function as a zip and as an
// image, alternated, each after ember's last environment has ended.
func (b *bench) cold(ctx context.Context) error {
	if _, err := b.ec().LoadImages(ctx, b.imgs.echo.tarball, ""); err != nil {
		return err
	}
	c := harness.NewLambdaClient(b.em.URL, b.hc)
	if err := createZip(ctx, c, fnZip, b.fnDir); err != nil {
		return err
	}
	if err := createImage(ctx, c, fnImage, echoRef); err != nil {
		return err
	}
	zip := &coldPath{path: path{name: pathZip}, fn: fnZip}
	img := &coldPath{path: path{name: pathImage}, fn: fnImage}
	// The first cold start of each function is not measured: it finds the
	// function's code and makes its pool.
	for _, p := range []*coldPath{zip, img} {
		if err := b.quiesce(ctx); err != nil {
			return err
		}
		a, err := invoke(ctx, b.hc, b.em.URL, p.fn, event)
		if err == nil && string(a.body) != event {
			err = fmt.Errorf("answered %q, not the event", harness.Clip(string(a.body), 200))
		}
		if err != nil {
			return fmt.Errorf("first Invoke of %s: %w", p.fn, err)
		}
		b.progress("first cold start of %s: %.1f ms", p.fn, harness.Millis(a.d))
	}

	var quiesceErr error
	turn := func(p *coldPath) func() {
		return func() {
			if quiesceErr != nil {
				return
			}
			if quiesceErr = b.quiesce(ctx); quiesceErr != nil {
				return
			}
			a, err := invoke(ctx, b.hc, b.em.URL, p.fn, event)
			if err == nil && string(a.body) != event {
				err = fmt.Errorf("answered %q, not the event", harness.Clip(string(a.body), 200))
			}
			if !p.tally.Record(err) || a.init == 0 {
				return
			}
			p.cold++
			p.lat.Lat = append(p.lat.Lat, a.d)
			p.inits.Lat = append(p.inits.Lat, a.init)
		}
	}
	b.progress("cold starts: %d of the echo function as a zip and as an image, alternated, each after ember's last environment ended", b.cfg.cold)
	start := time.Now()
	harness.Alternate(ctx, b.cfg.cold, turn(zip), turn(img))
	if err := ctx.Err(); err != nil {
		return err
	}
	if quiesceErr != nil {
		return quiesceErr
	}
	b.progress("cold starts done in %.1f s", time.Since(start).Seconds())

	for _, p := range []*coldPath{zip, img} {
		cold := p.cold
		b.res.addCheck(phaseCold, p.name, p.tally, &cold)
		if len(p.lat.Lat) == 0 {
			continue
		}
		b.res.add(idColdP50, phaseCold, p.name, "Invoke, request → response, p50", unitMillis, harness.Millis(p.lat.Percentile(50)))
		b.res.add(idColdP90, phaseCold, p.name, "Invoke, request → response, p90", unitMillis, harness.Millis(p.lat.Percentile(90)))
		b.res.add(idInitP50, phaseCold, p.name, "Init Duration p50 (REPORT)", unitMillis, harness.Millis(p.inits.Percentile(50)))
	}
	for _, f := range []string{fnZip, fnImage} {
		if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(f)}); err != nil {
			return fmt.Errorf("DeleteFunction %s: %w", f, err)
		}
	}
	return nil
}
