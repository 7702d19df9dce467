package api

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/emberfn/ember/internal/control"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
)

// functionConfiguration is the API's FunctionConfiguration shape.
type functionConfiguration struct {
	FunctionName         string                `json:"FunctionName"`
	FunctionArn          string                `json:"FunctionArn"`
	Runtime              string                `json:"Runtime,omitempty"`
	Role                 string                `json:"Role"`
	Handler              string                `json:"Handler,omitempty"`
	CodeSize             int64                 `json:"CodeSize"`
	Description          string                `json:"Description"`
	Timeout              int                   `json:"Timeout"`
	MemorySize           int                   `json:"MemorySize"`
	LastModified         string                `json:"LastModified"`
	CodeSha256           string                `json:"CodeSha256"`
	Version              string                `json:"Version"`
	Environment          *environmentResponse  `json:"Environment,omitempty"`
	TracingConfig        tracingConfig         `json:"TracingConfig"`
	RevisionID           string                `json:"RevisionId"`
	Layers               []layer               `json:"Layers,omitempty"`
	State                string                `json:"State,omitempty"`
	StateReason          string                `json:"StateReason,omitempty"`
	StateReasonCode      string                `json:"StateReasonCode,omitempty"`
	LastUpdateStatus     string                `json:"LastUpdateStatus,omitempty"`
	LastUpdateReason     string                `json:"LastUpdateStatusReason,omitempty"`
	LastUpdateReasonCode string                `json:"LastUpdateStatusReasonCode,omitempty"`
	PackageType          string                `json:"PackageType"`
	Architectures        []string              `json:"Architectures"`
	EphemeralStorage     ephemeralStorage      `json:"EphemeralStorage"`
	SnapStart            snapStartResponse     `json:"SnapStart"`
	RuntimeVersionConfig *runtimeVersionConfig `json:"RuntimeVersionConfig,omitempty"`
	LoggingConfig        loggingConfig         `json:"LoggingConfig"`
	ImageConfigResponse  *imageConfigResponse  `json:"ImageConfigResponse,omitempty"`
}

// imageConfig is the API's ImageConfig, in requests and answers.
type imageConfig struct {
	EntryPoint       []string `json:"EntryPoint,omitempty"`
	Command          []string `json:"Command,omitempty"`
	WorkingDirectory *string  `json:"WorkingDirectory,omitempty"`
}

// control is the control plane's form of an ImageConfig.
func (c *imageConfig) control() *control.ImageConfig {
	if c == nil {
		return nil
	}
	return &control.ImageConfig{EntryPoint: c.EntryPoint, Command: c.Command, WorkingDirectory: c.WorkingDirectory}
}

type imageConfigResponse struct {
	ImageConfig imageConfig `json:"ImageConfig"`
}

type environmentResponse struct {
	Variables map[string]string `json:"Variables"`
}

type tracingConfig struct {
	Mode string `json:"Mode"`
}

type layer struct {
	Arn      string `json:"Arn"`
	CodeSize int64  `json:"CodeSize"`
}

type ephemeralStorage struct {
	Size int `json:"Size"`
}

type snapStartResponse struct {
	ApplyOn            string `json:"ApplyOn"`
	OptimizationStatus string `json:"OptimizationStatus"`
}

type runtimeVersionConfig struct {
	RuntimeVersionArn string `json:"RuntimeVersionArn"`
}

type loggingConfig struct {
	LogFormat string `json:"LogFormat"`
	LogGroup  string `json:"LogGroup"`
}

// lastModifiedLayout is how Lambda writes LastModified.
const lastModifiedLayout = "2006-01-02T15:04:05.000-0700"

