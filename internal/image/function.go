package image

import (
	"slices"
	"strings"

	"github.com/emberfn/ember/internal/function"
)

// Overrides are a function's ImageConfig: a nil list or an empty
// WorkingDirectory keeps the image's own setting.
type Overrides struct {
	EntryPoint       []string
	Command          []string
	WorkingDirectory string
}

// Function returns what a function of img runs: the image's layers as
// its root, and its ENTRYPOINT, CMD, WORKDIR and ENV with o over them.
// handler is CMD's first word, which Lambda's base images take as the
// handler.
func (s *Store) Function(img Image, o Overrides) (fn *function.Image, handler string, err error) {
	layers, err := s.LayerDirs(img)
	if err != nil {
		return nil, "", err
	}
	entry, cmd, dir := img.Config.Entrypoint, img.Config.Cmd, img.Config.WorkingDir
	if o.EntryPoint != nil {
		entry = o.EntryPoint
	}
	if o.Command != nil {
		cmd = o.Command
	}
	if o.WorkingDirectory != "" {
		dir = o.WorkingDirectory
	}
	env := make(map[string]string, len(img.Config.Env))
	for _, kv := range img.Config.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			env[k] = v
		}
	}
	if len(cmd) > 0 {
		handler = cmd[0]
	}
	return &function.Image{Layers: layers, Command: slices.Concat(entry, cmd), WorkingDir: dir, Env: env}, handler, nil
}
