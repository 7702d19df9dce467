package client

import (
	"context"
	"fmt"
	"net/http"
)

const functionsPath = "/2015-03-31/functions"

// CreateFunctionInput is a new function from a zip package, or, with
// ImageURI, from a container image.
type CreateFunctionInput struct {
	FunctionName       string
	Runtime            string
	Role               string
	Handler            string
	Description        string
	ZipFile            []byte // the zip package; base64 on the wire
	MemorySize         *int   // MB
	Timeout            *int   // seconds
	Environment        map[string]string
	EphemeralStorageMB *int
	Architectures      []string
	Publish            bool
	Layers             []string // layer version ARNs
	// ImageURI names a container image the server holds or can pull;
	// the function's PackageType is then Image.
	ImageURI    string
	ImageConfig *ImageConfig
}

// The request bodies, in the model's shapes.
type (
	functionCode struct {
		ZipFile  []byte `json:"ZipFile,omitempty"`
		ImageURI string `json:"ImageUri,omitempty"`
	}
	environment struct {
		Variables map[string]string `json:"Variables"`
	}
	createFunctionRequest struct {
		FunctionName     string            `json:"FunctionName"`
		Runtime          string            `json:"Runtime,omitempty"`
		Role             string            `json:"Role,omitempty"`
		Handler          string            `json:"Handler,omitempty"`
		Description      string            `json:"Description,omitempty"`
		Code             functionCode      `json:"Code"`
		Timeout          *int              `json:"Timeout,omitempty"`
		MemorySize       *int              `json:"MemorySize,omitempty"`
		Publish          bool              `json:"Publish,omitempty"`
		Environment      *environment      `json:"Environment,omitempty"`
		EphemeralStorage *EphemeralStorage `json:"EphemeralStorage,omitempty"`
		Architectures    []string          `json:"Architectures,omitempty"`
		Layers           []string          `json:"Layers,omitempty"`
		PackageType      string            `json:"PackageType,omitempty"`
		ImageConfig      *ImageConfig      `json:"ImageConfig,omitempty"`
	}
	updateFunctionCodeRequest struct {
		ZipFile  []byte `json:"ZipFile,omitempty"`
		ImageURI string `json:"ImageUri,omitempty"`
		Publish  bool   `json:"Publish,omitempty"`
	}
	updateFunctionConfigurationRequest struct {
		Runtime          *string           `json:"Runtime,omitempty"`
		Handler          *string           `json:"Handler,omitempty"`
		Description      *string           `json:"Description,omitempty"`
		Timeout          *int              `json:"Timeout,omitempty"`
		MemorySize       *int              `json:"MemorySize,omitempty"`
		EphemeralStorage *EphemeralStorage `json:"EphemeralStorage,omitempty"`
		Environment      *environment      `json:"Environment,omitempty"`
		Layers           *[]string         `json:"Layers,omitempty"`
	}
	publishVersionRequest struct {
		Description string `json:"Description,omitempty"`
	}
	listFunctionsResponse struct {
		Functions  []FunctionConfiguration `json:"Functions"`
		NextMarker string                  `json:"NextMarker"`
	}
)

func envOf(vars map[string]string) *environment {
	if vars == nil {
		return nil
	}
	return &environment{Variables: vars}
}

func storageOf(mb *int) *EphemeralStorage {
	if mb == nil {
		return nil
	}
	return &EphemeralStorage{Size: *mb}
}

func qualifierQuery(q string) [][2]string {
	if q == "" {
		return nil
	}
	return [][2]string{{"Qualifier", q}}
}

// CreateFunction creates a function (POST /2015-03-31/functions, 201).
func (c *Client) CreateFunction(ctx context.Context, in CreateFunctionInput) (FunctionConfiguration, error) {
	body := createFunctionRequest{
		FunctionName:     in.FunctionName,
		Runtime:          in.Runtime,
		Role:             in.Role,
		Handler:          in.Handler,
		Description:      in.Description,
		Code:             functionCode{ZipFile: in.ZipFile, ImageURI: in.ImageURI},
		Timeout:          in.Timeout,
		MemorySize:       in.MemorySize,
		Publish:          in.Publish,
		Environment:      envOf(in.Environment),
		EphemeralStorage: storageOf(in.EphemeralStorageMB),
		Architectures:    in.Architectures,
		Layers:           in.Layers,
		ImageConfig:      in.ImageConfig,
	}
	if in.ImageURI != "" {
		body.PackageType = "Image"
	}
	var out FunctionConfiguration
	err := c.doJSON(ctx, request{method: http.MethodPost, path: functionsPath}, body, &out, http.StatusCreated)
	if err != nil {
		return FunctionConfiguration{}, fmt.Errorf("CreateFunction %s: %w", in.FunctionName, err)
	}
	return out, nil
}

// GetFunctionConfiguration returns the configuration of a function
// version (GET …/{name}/configuration?Qualifier=, 200); qualifier "" is
// $LATEST.
func (c *Client) GetFunctionConfiguration(ctx context.Context, name, qualifier string) (FunctionConfiguration, error) {
	r := request{method: http.MethodGet, path: functionPath(functionsPath, name, "/configuration"), query: qualifierQuery(qualifier)}
	var out FunctionConfiguration
	if err := c.doJSON(ctx, r, nil, &out, http.StatusOK); err != nil {
		return FunctionConfiguration{}, fmt.Errorf("GetFunctionConfiguration %s: %w", name, err)
	}
	return out, nil
}