// configuration renders a stored version in the API's shape.
func (s *Server) configuration(v store.Version) functionConfiguration {
	arn := s.functionARN(v.FunctionName)
	c := functionConfiguration{
		FunctionName:     v.FunctionName,
		FunctionArn:      arn + ":" + v.Version,
		Runtime:          v.Runtime,
		Role:             v.Role,
		Handler:          v.Handler,
		CodeSize:         v.CodeSize,
		Description:      v.Description,
		Timeout:          v.Timeout,
		MemorySize:       v.MemorySize,
		LastModified:     v.LastModified.UTC().Format(lastModifiedLayout),
		CodeSha256:       v.CodeSha256,
		Version:          v.Version,
		TracingConfig:    tracingConfig{Mode: "PassThrough"},
		RevisionID:       v.RevisionID,
		State:            v.State,
		StateReason:      v.StateReason,
		StateReasonCode:  v.StateReasonCode,
		LastUpdateStatus: v.LastUpdateStatus,
		PackageType:      v.PackageType,
		Architectures:    v.Architectures,
		EphemeralStorage: ephemeralStorage{Size: v.EphemeralStorage},
		SnapStart:        snapStartResponse{ApplyOn: "None", OptimizationStatus: "Off"},
		LoggingConfig:    loggingConfig{LogFormat: "Text", LogGroup: "/aws/lambda/" + v.FunctionName},
	}
	if v.Version == function.LatestVersion {
		// Lambda's unqualified reads name $LATEST by the bare ARN.
		c.FunctionArn = arn
	}
	if len(v.Environment) > 0 {
		c.Environment = &environmentResponse{Variables: v.Environment}
	}
	if ic := v.ImageConfig; ic != nil {
		c.ImageConfigResponse = &imageConfigResponse{ImageConfig: imageConfig{EntryPoint: ic.EntryPoint, Command: ic.Command}}
		if ic.WorkingDirectory != "" {
			c.ImageConfigResponse.ImageConfig.WorkingDirectory = &ic.WorkingDirectory
		}
	}
	for i, l := range v.Layers {
		c.Layers = append(c.Layers, layer{Arn: l})
		if i < len(v.LayerSizes) {
			c.Layers[i].CodeSize = v.LayerSizes[i]
		}
	}
	return c
}

// functionCode is the API's FunctionCode shape.
type functionCode struct {
	ZipFile         []byte `json:"ZipFile"`
	S3Bucket        string `json:"S3Bucket"`
	S3Key           string `json:"S3Key"`
	S3ObjectVersion string `json:"S3ObjectVersion"`
	ImageURI        string `json:"ImageUri"`
}

type environmentRequest struct {
	Variables map[string]string `json:"Variables"`
}

type createFunctionRequest struct {
	FunctionName     string              `json:"FunctionName"`
	Runtime          string              `json:"Runtime"`
	Role             string              `json:"Role"`
	Handler          string              `json:"Handler"`
	Code             *functionCode       `json:"Code"`
	Description      string              `json:"Description"`
	Timeout          *int                `json:"Timeout"`
	MemorySize       *int                `json:"MemorySize"`
	Publish          bool                `json:"Publish"`
	PackageType      string              `json:"PackageType"`
	Environment      *environmentRequest `json:"Environment"`
	Tags             map[string]string   `json:"Tags"`
	Layers           []string            `json:"Layers"`
	Architectures    []string            `json:"Architectures"`
	EphemeralStorage *ephemeralStorage   `json:"EphemeralStorage"`
	ImageConfig      *imageConfig        `json:"ImageConfig"`
}

// code is the control plane's Code of a request's FunctionCode.
func (c *functionCode) code() control.Code {
	return control.Code{ZipFile: c.ZipFile, S3Bucket: c.S3Bucket, S3Key: c.S3Key, S3ObjectVersion: c.S3ObjectVersion, ImageURI: c.ImageURI}
}

func (s *Server) createFunction(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req createFunctionRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	ref, err := s.parseFunctionRef(req.FunctionName, "functionName")
	if err != nil {
		return err
	}
	if ref.Qualifier != "" {
		return invocation.Errorf(invocation.ErrInvalid, "Unsupported function name format: %s", req.FunctionName)
	}
	if req.Role == "" {
		return missing("role")
	}
	if req.Code == nil {
		return missing("code")
	}
	f := control.NewFunction{
		Name:          ref.Name,
		Runtime:       req.Runtime,
		Role:          req.Role,
		Handler:       req.Handler,
		Code:          req.Code.code(),
		Description:   req.Description,
		Timeout:       req.Timeout,
		MemorySize:    req.MemorySize,
		Publish:       req.Publish,
		PackageType:   req.PackageType,
		Tags:          req.Tags,
		Layers:        req.Layers,
		Architectures: req.Architectures,
		ImageConfig:   req.ImageConfig.control(),
	}
	if req.Environment != nil {
		f.Environment = req.Environment.Variables
	}
	if req.EphemeralStorage != nil {
		f.EphemeralStorage = &req.EphemeralStorage.Size
	}
	v, err := s.ctl.CreateFunction(r.Context(), f)
	if err != nil {
		return err
	}
	c := s.configuration(v)
	// Lambda creates a function asynchronously and says so; ember's is
	// ready by the time it answers, which GetFunction shows.
	c.State, c.StateReason, c.StateReasonCode = "Pending", "The function is being created.", "Creating"
	c.LastUpdateStatus = ""
	return writeJSON(w, http.StatusCreated, c)
}

