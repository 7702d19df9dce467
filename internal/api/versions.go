package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"

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
	fn, err := s.opts.Store.GetFunction(r.Context(), ref.Name)
	if err != nil {
		return storeError(err, "Function not found: "+s.functionARN(ref.Name), "")
	}
	v, err := s.publish(r.Context(), fn, req.Description, req.CodeSha256, req.RevisionID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s.configuration(v))
}

// publish makes a version of $LATEST. If $LATEST is what the newest
// version already holds, Lambda returns that version instead.
func (s *Server) publish(ctx context.Context, fn store.Function, description, codeSha256, revision string) (store.Version, error) {
	name := fn.Latest.FunctionName
	if codeSha256 != "" && codeSha256 != fn.Latest.CodeSha256 {
		return store.Version{}, invocation.Errorf(invocation.ErrInvalid,
			"CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", codeSha256, fn.Latest.CodeSha256)
	}
	if revision != "" && revision != fn.Latest.RevisionID {
		return store.Version{}, invocation.Errorf(invocation.ErrPrecondition,
			"The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
	}
	if fn.LastPublished > 0 {
		last, err := s.opts.Store.GetVersion(ctx, name, strconv.Itoa(fn.LastPublished))
		if err == nil && sameContent(last, fn.Latest) {
			return last, nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Version{}, err
		}
	}
	for {
		n := fn.LastPublished + 1
		fn.LastPublished = n
		updated, err := s.opts.Store.UpdateFunction(ctx, fn)
		if errors.Is(err, store.ErrChanged) {
			// Another publish or update came between: start again from
			// what is stored now.
			if fn, err = s.opts.Store.GetFunction(ctx, name); err != nil {
				return store.Version{}, storeError(err, "Function not found: "+s.functionARN(name), "")
			}
			continue
		}
		if err != nil {
			return store.Version{}, storeError(err, "Function not found: "+s.functionARN(name), "")
		}
		v := updated.Latest
		v.Version = strconv.Itoa(n)
		v.Description = description
		if description == "" {
			v.Description = updated.Latest.Description
		}
		v.RevisionID = newRevisionID()
		v.LastModified = s.opts.Now()
		if err := s.opts.Store.CreateVersion(ctx, v); err != nil {
			return store.Version{}, fmt.Errorf("publish version %d of %s: %w", n, name, err)
		}
		return v, nil
	}
}

// sameContent reports whether a published version holds what $LATEST
// holds now: the same code and configuration.
func sameContent(v, latest store.Version) bool {
	return v.CodeSha256 == latest.CodeSha256 && v.Runtime == latest.Runtime && v.Handler == latest.Handler &&
		v.Role == latest.Role && v.MemorySize == latest.MemorySize && v.Timeout == latest.Timeout &&
		v.EphemeralStorage == latest.EphemeralStorage && maps.Equal(v.Environment, latest.Environment) &&
		slices.Equal(v.Layers, latest.Layers) && slices.Equal(v.Architectures, latest.Architectures)
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
	vs, err := s.opts.Store.ListVersions(r.Context(), ref.Name)
	if err != nil {
		return storeError(err, "Function not found: "+s.functionARN(ref.Name), "")
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

// checkAlias checks an alias's versions and weights as Lambda does.
func (s *Server) checkAlias(ctx context.Context, a store.Alias) error {
	if !versionPattern().MatchString(a.FunctionVersion) {
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%s' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)", a.FunctionVersion)
	}
	exists := func(version string) error {
		if version == function.LatestVersion {
			return nil
		}
		if _, err := s.opts.Store.GetVersion(ctx, a.FunctionName, version); err != nil {
			return storeError(err, "Function not found: "+s.functionARN(a.FunctionName)+":"+version, "")
		}
		return nil
	}
	if err := exists(a.FunctionVersion); err != nil {
		return err
	}
	if len(a.Weights) > 1 {
		return invocation.Errorf(invocation.ErrInvalid, "Number of items in AdditionalVersionWeights cannot be greater than 1")
	}
	for version, weight := range a.Weights {
		if weight < 0 || weight > 1 {
			return invocation.Errorf(invocation.ErrValidation,
				"1 validation error detected: Value '%v' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]", weight)
		}
		if !isVersionNumber(version) || a.FunctionVersion == function.LatestVersion {
			return invocation.Errorf(invocation.ErrInvalid, "$LATEST is not supported for an alias pointing to more than 1 version")
		}
		if version == a.FunctionVersion {
			return invocation.Errorf(invocation.ErrInvalid,
				"Invalid function version %s. Function version %s is already included in routing configuration.", version, version)
		}
		if err := exists(version); err != nil {
			return err
		}
	}
	return nil
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
	ctx := r.Context()
	if _, err := s.opts.Store.GetFunction(ctx, ref.Name); err != nil {
		return storeError(err, "Function not found: "+s.functionARN(ref.Name), "")
	}
	a := store.Alias{FunctionName: ref.Name, Name: req.Name, FunctionVersion: *req.FunctionVersion, RevisionID: newRevisionID()}
	setIf(&a.Description, req.Description)
	if req.RoutingConfig != nil {
		a.Weights = req.RoutingConfig.AdditionalVersionWeights
	}
	if err := s.checkAlias(ctx, a); err != nil {
		return err
	}
	a, err = s.opts.Store.CreateAlias(ctx, a)
	if err != nil {
		return storeError(err, "Function not found: "+s.functionARN(ref.Name),
			"Alias already exists: "+s.functionARN(ref.Name)+":"+req.Name)
	}
	return writeJSON(w, http.StatusCreated, s.alias(a))
}

func checkAliasName(name string) error {
	if name == "" {
		return missing("name")
	}
	if !aliasPattern().MatchString(name) || isVersionNumber(name) {
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
	a, err := s.opts.Store.GetAlias(r.Context(), ref.Name, ref.Qualifier)
	if err != nil {
		return storeError(err, "Alias not found: "+s.qualifiedARN(ref), "")
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
	ctx := r.Context()
	a, err := s.opts.Store.GetAlias(ctx, ref.Name, ref.Qualifier)
	if err != nil {
		return storeError(err, "Alias not found: "+s.qualifiedARN(ref), "")
	}
	if req.RevisionID != "" && req.RevisionID != a.RevisionID {
		return invocation.Errorf(invocation.ErrPrecondition,
			"The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
	}
	setIf(&a.FunctionVersion, req.FunctionVersion)
	setIf(&a.Description, req.Description)
	if req.RoutingConfig != nil {
		a.Weights = req.RoutingConfig.AdditionalVersionWeights
	}
	if err := s.checkAlias(ctx, a); err != nil {
		return err
	}
	a.RevisionID = newRevisionID()
	if a, err = s.opts.Store.UpdateAlias(ctx, a); err != nil {
		return storeError(err, "Alias not found: "+s.qualifiedARN(ref), "")
	}
	return writeJSON(w, http.StatusOK, s.alias(a))
}

func (s *Server) deleteAlias(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.aliasRef(r)
	if err != nil {
		return err
	}
	if err := s.opts.Store.DeleteAlias(r.Context(), ref.Name, ref.Qualifier); err != nil && !errors.Is(err, store.ErrNotFound) {
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
	ctx := r.Context()
	if _, err := s.opts.Store.GetFunction(ctx, ref.Name); err != nil {
		return storeError(err, "Function not found: "+s.functionARN(ref.Name), "")
	}
	all, err := s.opts.Store.ListAliases(ctx, ref.Name)
	if err != nil {
		return storeError(err, "Function not found: "+s.functionARN(ref.Name), "")
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
