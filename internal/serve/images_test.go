package serve

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/emberfn/ember/internal/client"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/image/imagetest"
	"github.com/emberfn/ember/internal/testenv"
	"github.com/emberfn/ember/internal/testfunc"
)

// envdumpImage is the envdump test function as a container image laid
// out as Lambda's provided base images are: the runtime at
// /var/runtime/bootstrap, the handler as CMD, the code directory the
// working directory, and ENV of its own.
func envdumpImage(t *testing.T) v1.Image {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join(testfunc.Build(t, "envdump"), "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	base := imagetest.Layer(t,
		imagetest.Dir("var/", 0o755), imagetest.Dir("var/runtime/", 0o755), imagetest.Dir("var/task/", 0o755),
		imagetest.File{Name: "var/runtime/bootstrap", Body: string(bin), Mode: 0o755},
		imagetest.File{Name: "var/task/data.txt", Body: "from the image", Mode: 0o644},
	)
	return imagetest.Image(t, v1.Config{
		Entrypoint: []string{"/var/runtime/bootstrap"},
		Cmd:        []string{"app.handler"},
		WorkingDir: "/var/task",
		Env:        []string{"FROM_IMAGE=yes", "SHARED=image", "PATH=/image/bin:/usr/bin", "AWS_REGION=image-region"},
	}, "x86_64", base)
}

