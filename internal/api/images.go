package api

import (
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/emberfn/ember/internal/image"
	"github.com/emberfn/ember/internal/invocation"
)

// imageResponse is ember's shape of one image held.
type imageResponse struct {
	Digest       string   `json:"Digest"`
	References   []string `json:"References"`
	Architecture string   `json:"Architecture"`
	Size         int64    `json:"Size"`
	Layers       int      `json:"Layers"`
	Loaded       string   `json:"Loaded"`
	EntryPoint   []string `json:"EntryPoint,omitempty"`
	Command      []string `json:"Command,omitempty"`
	WorkingDir   string   `json:"WorkingDirectory,omitempty"`
}

type imagesResponse struct {
	Images []imageResponse `json:"Images"`
}

func imagesOf(imgs []image.Image) imagesResponse {
	out := imagesResponse{Images: make([]imageResponse, 0, len(imgs))}
	for _, img := range imgs {
		refs := img.References
		if refs == nil {
			refs = []string{}
		}
		out.Images = append(out.Images, imageResponse{
			Digest: img.Digest, References: refs, Architecture: img.Architecture, Size: img.Size,
			Layers: len(img.Layers), Loaded: img.Loaded.UTC().Format(time.RFC3339),
			EntryPoint: img.Config.Entrypoint, Command: img.Config.Cmd, WorkingDir: img.Config.WorkingDir,
		})
	}
	return out
}

// loadImagesRequest names a docker-save tarball or an OCI image layout on
// the server's machine.
type loadImagesRequest struct {
	Path         string `json:"Path"`
	Architecture string `json:"Architecture"`
}

// loadImages: POST /ember/v1/images/load.
func (s *Server) loadImages(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req loadImagesRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.Path == "" {
		return missing("path")
	}
	imgs, err := s.ctl.LoadImages(r.Context(), req.Path, req.Architecture)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, imagesOf(imgs))
}

// pullImageRequest names an image in a registry, with the caller's
// credentials for it, if any.
type pullImageRequest struct {
	Reference     string `json:"Reference"`
	Architecture  string `json:"Architecture"`
	Insecure      bool   `json:"Insecure"`
	Username      string `json:"Username"`
	Password      string `json:"Password"`
	IdentityToken string `json:"IdentityToken"`
	RegistryToken string `json:"RegistryToken"`
}

// pullImage: POST /ember/v1/images/pull.
func (s *Server) pullImage(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req pullImageRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.Reference == "" {
		return missing("reference")
	}
	opts := image.PullOptions{Arch: req.Architecture, Insecure: req.Insecure}
	if req.Username != "" || req.Password != "" || req.IdentityToken != "" || req.RegistryToken != "" {
		opts.Auth = authn.FromConfig(authn.AuthConfig{
			Username: req.Username, Password: req.Password, IdentityToken: req.IdentityToken, RegistryToken: req.RegistryToken,
		})
	}
	img, err := s.ctl.PullImage(r.Context(), req.Reference, opts)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, imagesOf([]image.Image{img}))
}

// listImages: GET /ember/v1/images.
func (s *Server) listImages(w http.ResponseWriter, r *http.Request, _ []byte) error {
	imgs, err := s.ctl.Images()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, imagesOf(imgs))
}

// removeImage: DELETE /ember/v1/images?Reference=REF.
func (s *Server) removeImage(w http.ResponseWriter, r *http.Request, _ []byte) error {
	ref := r.URL.Query().Get("Reference")
	if ref == "" {
		return invocation.Errorf(invocation.ErrValidation, "1 validation error detected: Value null at 'reference' failed to satisfy constraint: Member must not be null")
	}
	if err := s.ctl.RemoveImage(r.Context(), ref); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type pruneResponse struct {
	Images []string `json:"Images"`
	Layers int      `json:"Layers"`
	Bytes  int64    `json:"Bytes"`
}

// pruneImages: POST /ember/v1/images/prune.
func (s *Server) pruneImages(w http.ResponseWriter, r *http.Request, _ []byte) error {
	rep, err := s.ctl.PruneImages(r.Context())
	if err != nil {
		return err
	}
	imgs := rep.Images
	if imgs == nil {
		imgs = []string{}
	}
	return writeJSON(w, http.StatusOK, pruneResponse{Images: imgs, Layers: rep.Layers, Bytes: rep.Bytes})
}
