package api

import (
	"fmt"
	"net/http"

	"github.com/emberfn/ember/internal/control"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
)

type publishVersionRequest struct {
	CodeSha256  string `json:"CodeSha256"`
	Description string `json:"Description"`
	RevisionID  string `json:"RevisionId"`
}

func (s *Server) publishVersion(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req publishVersionRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return err
	}
	v, err := s.ctl.PublishVersion(r.Context(), ref.Name, control.Publish{
		Description: req.Description,
		CodeSha256:  req.CodeSha256,
		RevisionID:  req.RevisionID,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.configuration(v))
}

type listVersionsResponse struct {
	Versions   []functionConfiguration `json:"Versions"`
	NextMarker *string                 `json:"NextMarker,omitempty"`
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return err
	}
	vs, err := s.ctl.Versions(r.Context(), ref.Name)
	if err != nil {
		return err
	}
	keys := make([]string, len(vs))
	for i, v := range vs {
		keys[i] = fmt.Sprintf("%010s", v.Version)
		if v.Version == function.LatestVersion {
			keys[i] = "" // first
		}
	}
	q := r.URL.Query()
	start, end, next, err := page(keys, q.Get("Marker"), q.Get("MaxItems"), 50)
	if err != nil {
		return err
	}
	resp := listVersionsResponse{Versions: []functionConfiguration{}, NextMarker: next}
	for _, v := range vs[start:end] {
		resp.Versions = append(resp.Versions, s.configuration(v))
	}
	return writeJSON(w, http.StatusOK, resp)
}

// aliasConfiguration is the API's AliasConfiguration shape.
type aliasConfiguration struct {
	AliasArn        string         `json:"AliasArn"`
	Name            string         `json:"Name"`
	FunctionVersion string         `json:"FunctionVersion"`
	Description     string         `json:"Description"`
	RoutingConfig   *routingConfig `json:"RoutingConfig,omitempty"`
	RevisionID      string         `json:"RevisionId"`
}

type routingConfig struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights"`
}

func (s *Server) alias(a store.Alias) aliasConfiguration {
	c := aliasConfiguration{
		AliasArn:        s.functionARN(a.FunctionName) + ":" + a.Name,
		Name:            a.Name,
		FunctionVersion: a.FunctionVersion,
		Description:     a.Description,
		RevisionID:      a.RevisionID,
	}
	if len(a.Weights) > 0 {
		c.RoutingConfig = &routingConfig{AdditionalVersionWeights: a.Weights}
	}
	return c
}

type aliasRequest struct {
	Name            string         `json:"Name"`
	FunctionVersion *string        `json:"FunctionVersion"`
	Description     *string        `json:"Description"`
	RoutingConfig   *routingConfig `json:"RoutingConfig"`
	RevisionID      string         `json:"RevisionId"`
}

func (s *Server) createAlias(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req aliasRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return err
	}
	if err := checkAliasName(req.Name); err != nil {
		return err
	}
	if req.FunctionVersion == nil {
		return missing("functionVersion")
	}
	na := control.NewAlias{Name: req.Name, FunctionVersion: *req.FunctionVersion}
	if req.Description != nil {
		na.Description = *req.Description
	}
	if req.RoutingConfig != nil {
		na.Weights = req.RoutingConfig.AdditionalVersionWeights
	}
	a, err := s.ctl.CreateAlias(r.Context(), ref.Name, na)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.alias(a))
}

func checkAliasName(name string) error {
	if name == "" {
		return missing("name")
	}
	if !aliasPattern().MatchString(name) || control.IsVersionNumber(name) {
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)", name)
	}
	return nil
}

// aliasRef reads the function and alias names of the path.
func (s *Server) aliasRef(r *http.Request) (functionRef, error) {
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return ref, err
	}
	if err := checkAliasName(r.PathValue("alias")); err != nil {
		return ref, err
	}
	ref.Qualifier = r.PathValue("alias")
	return ref, nil
}

func (s *Server) getAlias(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.aliasRef(r)
	if err != nil {
		return err
	}
	a, err := s.ctl.Alias(r.Context(), ref.Name, ref.Qualifier)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.alias(a))
}

func (s *Server) updateAlias(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req aliasRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	ref, err := s.aliasRef(r)
	if err != nil {
		return err
	}
	c := control.AliasChange{FunctionVersion: req.FunctionVersion, Description: req.Description, RevisionID: req.RevisionID}
	if req.RoutingConfig != nil {
		c.Weights = &req.RoutingConfig.AdditionalVersionWeights
	}
	a, err := s.ctl.UpdateAlias(r.Context(), ref.Name, ref.Qualifier, c)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.alias(a))
}

func (s *Server) deleteAlias(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.aliasRef(r)
	if err != nil {
		return err
	}
	if err := s.ctl.DeleteAlias(r.Context(), ref.Name, ref.Qualifier); err != nil {
		return err
	}
	// Lambda answers a deleted alias's DeleteAlias alike: 204.
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type listAliasesResponse struct {
	Aliases    []aliasConfiguration `json:"Aliases"`
	NextMarker *string              `json:"NextMarker,omitempty"`
}

func (s *Server) listAliases(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return err
	}
	all, err := s.ctl.Aliases(r.Context(), ref.Name)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var aliases []store.Alias
	var keys []string
	for _, a := range all {
		if fv := q.Get("FunctionVersion"); fv != "" && a.FunctionVersion != fv {
			continue
		}
		aliases = append(aliases, a)
		keys = append(keys, a.Name)
	}
	start, end, next, err := page(keys, q.Get("Marker"), q.Get("MaxItems"), 50)
	if err != nil {
		return err
	}
	resp := listAliasesResponse{Aliases: []aliasConfiguration{}, NextMarker: next}
	for _, a := range aliases[start:end] {
		resp.Aliases = append(resp.Aliases, s.alias(a))
	}
	return writeJSON(w, http.StatusOK, resp)
}