func missing(field string) error {
	return invocation.Errorf(invocation.ErrValidation,
		"1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
}

type getFunctionResponse struct {
	Configuration functionConfiguration `json:"Configuration"`
	Code          functionCodeLocation  `json:"Code"`
	Tags          map[string]string     `json:"Tags,omitempty"`
	Concurrency   *concurrency          `json:"Concurrency,omitempty"`
}

type functionCodeLocation struct {
	RepositoryType   string `json:"RepositoryType"`
	Location         string `json:"Location,omitempty"`
	ImageURI         string `json:"ImageUri,omitempty"`
	ResolvedImageURI string `json:"ResolvedImageUri,omitempty"`
}

type concurrency struct {
	ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions"`
}

// ref reads the {name} of the path and the Qualifier of the query.
func (s *Server) ref(r *http.Request) (functionRef, error) {
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return ref, err
	}
	return s.withQualifier(ref, r.URL.Query().Get("Qualifier"))
}

func (s *Server) getFunction(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.ref(r)
	if err != nil {
		return err
	}
	fn, v, err := s.ctl.Function(r.Context(), ref.Name, ref.Qualifier)
	if err != nil {
		return err
	}
	resp := getFunctionResponse{
		Configuration: s.configuration(v),
		Code: functionCodeLocation{
			RepositoryType: "S3",
			Location:       "http://" + r.Host + "/ember/v1/code/" + v.CodeDigest,
		},
		Tags: fn.Tags,
	}
	if v.PackageType == control.PackageImage {
		resp.Code = functionCodeLocation{RepositoryType: "ECR", ImageURI: v.ImageURI, ResolvedImageURI: control.ResolvedImageURI(v)}
	}
	if fn.ReservedConcurrency != nil {
		resp.Concurrency = &concurrency{ReservedConcurrentExecutions: fn.ReservedConcurrency}
	}
	return writeJSON(w, http.StatusOK, resp)
}

func (s *Server) getFunctionConfiguration(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.ref(r)
	if err != nil {
		return err
	}
	_, v, err := s.ctl.Function(r.Context(), ref.Name, ref.Qualifier)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.configuration(v))
}

type listFunctionsResponse struct {
	Functions  []functionConfiguration `json:"Functions"`
	NextMarker *string                 `json:"NextMarker,omitempty"`
}

// page cuts one page of n items from keys sorted ascending, after marker.
func page(keys []string, marker, maxItems string, limit int) (start, end int, next *string, err error) {
	n := limit
	if maxItems != "" {
		m, err := strconv.Atoi(maxItems)
		if err != nil || m < 1 || m > 10000 {
			return 0, 0, nil, invocation.Errorf(invocation.ErrValidation,
				"1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000", maxItems)
		}
		n = min(m, limit)
	}
	if marker != "" {
		b, err := base64.RawURLEncoding.DecodeString(marker)
		if err != nil {
			return 0, 0, nil, invocation.Errorf(invocation.ErrInvalid, "Invalid marker: %s", marker)
		}
		start, _ = slices.BinarySearch(keys, string(b))
	}
	end = min(start+n, len(keys))
	if end < len(keys) {
		m := base64.RawURLEncoding.EncodeToString([]byte(keys[end]))
		next = &m
	}
	return start, end, next, nil
}

func (s *Server) listFunctions(w http.ResponseWriter, r *http.Request, _ []byte) error {
	q := r.URL.Query()
	if q.Get("FunctionVersion") != "ALL" {
		return s.listLatest(w, r)
	}
	all, err := s.ctl.AllVersions(r.Context())
	if err != nil {
		return err
	}
	keys := make([]string, len(all))
	for i, v := range all {
		keys[i] = v.FunctionName + "\x00"
		if v.Version != function.LatestVersion {
			keys[i] = fmt.Sprintf("%s\x00%010s", v.FunctionName, v.Version)
		}
	}
	start, end, next, err := page(keys, q.Get("Marker"), q.Get("MaxItems"), 50)
	if err != nil {
		return err
	}
	resp := listFunctionsResponse{Functions: []functionConfiguration{}, NextMarker: next}
	for _, v := range all[start:end] {
		resp.Functions = append(resp.Functions, s.configuration(v))
	}
	return writeJSON(w, http.StatusOK, resp)
}

