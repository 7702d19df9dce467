package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/invoke"
	"github.com/emberfn/ember/internal/store"
)

var (
	layerNamePattern = pattern(`^[a-zA-Z0-9-_]{1,140}$`)
	layerARNPattern  = pattern(`^arn:(aws[a-zA-Z-]*)?:lambda:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):layer:([a-zA-Z0-9-_]+)(?::([0-9]+))?$`)
)

// layerVersion is the API's shape of a layer version: PublishLayerVersion's
// and GetLayerVersion's answer.
type layerVersion struct {
	Content                 layerContent `json:"Content"`
	LayerArn                string       `json:"LayerArn"`
	LayerVersionArn         string       `json:"LayerVersionArn"`
	Description             string       `json:"Description"`
	CreatedDate             string       `json:"CreatedDate"`
	Version                 int          `json:"Version"`
	CompatibleRuntimes      []string     `json:"CompatibleRuntimes,omitempty"`
	CompatibleArchitectures []string     `json:"CompatibleArchitectures,omitempty"`
	LicenseInfo             string       `json:"LicenseInfo,omitempty"`
}

type layerContent struct {
	Location   string `json:"Location"`
	CodeSha256 string `json:"CodeSha256"`
	CodeSize   int64  `json:"CodeSize"`
}

// layerVersionsListItem is the API's shape of a layer version in lists.
type layerVersionsListItem struct {
	LayerVersionArn         string   `json:"LayerVersionArn"`
	Version                 int      `json:"Version"`
	Description             string   `json:"Description"`
	CreatedDate             string   `json:"CreatedDate"`
	CompatibleRuntimes      []string `json:"CompatibleRuntimes,omitempty"`
	CompatibleArchitectures []string `json:"CompatibleArchitectures,omitempty"`
	LicenseInfo             string   `json:"LicenseInfo,omitempty"`
}

func (s *Server) layerARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:layer:%s", s.opts.Region, s.opts.AccountID, name)
}

func (s *Server) layerVersion(r *http.Request, lv store.LayerVersion) layerVersion {
	return layerVersion{
		Content: layerContent{
			Location:   "http://" + r.Host + "/ember/v1/code/" + lv.CodeDigest,
			CodeSha256: lv.CodeSha256,
			CodeSize:   lv.CodeSize,
		},
		LayerArn:                s.layerARN(lv.LayerName),
		LayerVersionArn:         s.layerARN(lv.LayerName) + ":" + strconv.Itoa(lv.Version),
		Description:             lv.Description,
		CreatedDate:             lv.Created.UTC().Format(lastModifiedLayout),
		Version:                 lv.Version,
		CompatibleRuntimes:      lv.CompatibleRuntimes,
		CompatibleArchitectures: lv.CompatibleArchitectures,
		LicenseInfo:             lv.LicenseInfo,
	}
}

func (s *Server) layerListItem(lv store.LayerVersion) layerVersionsListItem {
	return layerVersionsListItem{
		LayerVersionArn:         s.layerARN(lv.LayerName) + ":" + strconv.Itoa(lv.Version),
		Version:                 lv.Version,
		Description:             lv.Description,
		CreatedDate:             lv.Created.UTC().Format(lastModifiedLayout),
		CompatibleRuntimes:      lv.CompatibleRuntimes,
		CompatibleArchitectures: lv.CompatibleArchitectures,
		LicenseInfo:             lv.LicenseInfo,
	}
}

// layerName reads a LayerName of the path: a name or the layer's ARN.
func (s *Server) layerName(raw string) (string, error) {
	if m := layerARNPattern().FindStringSubmatch(raw); m != nil && m[5] == "" {
		if m[2] != s.opts.Region || m[3] != s.opts.AccountID {
			return "", invocation.Errorf(invocation.ErrNotFound, "Layer not found: %s", raw)
		}
		return m[4], nil
	}
	if !layerNamePattern().MatchString(raw) {
		return "", invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%s' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+", raw)
	}
	return raw, nil
}

type publishLayerVersionRequest struct {
	Description             string        `json:"Description"`
	Content                 *functionCode `json:"Content"`
	CompatibleRuntimes      []string      `json:"CompatibleRuntimes"`
	CompatibleArchitectures []string      `json:"CompatibleArchitectures"`
	LicenseInfo             string        `json:"LicenseInfo"`
}

