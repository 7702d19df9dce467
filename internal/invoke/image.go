package invoke

import (
	"errors"
	"fmt"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/image"
	"github.com/emberfn/ember/internal/store"
)

// image is what version v's container image runs, with v's ImageConfig,
// and the handler it names.
func (s *Service) image(v store.Version) (*function.Image, string, error) {
	if s.opts.Images == nil {
		return nil, "", errors.New("this ember server holds no container images")
	}
	held, err := s.opts.Images.Get(v.ImageDigest)
	if err != nil {
		return nil, "", fmt.Errorf("image %s (%s): %w", v.ImageURI, v.ImageDigest, err)
	}
	var o image.Overrides
	if c := v.ImageConfig; c != nil {
		o = image.Overrides{EntryPoint: c.EntryPoint, Command: c.Command, WorkingDirectory: c.WorkingDirectory}
	}
	return s.opts.Images.Function(held, o)
}