// listLatest pages through the functions' names and reads the records of
// one page only.
func (s *Server) listLatest(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	names, err := s.ctl.FunctionNames(r.Context())
	if err != nil {
		return err
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = n + "\x00"
	}
	start, end, next, err := page(keys, q.Get("Marker"), q.Get("MaxItems"), 50)
	if err != nil {
		return err
	}
	latest, err := s.ctl.Latest(r.Context(), names[start:end])
	if err != nil {
		return err
	}
	resp := listFunctionsResponse{Functions: []functionConfiguration{}, NextMarker: next}
	for _, v := range latest {
		resp.Functions = append(resp.Functions, s.configuration(v))
	}
	return writeJSON(w, http.StatusOK, resp)
}

func (s *Server) deleteFunction(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.ref(r)
	if err != nil {
		return err
	}
	if err := s.ctl.DeleteFunction(r.Context(), ref.Name, ref.Qualifier); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type updateFunctionConfigurationRequest struct {
	Role             *string             `json:"Role"`
	Handler          *string             `json:"Handler"`
	Description      *string             `json:"Description"`
	Timeout          *int                `json:"Timeout"`
	MemorySize       *int                `json:"MemorySize"`
	Environment      *environmentRequest `json:"Environment"`
	Runtime          *string             `json:"Runtime"`
	RevisionID       string              `json:"RevisionId"`
	Layers           *[]string           `json:"Layers"`
	EphemeralStorage *ephemeralStorage   `json:"EphemeralStorage"`
	ImageConfig      *imageConfig        `json:"ImageConfig"`
}

func (s *Server) updateFunctionConfiguration(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req updateFunctionConfigurationRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	name, err := s.latestName(r)
	if err != nil {
		return err
	}
	c := control.ConfigChange{
		Role:        req.Role,
		Handler:     req.Handler,
		Description: req.Description,
		Runtime:     req.Runtime,
		Timeout:     req.Timeout,
		MemorySize:  req.MemorySize,
		Layers:      req.Layers,
		ImageConfig: req.ImageConfig.control(),
		RevisionID:  req.RevisionID,
	}
	if req.Environment != nil {
		c.Environment = &req.Environment.Variables
	}
	if req.EphemeralStorage != nil {
		c.EphemeralStorage = &req.EphemeralStorage.Size
	}
	v, err := s.ctl.UpdateConfiguration(r.Context(), name, c)
	if err != nil {
		return err
	}
	return s.writeUpdated(w, v)
}

type updateFunctionCodeRequest struct {
	functionCode
	Publish       bool     `json:"Publish"`
	DryRun        bool     `json:"DryRun"`
	RevisionID    string   `json:"RevisionId"`
	Architectures []string `json:"Architectures"`
}

func (s *Server) updateFunctionCode(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req updateFunctionCodeRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	name, err := s.latestName(r)
	if err != nil {
		return err
	}
	v, err := s.ctl.UpdateCode(r.Context(), name, control.CodeChange{
		Code:          req.functionCode.code(),
		Publish:       req.Publish,
		RevisionID:    req.RevisionID,
		Architectures: req.Architectures,
	})
	if err != nil {
		return err
	}
	return s.writeUpdated(w, v)
}

// latestName reads the {name} of an update's path, which must name the
// function without a qualifier.
func (s *Server) latestName(r *http.Request) (string, error) {
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return "", err
	}
	if ref.Qualifier != "" {
		return "", invocation.Errorf(invocation.ErrInvalid, "Unsupported function name format: %s", r.PathValue("name"))
	}
	return ref.Name, nil
}

// writeUpdated answers an update with the configuration it made.
func (s *Server) writeUpdated(w http.ResponseWriter, v store.Version) error {
	c := s.configuration(v)
	// Lambda applies an update asynchronously and says so; ember's is in
	// place by the time it answers, which the next read shows.
	c.LastUpdateStatus, c.LastUpdateReason, c.LastUpdateReasonCode = "InProgress", "The function is being created.", "Creating"
	return writeJSON(w, http.StatusOK, c)
}
