package client

import (
	"context"
	"fmt"
	"net/http"
)

// LayerVersion is the API's answer to PublishLayerVersion and
// GetLayerVersion.
type LayerVersion struct {
	Content struct {
		Location   string `json:"Location"`
		CodeSha256 string `json:"CodeSha256"`
		CodeSize   int64  `json:"CodeSize"`
	} `json:"Content"`
	LayerArn           string   `json:"LayerArn"`
	LayerVersionArn    string   `json:"LayerVersionArn"`
	Description        string   `json:"Description"`
	CreatedDate        string   `json:"CreatedDate"`
	Version            int64    `json:"Version"`
	CompatibleRuntimes []string `json:"CompatibleRuntimes"`
}

// PublishLayerInput is a layer version to publish.
type PublishLayerInput struct {
	LayerName          string
	Description        string
	ZipFile            []byte
	CompatibleRuntimes []string
}

type publishLayerRequest struct {
	Description        string       `json:"Description,omitempty"`
	Content            functionCode `json:"Content"`
	CompatibleRuntimes []string     `json:"CompatibleRuntimes,omitempty"`
}

// PublishLayerVersion publishes a layer version (POST
// /2018-10-31/layers/{name}/versions, 201).
func (c *Client) PublishLayerVersion(ctx context.Context, in PublishLayerInput) (LayerVersion, error) {
	r := request{method: http.MethodPost, path: "/2018-10-31/layers/" + escape(in.LayerName) + "/versions"}
	body := publishLayerRequest{Description: in.Description, Content: functionCode{ZipFile: in.ZipFile}, CompatibleRuntimes: in.CompatibleRuntimes}
	var out LayerVersion
	if err := c.doJSON(ctx, r, body, &out, http.StatusCreated); err != nil {
		return LayerVersion{}, fmt.Errorf("PublishLayerVersion %s: %w", in.LayerName, err)
	}
	return out, nil
}
