package api

import (
	"context"
	"net/http"
	"time"

	"github.com/emberfn/ember/internal/control"
	"github.com/emberfn/ember/internal/furl"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
)

// urlTimeFormat is a function URL's CreationTime and LastModifiedTime.
const urlTimeFormat = "2006-01-02T15:04:05.000000Z"

// urlCors is Cors on the wire.
type urlCors struct {
	AllowCredentials *bool    `json:"AllowCredentials,omitempty"`
	AllowHeaders     []string `json:"AllowHeaders,omitempty"`
	AllowMethods     []string `json:"AllowMethods,omitempty"`
	AllowOrigins     []string `json:"AllowOrigins,omitempty"`
	ExposeHeaders    []string `json:"ExposeHeaders,omitempty"`
	MaxAge           *int     `json:"MaxAge,omitempty"`
}

// urlRequest is the body of CreateFunctionUrlConfig and
// UpdateFunctionUrlConfig.
type urlRequest struct {
	AuthType   *string  `json:"AuthType"`
	Cors       *urlCors `json:"Cors"`
	InvokeMode *string  `json:"InvokeMode"`
}

func (u urlRequest) change() control.URLChange {
	c := control.URLChange{AuthType: u.AuthType, InvokeMode: u.InvokeMode}
	if u.Cors != nil {
		c.Cors = &store.URLCors{AllowHeaders: u.Cors.AllowHeaders, AllowMethods: u.Cors.AllowMethods,
			AllowOrigins: u.Cors.AllowOrigins, ExposeHeaders: u.Cors.ExposeHeaders}
		if u.Cors.AllowCredentials != nil {
			c.Cors.AllowCredentials = *u.Cors.AllowCredentials
		}
		if u.Cors.MaxAge != nil {
			c.Cors.MaxAge = *u.Cors.MaxAge
		}
	}
	return c
}

// functionURLConfig is FunctionUrlConfig and the answers of Create, Get
// and Update, which Create's lacks LastModifiedTime of.
type functionURLConfig struct {
	FunctionUrl      string   `json:"FunctionUrl"`
	FunctionArn      string   `json:"FunctionArn"`
	AuthType         string   `json:"AuthType"`
	Cors             *urlCors `json:"Cors,omitempty"`
	CreationTime     string   `json:"CreationTime"`
	LastModifiedTime string   `json:"LastModifiedTime,omitempty"`
	InvokeMode       string   `json:"InvokeMode"`
}

func (s *Server) urlConfig(u store.URLConfig) functionURLConfig {
	out := functionURLConfig{
		FunctionUrl:      s.ctl.FunctionURL(u),
		FunctionArn:      s.ctl.URLFunctionARN(u),
		AuthType:         u.AuthType,
		CreationTime:     u.CreationTime.UTC().Format(urlTimeFormat),
		LastModifiedTime: u.LastModifiedTime.UTC().Format(urlTimeFormat),
		InvokeMode:       u.InvokeMode,
	}
	if c := u.Cors; c != nil {
		out.Cors = &urlCors{AllowHeaders: c.AllowHeaders, AllowMethods: c.AllowMethods, AllowOrigins: c.AllowOrigins, ExposeHeaders: c.ExposeHeaders}
		if c.AllowCredentials {
			out.Cors.AllowCredentials = &c.AllowCredentials
		}
		if c.MaxAge != 0 {
			out.Cors.MaxAge = &c.MaxAge
		}
	}
	return out
}

// urlRef reads the function and ?Qualifier of a function URL operation.
func (s *Server) urlRef(r *http.Request) (functionRef, error) {
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return ref, err
	}
	return s.withQualifier(ref, r.URL.Query().Get("Qualifier"))
}

func (s *Server) createURL(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req urlRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	ref, err := s.urlRef(r)
	if err != nil {
		return err
	}
	u, err := s.ctl.CreateURL(r.Context(), ref.Name, ref.Qualifier, req.change())
	if err != nil {
		return err
	}
	out := s.urlConfig(u)
	out.LastModifiedTime = ""
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) getURL(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.urlRef(r)
	if err != nil {
		return err
	}
	u, err := s.ctl.URL(r.Context(), ref.Name, ref.Qualifier)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.urlConfig(u))
}

func (s *Server) updateURL(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req urlRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	ref, err := s.urlRef(r)
	if err != nil {
		return err
	}
	u, err := s.ctl.UpdateURL(r.Context(), ref.Name, ref.Qualifier, req.change())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.urlConfig(u))
}

func (s *Server) deleteURL(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.urlRef(r)
	if err != nil {
		return err
	}
	if err := s.ctl.DeleteURL(r.Context(), ref.Name, ref.Qualifier); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type listURLsResponse struct {
	FunctionUrlConfigs []functionURLConfig `json:"FunctionUrlConfigs"`
	NextMarker         *string             `json:"NextMarker,omitempty"`
}

func (s *Server) listURLs(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref, err := s.parseFunctionRef(r.PathValue("name"), "functionName")
	if err != nil {
		return err
	}
	all, err := s.ctl.URLs(r.Context(), ref.Name)
	if err != nil {
		return err
	}
	keys := make([]string, len(all))
	for i, u := range all {
		keys[i] = u.Qualifier
	}
	q := r.URL.Query()
	start, end, next, err := page(keys, q.Get("Marker"), q.Get("MaxItems"), 50)
	if err != nil {
		return err
	}
	resp := listURLsResponse{FunctionUrlConfigs: []functionURLConfig{}, NextMarker: next}
	for _, u := range all[start:end] {
		resp.FunctionUrlConfigs = append(resp.FunctionUrlConfigs, s.urlConfig(u))
	}
	return writeJSON(w, http.StatusOK, resp)
}

// lookupURL finds the function URL of an id for the function URL handler.
func (s *Server) lookupURL(ctx context.Context, id string) (furl.Target, error) {
	u, err := s.ctl.URLByID(ctx, id)
	if err != nil {
		return furl.Target{}, err
	}
	t := furl.Target{URLID: u.ID, FunctionName: u.FunctionName, Qualifier: u.Qualifier, AuthType: u.AuthType, InvokeMode: u.InvokeMode}
	if c := u.Cors; c != nil {
		t.Cors = &furl.Cors{AllowCredentials: c.AllowCredentials, AllowHeaders: c.AllowHeaders, AllowMethods: c.AllowMethods,
			AllowOrigins: c.AllowOrigins, ExposeHeaders: c.ExposeHeaders, MaxAge: c.MaxAge}
	}
	return t, nil
}

// invokeURL runs a function URL's function.
func (s *Server) invokeURL(ctx context.Context, name, qualifier string, req invocation.Request) (invocation.Response, error) {
	resp, _, _, err := s.opts.Invoke.Invoke(ctx, name, qualifier, req)
	return resp, err
}

// newURLHandler returns the handler of requests to function URLs.
func (s *Server) newURLHandler(now func() time.Time) *furl.Handler {
	return furl.NewHandler(furl.Options{
		Lookup: s.lookupURL, Invoke: s.invokeURL, Keys: s.opts.Keys,
		Region: s.opts.Region, AccountID: s.opts.AccountID, Log: s.log, Now: now,
		Limit: s.opts.StreamBandwidth.Writer,
	})
}
