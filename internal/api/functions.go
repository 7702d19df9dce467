package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/emberfn/ember/internal/codecache"
	"github.com/emberfn/ember/internal/codezip"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/invoke"
	"github.com/emberfn/ember/internal/runtimes"
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
	if !rolePattern().MatchString(req.Role) {
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%s' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+", req.Role)
	}
	if req.PackageType == "Image" || req.Code.ImageURI != "" {
		return invocation.Errorf(invocation.ErrInvalid, "Container image functions are not supported by this ember server; deploy a .zip file archive.")
	}
	now := s.opts.Now()
	v := store.Version{
		FunctionName:     ref.Name,
		Version:          function.LatestVersion,
		Description:      req.Description,
		Runtime:          req.Runtime,
		Handler:          req.Handler,
		Role:             req.Role,
		MemorySize:       function.DefaultMemoryMB,
		Timeout:          int(function.DefaultTimeout / time.Second),
		EphemeralStorage: function.MinTmpMB,
		Environment:      envVars(req.Environment),
		Architectures:    req.Architectures,
		PackageType:      "Zip",
		Network:          function.NetworkOutbound,
		Layers:           req.Layers,
		LastModified:     now,
		RevisionID:       newRevisionID(),
		State:            "Active",
		LastUpdateStatus: "Successful",
	}
	if req.MemorySize != nil {
		v.MemorySize = *req.MemorySize
	}
	if req.Timeout != nil {
		v.Timeout = *req.Timeout
	}
	if req.EphemeralStorage != nil {
		v.EphemeralStorage = req.EphemeralStorage.Size
	}
	if len(v.Architectures) == 0 {
		v.Architectures = []string{"x86_64"}
	}
	if err := s.validateVersion(v); err != nil {
		return err
	}
	code, err := s.storeCode(r.Context(), req.Code)
	if err != nil {
		return err
	}
	v.CodeDigest, v.CodeSha256, v.CodeSize, v.UnzippedSize = code.Digest, code.Sha256, code.Size, code.Unzipped
	if err := s.resolveLayers(r.Context(), &v); err != nil {
		return err
	}
	fn, err := s.opts.Store.CreateFunction(r.Context(), store.Function{Latest: v, Tags: req.Tags, Created: now})
	if err != nil {
		return storeError(err, "", "Function already exist: "+ref.Name)
	}
	out := v
	if req.Publish {
		pv, err := s.publish(r.Context(), fn, "", "", "")
		if err != nil {
			return err
		}
		out = pv
	}
	c := s.configuration(out)
	// Lambda creates a function asynchronously and says so; ember's is
	// ready by the time it answers, which GetFunction shows.
	c.State, c.StateReason, c.StateReasonCode = "Pending", "The function is being created.", "Creating"
	c.LastUpdateStatus = ""
	return writeJSON(w, http.StatusCreated, c)
}

// storedCode is a zip stored, with its unzipped size.
type storedCode struct {
	store.Code
	Unzipped int64
}

// storeCode checks a zip as Lambda does and stores it.
func (s *Server) storeCode(ctx context.Context, c *functionCode) (storedCode, error) {
	if c.S3Bucket == LocalCodeBucket {
		zip, err := s.localCode(c.S3Key)
		if err != nil {
			return storedCode{}, err
		}
		c = &functionCode{ZipFile: zip}
	}
	if c.S3Bucket != "" || c.S3Key != "" {
		return storedCode{}, invocation.Errorf(invocation.ErrInvalid,
			"Code from S3 is not supported by this ember server; upload the .zip file as ZipFile, or give S3Bucket %q and the local path as S3Key.", LocalCodeBucket)
	}
	if len(c.ZipFile) == 0 {
		return storedCode{}, invocation.Errorf(invocation.ErrInvalid, "Please provide a source for function code.")
	}
	if len(c.ZipFile) > MaxZipped {
		return storedCode{}, invocation.Errorf(invocation.ErrTooLarge, "Zipped size must be smaller than %d bytes", MaxZipped)
	}
	unzipped, err := codecache.Check(c.ZipFile, invoke.MaxUnzipped)
	if err != nil {
		if errors.Is(err, codecache.ErrTooLarge) {
			return storedCode{}, invocation.Errorf(invocation.ErrInvalid, "Unzipped size must be smaller than %d bytes", invoke.MaxUnzipped)
		}
		return storedCode{}, invocation.Errorf(invocation.ErrInvalid, "Could not unzip uploaded file. Please check your file, then try to upload again.")
	}
	code, err := s.opts.Store.PutCode(ctx, bytes.NewReader(c.ZipFile))
	if err != nil {
		return storedCode{}, fmt.Errorf("store code: %w", err)
	}
	return storedCode{code, unzipped}, nil
}