func (s *Server) publishLayerVersion(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req publishLayerVersionRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	name, err := s.layerName(r.PathValue("layer"))
	if err != nil {
		return err
	}
	if req.Content == nil {
		return missing("content")
	}
	switch {
	case len(req.CompatibleRuntimes) > 15:
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value at 'compatibleRuntimes' failed to satisfy constraint: Member must have length less than or equal to 15")
	case len(req.CompatibleArchitectures) > 2:
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value at 'compatibleArchitectures' failed to satisfy constraint: Member must have length less than or equal to 2")
	case len(req.Description) > 256:
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256")
	}
	for _, rt := range req.CompatibleRuntimes {
		if !slices.Contains(modelRuntimes, rt) {
			return invocation.Errorf(invocation.ErrValidation,
				"1 validation error detected: Value '[%s]' at 'compatibleRuntimes' failed to satisfy constraint: Member must satisfy enum value set", rt)
		}
	}
	code, err := s.storeCode(r.Context(), req.Content)
	if err != nil {
		return err
	}
	lv, err := s.opts.Store.PublishLayerVersion(r.Context(), store.LayerVersion{
		LayerName:               name,
		Description:             req.Description,
		CompatibleRuntimes:      req.CompatibleRuntimes,
		CompatibleArchitectures: req.CompatibleArchitectures,
		LicenseInfo:             req.LicenseInfo,
		CodeDigest:              code.Digest,
		CodeSha256:              code.Sha256,
		CodeSize:                code.Size,
		UnzippedSize:            code.Unzipped,
		Created:                 s.opts.Now(),
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.layerVersion(r, lv))
}

// layerVersionRef reads {layer} and {version} of the path.
func (s *Server) layerVersionRef(r *http.Request) (string, int, error) {
	name, err := s.layerName(r.PathValue("layer"))
	if err != nil {
		return "", 0, err
	}
	raw := r.PathValue("version")
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return "", 0, invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%s' at 'versionNumber' failed to satisfy constraint: Member must be a positive number", raw)
	}
	return name, n, nil
}

func (s *Server) layerNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return invocation.Errorf(invocation.ErrNotFound, "The resource you requested does not exist.")
	}
	return err
}

func (s *Server) getLayerVersion(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, n, err := s.layerVersionRef(r)
	if err != nil {
		return err
	}
	lv, err := s.opts.Store.GetLayerVersion(r.Context(), name, n)
	if err != nil {
		return s.layerNotFound(err)
	}
	return writeJSON(w, http.StatusOK, s.layerVersion(r, lv))
}

