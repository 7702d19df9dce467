package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// zipFiles makes a zip of name → content, and of entries that only
// declare their unzipped size (declared), without holding the bytes.
func zipFiles(t *testing.T, files map[string]string, declared map[string]uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	for name, size := range declared {
		if _, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Store, UncompressedSize64: size}); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestServeLayers(t *testing.T) {
	p := startServe(t, t.TempDir())
	c := sdkClient(p.url, testSecret)
	ctx := context.Background()
	publish := func(name string, zip []byte) *lambda.PublishLayerVersionOutput {
		t.Helper()
		out, err := c.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{
			LayerName: aws.String(name), Content: &types.LayerVersionContentInput{ZipFile: zip},
			CompatibleRuntimes: []types.Runtime{types.RuntimeProvidedal2023},
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a := publish("base", zipFiles(t, map[string]string{"data.txt": "a", "shared.txt": "from a", "bin/tool": "#!/bin/sh\n"}, nil))
	b := publish("override", zipFiles(t, map[string]string{"shared.txt": "from b"}, nil))
	if *a.LayerVersionArn != "arn:aws:lambda:us-east-1:123456789012:layer:base:1" || a.Version != 1 || *a.LayerArn != "arn:aws:lambda:us-east-1:123456789012:layer:base" {
		t.Errorf("PublishLayerVersion answered %+v", a)
	}
	a2 := publish("base", zipFiles(t, map[string]string{"data.txt": "a2"}, nil))
	if a2.Version != 2 {
		t.Errorf("second version of a layer: %d", a2.Version)
	}
	got, err := c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("base"), VersionNumber: aws.Int64(1)})
	if err != nil || *got.Content.CodeSha256 != *a.Content.CodeSha256 {
		t.Errorf("GetLayerVersion: %+v, %v", got, err)
	}
	byARN, err := c.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: b.LayerVersionArn})
	if err != nil || byARN.Version != 1 || *byARN.LayerVersionArn != *b.LayerVersionArn {
		t.Errorf("GetLayerVersionByArn: %+v, %v", byARN, err)
	}
	layers, err := c.ListLayers(ctx, &lambda.ListLayersInput{})
	if err != nil || len(layers.Layers) != 2 || *layers.Layers[0].LayerName != "base" || layers.Layers[0].LatestMatchingVersion.Version != 2 {
		t.Errorf("ListLayers: %+v, %v", layers, err)
	}
	versions, err := c.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: aws.String("base")})
	if err != nil || len(versions.LayerVersions) != 2 || versions.LayerVersions[0].Version != 2 {
		t.Errorf("ListLayerVersions: %+v, %v", versions, err)
	}

	// A function's layers are merged into /opt in order: the later wins.
	out, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("layered"), Role: aws.String(testRole), Runtime: types.RuntimeProvidedal2023,
		Code: &types.FunctionCode{ZipFile: zipFunction(t, "probe")}, Layers: []string{*a.LayerVersionArn, *b.LayerVersionArn},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Layers) != 2 || *out.Layers[0].Arn != *a.LayerVersionArn || out.Layers[0].CodeSize == 0 {
		t.Errorf("CreateFunction's Layers: %+v", out.Layers)
	}
	// Deleting a layer version leaves it to the functions that use it.
	if _, err := c.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: aws.String("base"), VersionNumber: aws.Int64(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("base"), VersionNumber: aws.Int64(1)}); apiErrorCode(err) != "ResourceNotFoundException" {
		t.Errorf("GetLayerVersion of a deleted version: %v", err)
	}
	if os.Geteuid() == 0 {
		read := func(path string) string {
			inv, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("layered"), Payload: []byte(`{"action":"read","path":"` + path + `"}`)})
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				OK   bool   `json:"ok"`
				Data string `json:"data"`
			}
			json.Unmarshal(inv.Payload, &r)
			return r.Data
		}
		if got := read("/opt/shared.txt"); got != "from b" {
			t.Errorf("/opt/shared.txt = %q; want the later layer's", got)
		}
		if got := read("/opt/data.txt"); got != "a" {
			t.Errorf("/opt/data.txt = %q; want the first layer's", got)
		}
	} else {
		t.Log("not root: functions run without a sandbox, whose /opt shows the layers; skipped reading them")
	}

	// Errors: a missing layer, more than 5, and code with layers past 250 MB.
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("layered"),
		Layers: []string{"arn:aws:lambda:us-east-1:123456789012:layer:nope:1"}})
	if apiErrorCode(err) != "InvalidParameterValueException" || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("a layer that does not exist: %v", err)
	}
	six := []string{}
	for range 6 {
		six = append(six, *b.LayerVersionArn)
	}
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("layered"), Layers: six})
	if code := apiErrorCode(err); code != "InvalidParameterValueException" {
		t.Errorf("six layers: %v", err)
	}
	big := publish("big", zipFiles(t, nil, map[string]uint64{"blob": 200 << 20}))
	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("toobig"), Role: aws.String(testRole), Runtime: types.RuntimeProvidedal2023,
		Code: &types.FunctionCode{ZipFile: zipFiles(t, nil, map[string]uint64{"bootstrap": 60 << 20})}, Layers: []string{*big.LayerVersionArn},
	})
	if apiErrorCode(err) != "InvalidParameterValueException" || !strings.Contains(err.Error(), "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes") {
		t.Errorf("code and layers past 250 MB: %v", err)
	}
}
