package api

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/emberfn/ember/internal/control"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
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

func (s *Server) layerARN(name string) string { return s.ctl.LayerARN(name) }

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
	name, err := s.ctl.LayerName(r.PathValue("layer"))
	if err != nil {
		return err
	}
	if req.Content == nil {
		return missing("content")
	}
	lv, err := s.ctl.PublishLayerVersion(r.Context(), control.NewLayerVersion{
		Name:                    name,
		Description:             req.Description,
		Content:                 req.Content.code(),
		CompatibleRuntimes:      req.CompatibleRuntimes,
		CompatibleArchitectures: req.CompatibleArchitectures,
		LicenseInfo:             req.LicenseInfo,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.layerVersion(r, lv))
}

// layerVersionRef reads {layer} and {version} of the path.
func (s *Server) layerVersionRef(r *http.Request) (string, int, error) {
	name, err := s.ctl.LayerName(r.PathValue("layer"))
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

func (s *Server) getLayerVersion(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, n, err := s.layerVersionRef(r)
	if err != nil {
		return err
	}
	lv, err := s.ctl.LayerVersion(r.Context(), name, n)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.layerVersion(r, lv))
}

func (s *Server) deleteLayerVersion(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, n, err := s.layerVersionRef(r)
	if err != nil {
		return err
	}
	if err := s.ctl.DeleteLayerVersion(r.Context(), name, n); err != nil {
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
	name, err := s.ctl.LayerName(r.PathValue("layer"))
	if err != nil {
		return err
	}
	all, err := s.ctl.LayerVersions(r.Context(), name)
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
		lv, err := s.ctl.LayerVersionByARN(r.Context(), q.Get("Arn"))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, s.layerVersion(r, lv))
	}
	all, err := s.ctl.Layers(r.Context())
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