// LocalCodeBucket is ember's extension of FunctionCode: S3Bucket
// "ember-local" with S3Key a directory or .zip file on the server's machine
// takes the code from there, as the AWS CLI and SDKs can send it.
const LocalCodeBucket = "ember-local"

// localCode reads the code at a local path, zipping a directory.
func (s *Server) localCode(path string) ([]byte, error) {
	if !s.opts.AllowLocalCode {
		return nil, invocation.Errorf(invocation.ErrInvalid,
			"Code from a local path is accepted only by an ember server that listens on loopback.")
	}
	if !filepath.IsAbs(path) {
		return nil, invocation.Errorf(invocation.ErrInvalid, "The local code path %q is not absolute.", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, invocation.Errorf(invocation.ErrInvalid, "Could not read the local code at %s: %v", path, err)
	}
	if !st.IsDir() {
		if st.Size() > MaxZipped {
			return nil, invocation.Errorf(invocation.ErrTooLarge, "Zipped size must be smaller than %d bytes", MaxZipped)
		}
		zip, err := os.ReadFile(path)
		if err != nil {
			return nil, invocation.Errorf(invocation.ErrInvalid, "Could not read the local code at %s: %v", path, err)
		}
		return zip, nil
	}
	var buf bytes.Buffer
	if err := codezip.Create(path, &buf); err != nil {
		return nil, invocation.Errorf(invocation.ErrInvalid, "Could not zip the local code at %s: %v", path, err)
	}
	return buf.Bytes(), nil
}

func missing(field string) error {
	return invocation.Errorf(invocation.ErrValidation,
		"1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
}

// validateVersion checks a configuration against Lambda's limits.
func (s *Server) validateVersion(v store.Version) error {
	switch {
	case v.MemorySize < function.MinMemoryMB || v.MemorySize > function.MaxMemoryMB:
		return invocation.Errorf(invocation.ErrInvalid,
			"'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to %d", function.MaxMemoryMB)
	case v.Timeout < 1 || v.Timeout > int(function.MaxTimeout/time.Second):
		return invocation.Errorf(invocation.ErrInvalid,
			"Timeout value %d is outside the allowed range of 1 to %d seconds", v.Timeout, int(function.MaxTimeout/time.Second))
	case v.EphemeralStorage < function.MinTmpMB || v.EphemeralStorage > function.MaxTmpMB:
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%d' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value between %d and %d", v.EphemeralStorage, function.MinTmpMB, function.MaxTmpMB)
	case len(v.Description) > 256:
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256")
	case len(v.Architectures) != 1 || v.Architectures[0] != "x86_64" && v.Architectures[0] != "arm64":
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%v' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]", v.Architectures)
	case len(v.Layers) > 5:
		return invocation.Errorf(invocation.ErrInvalid, "Cannot reference more than 5 layers.")
	}
	if v.Runtime != "" && !slices.Contains(modelRuntimes, v.Runtime) {
		return invocation.Errorf(invocation.ErrInvalid,
			"Value %s at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: %v or be a valid ARN", v.Runtime, modelRuntimes)
	}
	size := 0
	for k, val := range v.Environment {
		size += len(k) + len(val)
	}
	if size > 4096 {
		return invocation.Errorf(invocation.ErrInvalid,
			"Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %d", size)
	}
	return s.checkRuntime(v.Runtime)
}

// checkRuntime refuses a runtime that no interpreter here serves, naming
// the ones that are; a deprecated name is accepted with a warning.
func (s *Server) checkRuntime(name string) error {
	if name == "" {
		return nil
	}
	reg := s.opts.Runtimes
	if reg == nil {
		reg = &runtimes.Registry{}
	}
	rt, err := reg.Lookup(name)
	if err != nil {
		return invocation.Errorf(invocation.ErrInvalid, "The runtime parameter of %s is not supported by this ember server: %v", name, err)
	}
	if rt.Deprecated {
		s.log.Warn("a function uses a runtime that Lambda has deprecated", "runtime", name)
	}
	return nil
}

// modelRuntimes are the Runtime values of the API model.
var modelRuntimes = []string{"nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x", "nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x", "java8", "java8.al2", "java11", "java17", "java21", "java25", "python2.7", "python3.6", "python3.7", "python3.8", "python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14", "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "dotnet6", "dotnet8", "dotnet10", "nodejs4.3-edge", "go1.x", "ruby2.5", "ruby2.7", "ruby3.2", "ruby3.3", "ruby3.4", "ruby4.0", "provided", "provided.al2", "provided.al2023", "nodejs26.x", "python3.15", "java8.al2023", "java11.al2023", "java17.al2023"}

func envVars(e *environmentRequest) map[string]string {
	if e == nil || len(e.Variables) == 0 {
		return nil
	}
	return e.Variables
}

// newRevisionID returns a RevisionId: a random UUID, as Lambda's.
func newRevisionID() string { return invocation.NewRequestID() }

type getFunctionResponse struct {
	Configuration functionConfiguration `json:"Configuration"`
	Code          functionCodeLocation  `json:"Code"`
	Tags          map[string]string     `json:"Tags,omitempty"`
	Concurrency   *concurrency          `json:"Concurrency,omitempty"`
}

type functionCodeLocation struct {
	RepositoryType string `json:"RepositoryType"`
	Location       string `json:"Location"`
}

type concurrency struct {
	ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions"`
}

// version reads the version that ref names: $LATEST, a number or an
// alias's version.
func (s *Server) version(ctx context.Context, ref functionRef) (store.Function, store.Version, error) {
	fn, err := s.opts.Store.GetFunction(ctx, ref.Name)
	if err != nil {
		return fn, store.Version{}, storeError(err, "Function not found: "+s.qualifiedARN(ref), "")
	}
	switch {
	case ref.Qualifier == "" || ref.Qualifier == function.LatestVersion:
		return fn, fn.Latest, nil
	case !isVersionNumber(ref.Qualifier):
		a, err := s.opts.Store.GetAlias(ctx, ref.Name, ref.Qualifier)
		if err != nil {
			return fn, store.Version{}, storeError(err, "Function not found: "+s.qualifiedARN(ref), "")
		}
		ref.Qualifier = a.FunctionVersion
		if a.FunctionVersion == function.LatestVersion {
			return fn, fn.Latest, nil
		}
	}
	v, err := s.opts.Store.GetVersion(ctx, ref.Name, ref.Qualifier)
	if err != nil {
		return fn, store.Version{}, storeError(err, "Function not found: "+s.qualifiedARN(ref), "")
	}
	return fn, v, nil
}

func (s *Server) qualifiedARN(ref functionRef) string {
	arn := s.functionARN(ref.Name)
	if ref.Qualifier != "" {
		arn += ":" + ref.Qualifier
	}
	return arn
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
	fn, v, err := s.version(r.Context(), ref)
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
	_, v, err := s.version(r.Context(), ref)
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
	fns, err := s.opts.Store.ListFunctions(r.Context())
	if err != nil {
		return err
	}
	var all []store.Version
	var keys []string
	for _, fn := range fns {
		all = append(all, fn.Latest)
		keys = append(keys, fn.Latest.FunctionName+"\x00")
		if q.Get("FunctionVersion") == "ALL" {
			vs, err := s.opts.Store.ListVersions(r.Context(), fn.Latest.FunctionName)
			if err != nil {
				return err
			}
			for _, v := range vs {
				if v.Version != function.LatestVersion {
					all = append(all, v)
					keys = append(keys, fmt.Sprintf("%s\x00%010s", v.FunctionName, v.Version))
				}
			}
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
	names, err := s.opts.Store.FunctionNames(r.Context())
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
	resp := listFunctionsResponse{Functions: []functionConfiguration{}, NextMarker: next}
	for _, name := range names[start:end] {
		fn, err := s.opts.Store.GetFunction(r.Context(), name)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since the names were read
		}
		if err != nil {
			return err
		}
		resp.Functions = append(resp.Functions, s.configuration(fn.Latest))
	}
	return writeJSON(w, http.StatusOK, resp)
}

func (s *Server) deleteFunction(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.ref(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	switch {
	case ref.Qualifier == "" || ref.Qualifier == function.LatestVersion && r.URL.Query().Get("Qualifier") == "":
		if ref.Qualifier != "" {
			return invocation.Errorf(invocation.ErrInvalid, "$LATEST version cannot be deleted without deleting the function.")
		}
		if err := s.opts.Store.DeleteFunction(ctx, ref.Name); err != nil {
			return storeError(err, "Function not found: "+s.functionARN(ref.Name), "")
		}
	case ref.Qualifier == function.LatestVersion:
		return invocation.Errorf(invocation.ErrInvalid, "$LATEST version cannot be deleted without deleting the function.")
	case !isVersionNumber(ref.Qualifier):
		return invocation.Errorf(invocation.ErrInvalid, "Deletion of aliases is not supported with DeleteFunction; use DeleteAlias.")
	default:
		aliases, err := s.opts.Store.ListAliases(ctx, ref.Name)
		if err != nil {
			return storeError(err, "Function not found: "+s.qualifiedARN(ref), "")
		}
		for _, a := range aliases {
			if _, weighted := a.Weights[ref.Qualifier]; a.FunctionVersion == ref.Qualifier || weighted {
				return invocation.Errorf(invocation.ErrConflict,
					"Unable to delete version because the following aliases reference it: [%s]", a.Name)
			}
		}
		if err := s.opts.Store.DeleteVersion(ctx, ref.Name, ref.Qualifier); err != nil {
			return storeError(err, "Function not found: "+s.qualifiedARN(ref), "")
		}
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
}

func (s *Server) updateFunctionConfiguration(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req updateFunctionConfigurationRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	return s.updateLatest(w, r, req.RevisionID, func(v *store.Version) error {
		if req.Role != nil {
			if !rolePattern().MatchString(*req.Role) {
				return invocation.Errorf(invocation.ErrValidation,
					"1 validation error detected: Value '%s' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+", *req.Role)
			}
			v.Role = *req.Role
		}
		setIf(&v.Handler, req.Handler)
		setIf(&v.Description, req.Description)
		setIf(&v.Runtime, req.Runtime)
		setIf(&v.Timeout, req.Timeout)
		setIf(&v.MemorySize, req.MemorySize)
		if req.Environment != nil {
			v.Environment = envVars(req.Environment)
		}
		if req.Layers != nil {
			v.Layers = *req.Layers
		}
		if req.EphemeralStorage != nil {
			v.EphemeralStorage = req.EphemeralStorage.Size
		}
		if err := s.validateVersion(*v); err != nil {
			return err
		}
		return s.resolveLayers(r.Context(), v)
	})
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
	if req.ImageURI != "" {
		return invocation.Errorf(invocation.ErrInvalid, "Container image functions are not supported by this ember server; deploy a .zip file archive.")
	}
	code, err := s.storeCode(r.Context(), &req.functionCode)
	if err != nil {
		return err
	}
	return s.updateLatestThen(w, r, req.RevisionID, req.Publish, func(v *store.Version) error {
		if req.Architectures != nil {
			v.Architectures = req.Architectures
		}
		v.CodeDigest, v.CodeSha256, v.CodeSize, v.UnzippedSize = code.Digest, code.Sha256, code.Size, code.Unzipped
		if err := s.validateVersion(*v); err != nil {
			return err
		}
		return s.resolveLayers(r.Context(), v)
	})
}

func (s *Server) updateLatest(w http.ResponseWriter, r *http.Request, revision string, change func(*store.Version) error) error {
	return s.updateLatestThen(w, r, revision, false, change)
}

// updateLatestThen applies change to $LATEST, compare-and-set, and
// answers with the new configuration (or, with publish, the version it
// publishes).
func (s *Server) updateLatestThen(w http.ResponseWriter, r *http.Request, revision string, publish bool, change func(*store.Version) error) error {
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return err
	}
	if ref.Qualifier != "" {
		return invocation.Errorf(invocation.ErrInvalid, "Unsupported function name format: %s", r.PathValue("name"))
	}
	ctx := r.Context()
	fn, err := s.opts.Store.GetFunction(ctx, ref.Name)
	if err != nil {
		return storeError(err, "Function not found: "+s.functionARN(ref.Name), "")
	}
	if revision != "" && revision != fn.Latest.RevisionID {
		return invocation.Errorf(invocation.ErrPrecondition,
			"The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
	}
	v := fn.Latest
	if err := change(&v); err != nil {
		return err
	}
	v.LastModified = s.opts.Now()
	v.RevisionID = newRevisionID()
	v.State, v.LastUpdateStatus = "Active", "Successful"
	fn.Latest = v
	fn, err = s.opts.Store.UpdateFunction(ctx, fn)
	if err != nil {
		return storeError(err, s.functionARN(ref.Name), "")
	}
	out := fn.Latest
	if publish {
		if out, err = s.publish(ctx, fn, "", "", ""); err != nil {
			return err
		}
	}
	c := s.configuration(out)
	// Lambda applies an update asynchronously and says so; ember's is in
	// place by the time it answers, which the next read shows.
	c.LastUpdateStatus, c.LastUpdateReason, c.LastUpdateReasonCode = "InProgress", "The function is being created.", "Creating"
	return writeJSON(w, http.StatusOK, c)
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
