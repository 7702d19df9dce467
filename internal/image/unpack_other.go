//go:build !linux

package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// unpackLayer needs Linux: layer trees are overlayfs lowerdirs, with
// whiteouts as character devices and opaque directories as xattrs.
func unpackLayer(ctx context.Context, r io.Reader, tree string, limit int64, log *slog.Logger) (int64, error) {
	return 0, fmt.Errorf("unpack layer: %w", errors.ErrUnsupported)
}

// DiskUsage needs Linux's file metadata.
func DiskUsage(dir string) (int64, error) {
	return 0, fmt.Errorf("disk usage of %s: %w", dir, errors.ErrUnsupported)
}