// UpdateFunctionCode replaces a function's zip package and publishes a
// version of it when publish is set (PUT …/{name}/code, 200).
func (c *Client) UpdateFunctionCode(ctx context.Context, name string, zip []byte, publish bool) (FunctionConfiguration, error) {
	r := request{method: http.MethodPut, path: functionPath(functionsPath, name, "/code")}
	var out FunctionConfiguration
	if err := c.doJSON(ctx, r, updateFunctionCodeRequest{ZipFile: zip, Publish: publish}, &out, http.StatusOK); err != nil {
		return FunctionConfiguration{}, fmt.Errorf("UpdateFunctionCode %s: %w", name, err)
	}
	return out, nil
}

// UpdateFunctionImage points a container-image function at another image
// and publishes a version of it when publish is set (PUT …/{name}/code,
// 200).
func (c *Client) UpdateFunctionImage(ctx context.Context, name, imageURI string, publish bool) (FunctionConfiguration, error) {
	r := request{method: http.MethodPut, path: functionPath(functionsPath, name, "/code")}
	var out FunctionConfiguration
	if err := c.doJSON(ctx, r, updateFunctionCodeRequest{ImageURI: imageURI, Publish: publish}, &out, http.StatusOK); err != nil {
		return FunctionConfiguration{}, fmt.Errorf("UpdateFunctionCode %s: %w", name, err)
	}
	return out, nil
}

// UpdateFunctionConfigurationInput changes the settings that are set: a
// nil pointer leaves its setting as it is, and so does a nil Environment
// (an empty, non-nil one removes every variable).
type UpdateFunctionConfigurationInput struct {
	FunctionName       string
	Runtime            *string
	Handler            *string
	Description        *string
	MemorySize         *int
	Timeout            *int
	EphemeralStorageMB *int
	Environment        map[string]string
	Layers             []string // nil: unchanged; empty: none
}

// UpdateFunctionConfiguration changes a function's settings (PUT
// …/{name}/configuration, 200).
func (c *Client) UpdateFunctionConfiguration(ctx context.Context, in UpdateFunctionConfigurationInput) (FunctionConfiguration, error) {
	body := updateFunctionConfigurationRequest{
		Runtime:          in.Runtime,
		Handler:          in.Handler,
		Description:      in.Description,
		Timeout:          in.Timeout,
		MemorySize:       in.MemorySize,
		EphemeralStorage: storageOf(in.EphemeralStorageMB),
		Environment:      envOf(in.Environment),
	}
	if in.Layers != nil {
		body.Layers = &in.Layers
	}
	r := request{method: http.MethodPut, path: functionPath(functionsPath, in.FunctionName, "/configuration")}
	var out FunctionConfiguration
	if err := c.doJSON(ctx, r, body, &out, http.StatusOK); err != nil {
		return FunctionConfiguration{}, fmt.Errorf("UpdateFunctionConfiguration %s: %w", in.FunctionName, err)
	}
	return out, nil
}

// ListFunctions returns every function, following NextMarker through all
// the pages (GET /2015-03-31/functions?Marker=, 200).
func (c *Client) ListFunctions(ctx context.Context) ([]FunctionConfiguration, error) {
	var all []FunctionConfiguration
	seen := map[string]bool{}
	marker := ""
	for {
		r := request{method: http.MethodGet, path: functionsPath}
		if marker != "" {
			r.query = [][2]string{{"Marker", marker}}
		}
		var page listFunctionsResponse
		if err := c.doJSON(ctx, r, nil, &page, http.StatusOK); err != nil {
			return nil, fmt.Errorf("ListFunctions: %w", err)
		}
		all = append(all, page.Functions...)
		if page.NextMarker == "" {
			return all, nil
		}
		if seen[page.NextMarker] {
			return nil, fmt.Errorf("ListFunctions: the server gave marker %q twice", page.NextMarker)
		}
		seen[page.NextMarker] = true
		marker = page.NextMarker
	}
}

// DeleteFunction deletes a function, or one version of it when qualifier
// is set (DELETE …/{name}?Qualifier=, 204, or 200 as the newer model has it).
func (c *Client) DeleteFunction(ctx context.Context, name, qualifier string) error {
	r := request{method: http.MethodDelete, path: functionPath(functionsPath, name, ""), query: qualifierQuery(qualifier)}
	if _, _, err := c.do(ctx, r, http.StatusNoContent, http.StatusOK, http.StatusAccepted); err != nil {
		return fmt.Errorf("DeleteFunction %s: %w", name, err)
	}
	return nil
}

// PublishVersion publishes a version of a function's $LATEST (POST
// …/{name}/versions, 201).
func (c *Client) PublishVersion(ctx context.Context, name, description string) (FunctionConfiguration, error) {
	r := request{method: http.MethodPost, path: functionPath(functionsPath, name, "/versions")}
	var out FunctionConfiguration
	if err := c.doJSON(ctx, r, publishVersionRequest{Description: description}, &out, http.StatusCreated); err != nil {
		return FunctionConfiguration{}, fmt.Errorf("PublishVersion %s: %w", name, err)
	}
	return out, nil
}