// invokeEnv invokes an envdump function and returns the environment it
// saw.
func invokeEnv(ctx context.Context, t *testing.T, c *lambda.Client, name string) map[string]string {
	t.Helper()
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{}`)})
	if err != nil {
		t.Fatalf("Invoke %s: %v", name, err)
	}
	if out.FunctionError != nil {
		t.Fatalf("Invoke %s: function error %s: %s", name, aws.ToString(out.FunctionError), out.Payload)
	}
	var env map[string]string
	if err := json.Unmarshal(out.Payload, &env); err != nil {
		t.Fatalf("Invoke %s: %v: %s", name, err, out.Payload)
	}
	return env
}

// TestImageFunctionUnderSDK: an image loaded through ember's API is
// created, read, invoked, reconfigured and updated through the AWS SDK
// as on Lambda, and the image it runs cannot be removed while it does.
func TestImageFunctionUnderSDK(t *testing.T) {
	testenv.Root(t, "container-image functions run in ember's sandbox")
	url := start(t, Config{Region: function.DefaultRegion, AccountID: function.DefaultAccountID, AllowLocalCode: true, IdleTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := sdkClient(url)
	ec := client.New(client.Options{Endpoint: url})

	img := envdumpImage(t)
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := ec.LoadImages(ctx, imagetest.WriteLayout(t, map[string]v1.Image{"envdump:v1": img}), "")
	if err != nil {
		t.Fatalf("LoadImages: %v", err)
	}
	if len(loaded) != 1 || loaded[0].Digest != digest.String() {
		t.Fatalf("LoadImages answered %+v; want one image %s", loaded, digest)
	}

	created, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("img"), Role: aws.String(testRole), PackageType: types.PackageTypeImage,
		Code:        &types.FunctionCode{ImageUri: aws.String("envdump:v1")},
		Environment: &types.Environment{Variables: map[string]string{"SHARED": "function"}},
	})
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	if created.PackageType != types.PackageTypeImage || aws.ToString(created.CodeSha256) != digest.Hex ||
		created.Runtime != "" || aws.ToString(created.Handler) != "" || created.ImageConfigResponse != nil {
		t.Errorf("CreateFunction answered package %q, CodeSha256 %q (want %s), runtime %q, handler %q, image config %+v",
			created.PackageType, aws.ToString(created.CodeSha256), digest.Hex, created.Runtime, aws.ToString(created.Handler), created.ImageConfigResponse)
	}
	got, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("img")})
	if err != nil {
		t.Fatalf("GetFunction: %v", err)
	}
	if aws.ToString(got.Code.RepositoryType) != "ECR" || aws.ToString(got.Code.ImageUri) != "envdump:v1" ||
		!strings.HasSuffix(aws.ToString(got.Code.ResolvedImageUri), "/envdump@"+digest.String()) || got.Code.Location != nil {
		t.Errorf("GetFunction's Code: type %q, image %q, resolved %q, location %q", aws.ToString(got.Code.RepositoryType),
			aws.ToString(got.Code.ImageUri), aws.ToString(got.Code.ResolvedImageUri), aws.ToString(got.Code.Location))
	}

	// The image's ENV under the function's variables, both under
	// Lambda's reserved ones; the handler is CMD's first word.
	env := invokeEnv(ctx, t, c, "img")
	for k, want := range map[string]string{
		"FROM_IMAGE": "yes", "SHARED": "function", "PATH": "/image/bin:/usr/bin", "AWS_REGION": function.DefaultRegion,
		"_HANDLER": "app.handler", "_cwd": "/var/task", "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "LAMBDA_TASK_ROOT": "/var/task",
	} {
		if env[k] != want {
			t.Errorf("the function saw %s=%q; want %q", k, env[k], want)
		}
	}

	// ImageConfig overrides CMD and WORKDIR.
	upd, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("img"),
		ImageConfig:  &types.ImageConfig{Command: []string{"other.handler"}, WorkingDirectory: aws.String("/tmp")},
	})
	if err != nil {
		t.Fatalf("UpdateFunctionConfiguration: %v", err)
	}
	if upd.ImageConfigResponse == nil || upd.ImageConfigResponse.ImageConfig == nil ||
		strings.Join(upd.ImageConfigResponse.ImageConfig.Command, " ") != "other.handler" ||
		aws.ToString(upd.ImageConfigResponse.ImageConfig.WorkingDirectory) != "/tmp" {
		t.Errorf("UpdateFunctionConfiguration answered image config %+v", upd.ImageConfigResponse)
	}
	env = invokeEnv(ctx, t, c, "img")
	if env["_HANDLER"] != "other.handler" || env["_cwd"] != "/tmp" {
		t.Errorf("after ImageConfig the function saw _HANDLER=%q, cwd %q; want other.handler, /tmp", env["_HANDLER"], env["_cwd"])
	}

	// A zip for an image function, and an unknown image, are refused as
	// Lambda refuses them.
	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("img"), ZipFile: zipped(t, "echo")})
	var invalid *types.InvalidParameterValueException
	if !errors.As(err, &invalid) || !strings.Contains(aws.ToString(invalid.Message), "Please provide ImageUri when updating a function with packageType Image.") {
		t.Errorf("UpdateFunctionCode with a zip on an image function: %v", err)
	}
	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("nope"), Role: aws.String(testRole), PackageType: types.PackageTypeImage,
		Code: &types.FunctionCode{ImageUri: aws.String("127.0.0.1:1/missing:v1")},
	})
	if !errors.As(err, &invalid) || !strings.Contains(aws.ToString(invalid.Message), "Source image 127.0.0.1:1/missing:v1 does not exist.") {
		t.Errorf("CreateFunction of a missing image: %v", err)
	}

	// The image in use cannot be removed; once its function is gone it can.
	if err := ec.RemoveImage(ctx, "envdump:v1"); err == nil || !strings.Contains(err.Error(), "ResourceConflictException") {
		t.Errorf("RemoveImage of an image in use: %v; want ResourceConflictException", err)
	}
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("img")}); err != nil {
		t.Fatal(err)
	}
	if err := ec.RemoveImage(ctx, "envdump:v1"); err != nil {
		t.Errorf("RemoveImage of an image no function uses: %v", err)
	}
	imgs, err := ec.Images(ctx)
	if err != nil || len(imgs) != 0 {
		t.Errorf("Images after RemoveImage: %+v, %v; want none", imgs, err)
	}
}
