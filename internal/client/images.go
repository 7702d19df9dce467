package client

import (
	"context"
	"fmt"
	"net/http"
)

const imagesPath = "/ember/v1/images"

// Image is one container image the server holds (ember's own API).
type Image struct {
	Digest           string   `json:"Digest"`
	References       []string `json:"References"`
	Architecture     string   `json:"Architecture"`
	Size             int64    `json:"Size"`
	Layers           int      `json:"Layers"`
	Loaded           string   `json:"Loaded"`
	EntryPoint       []string `json:"EntryPoint,omitempty"`
	Command          []string `json:"Command,omitempty"`
	WorkingDirectory string   `json:"WorkingDirectory,omitempty"`
}

type imagesResponse struct {
	Images []Image `json:"Images"`
}

// LoadImages has the server load the images of a docker-save tarball or
// an OCI image layout at path on its machine (POST /ember/v1/images/load);
// arch "" loads every Lambda architecture found.
func (c *Client) LoadImages(ctx context.Context, path, arch string) ([]Image, error) {
	in := struct {
		Path         string `json:"Path"`
		Architecture string `json:"Architecture,omitempty"`
	}{path, arch}
	var out imagesResponse
	if err := c.doJSON(ctx, request{method: http.MethodPost, path: imagesPath + "/load"}, in, &out, http.StatusOK); err != nil {
		return nil, fmt.Errorf("load images from %s: %w", path, err)
	}
	return out.Images, nil
}

// PullInput names an image in a registry and the credentials for it.
type PullInput struct {
	Reference     string `json:"Reference"`
	Architecture  string `json:"Architecture,omitempty"`
	Insecure      bool   `json:"Insecure,omitempty"`
	Username      string `json:"Username,omitempty"`
	Password      string `json:"Password,omitempty"`
	IdentityToken string `json:"IdentityToken,omitempty"`
	RegistryToken string `json:"RegistryToken,omitempty"`
}

// PullImage has the server pull an image (POST /ember/v1/images/pull).
func (c *Client) PullImage(ctx context.Context, in PullInput) (Image, error) {
	var out imagesResponse
	if err := c.doJSON(ctx, request{method: http.MethodPost, path: imagesPath + "/pull"}, in, &out, http.StatusOK); err != nil {
		return Image{}, fmt.Errorf("pull %s: %w", in.Reference, err)
	}
	if len(out.Images) != 1 {
		return Image{}, fmt.Errorf("pull %s: the server answered %d images", in.Reference, len(out.Images))
	}
	return out.Images[0], nil
}

// Images lists the images the server holds (GET /ember/v1/images).
func (c *Client) Images(ctx context.Context) ([]Image, error) {
	var out imagesResponse
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: imagesPath}, nil, &out, http.StatusOK); err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	return out.Images, nil
}

// RemoveImage forgets a reference or, by digest, an image (DELETE
// /ember/v1/images?Reference=, 204); refused while a function runs it.
func (c *Client) RemoveImage(ctx context.Context, ref string) error {
	r := request{method: http.MethodDelete, path: imagesPath, query: [][2]string{{"Reference", ref}}}
	if _, _, err := c.do(ctx, r, http.StatusNoContent); err != nil {
		return fmt.Errorf("remove image %s: %w", ref, err)
	}
	return nil
}

// PruneReport is what PruneImages removed.
type PruneReport struct {
	Images []string `json:"Images"`
	Layers int      `json:"Layers"`
	Bytes  int64    `json:"Bytes"`
}

// PruneImages removes what no function uses: images without a reference
// and layers of no image (POST /ember/v1/images/prune).
func (c *Client) PruneImages(ctx context.Context) (PruneReport, error) {
	var out PruneReport
	if err := c.doJSON(ctx, request{method: http.MethodPost, path: imagesPath + "/prune"}, nil, &out, http.StatusOK); err != nil {
		return PruneReport{}, fmt.Errorf("prune images: %w", err)
	}
	return out, nil
}