func (s *Server) deleteLayerVersion(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, n, err := s.layerVersionRef(r)
	if err != nil {
		return err
	}
	// Lambda answers alike whether or not the version was there.
	if err := s.opts.Store.DeleteLayerVersion(r.Context(), name, n); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// compatible reports whether lv matches the list filters of a request.
func compatible(lv store.LayerVersion, r *http.Request) bool {
	q := r.URL.Query()
	if rt := q.Get("CompatibleRuntime"); rt != "" && !slices.Contains(lv.CompatibleRuntimes, rt) {
		return false
	}
	if arch := q.Get("CompatibleArchitecture"); arch != "" && !slices.Contains(lv.CompatibleArchitectures, arch) {
		return false
	}
	return true
}

type listLayerVersionsResponse struct {
	LayerVersions []layerVersionsListItem `json:"LayerVersions"`
	NextMarker    *string                 `json:"NextMarker,omitempty"`
}

func (s *Server) listLayerVersions(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := s.layerName(r.PathValue("layer"))
	if err != nil {
		return err
	}
	all, err := s.opts.Store.ListLayerVersions(r.Context(), name)
	if err != nil {
		return err
	}
	var items []store.LayerVersion
	var keys []string
	for _, lv := range all {
		if compatible(lv, r) {
			items = append(items, lv)
			// Newest first: the keys sort as the list does.
			keys = append(keys, fmt.Sprintf("%010d", 1<<31-lv.Version))
		}
	}
	q := r.URL.Query()
	start, end, next, err := page(keys, q.Get("Marker"), q.Get("MaxItems"), 50)
	if err != nil {
		return err
	}
	resp := listLayerVersionsResponse{LayerVersions: []layerVersionsListItem{}, NextMarker: next}
	for _, lv := range items[start:end] {
		resp.LayerVersions = append(resp.LayerVersions, s.layerListItem(lv))
	}
	return writeJSON(w, http.StatusOK, resp)
}

type layersListItem struct {
	LayerName             string                `json:"LayerName"`
	LayerArn              string                `json:"LayerArn"`
	LatestMatchingVersion layerVersionsListItem `json:"LatestMatchingVersion"`
}

type listLayersResponse struct {
	Layers     []layersListItem `json:"Layers"`
	NextMarker *string          `json:"NextMarker,omitempty"`
}

// layers serves GET /2018-10-31/layers: ListLayers, or with
// ?find=LayerVersion&Arn=… GetLayerVersionByArn.
func (s *Server) layers(w http.ResponseWriter, r *http.Request, _ []byte) error {
	q := r.URL.Query()
	if q.Get("find") == "LayerVersion" {
		arn := q.Get("Arn")
		m := layerARNPattern().FindStringSubmatch(arn)
		if m == nil || m[5] == "" {
			return invocation.Errorf(invocation.ErrValidation,
				"1 validation error detected: Value '%s' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+", arn)
		}
		n, _ := strconv.Atoi(m[5])
		if m[2] != s.opts.Region || m[3] != s.opts.AccountID {
			return invocation.Errorf(invocation.ErrNotFound, "The resource you requested does not exist.")
		}
		lv, err := s.opts.Store.GetLayerVersion(r.Context(), m[4], n)
		if err != nil {
			return s.layerNotFound(err)
		}
		return writeJSON(w, http.StatusOK, s.layerVersion(r, lv))
	}
	all, err := s.opts.Store.ListLayers(r.Context())
	if err != nil {
		return err
	}
	var items []layersListItem
	var keys []string
	for _, lv := range all {
		// Newest first within a layer: the first match is the latest.
		if !compatible(lv, r) || len(items) > 0 && items[len(items)-1].LayerName == lv.LayerName {
			continue
		}
		items = append(items, layersListItem{LayerName: lv.LayerName, LayerArn: s.layerARN(lv.LayerName), LatestMatchingVersion: s.layerListItem(lv)})
		keys = append(keys, lv.LayerName)
	}
	start, end, next, err := page(keys, q.Get("Marker"), q.Get("MaxItems"), 50)
	if err != nil {
		return err
	}
	resp := listLayersResponse{Layers: []layersListItem{}, NextMarker: next}
	resp.Layers = append(resp.Layers, items[start:end]...)
	return writeJSON(w, http.StatusOK, resp)
}

// resolveLayers checks a version's layers, at most 5, each a version of a
// layer here, and that code and layers together stay within Lambda's
// 250 MB unzipped; it records each layer's size.
func (s *Server) resolveLayers(ctx context.Context, v *store.Version) error {
	if len(v.Layers) > 5 {
		return invocation.Errorf(invocation.ErrInvalid, "Cannot reference more than 5 layers.")
	}
	total := v.UnzippedSize
	v.LayerSizes, v.LayerDigests = nil, nil
	for _, arn := range v.Layers {
		lv, err := s.layerByARN(ctx, arn)
		if err != nil {
			return err
		}
		v.LayerSizes = append(v.LayerSizes, lv.CodeSize)
		v.LayerDigests = append(v.LayerDigests, lv.CodeDigest)
		total += lv.UnzippedSize
	}
	if total > invoke.MaxUnzipped {
		return invocation.Errorf(invocation.ErrInvalid,
			"Function code combined with layers exceeds the maximum allowed size of %d bytes. The actual size is %d bytes.", invoke.MaxUnzipped, total)
	}
	return nil
}

// layerByARN reads the layer version that a function's Layers names.
func (s *Server) layerByARN(ctx context.Context, arn string) (store.LayerVersion, error) {
	m := layerARNPattern().FindStringSubmatch(arn)
	if m == nil || m[5] == "" {
		return store.LayerVersion{}, invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '[%s]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 140, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+), Member must not be null]", arn)
	}
	n, _ := strconv.Atoi(m[5])
	if m[2] == s.opts.Region && m[3] == s.opts.AccountID {
		lv, err := s.opts.Store.GetLayerVersion(ctx, m[4], n)
		if err == nil {
			return lv, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.LayerVersion{}, err
		}
	}
	return store.LayerVersion{}, invocation.Errorf(invocation.ErrInvalid, "Layer version %s does not exist.", arn)
}
