package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/emberfn/ember/internal/codecache"
	"github.com/emberfn/ember/internal/codezip"
	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
)

// MaxZipped is Lambda's limit on a zip uploaded directly.
const MaxZipped = 50 * 1024 * 1024

// LocalCodeBucket is ember's extension of FunctionCode: S3Bucket
// "ember-local" with S3Key a directory or .zip file on the server's machine
// takes the code from there, as the AWS CLI and SDKs can send it.
const LocalCodeBucket = "ember-local"

// Code is where a function's or layer's code comes from: the API's
// FunctionCode.
type Code struct {
	ZipFile         []byte
	S3Bucket        string
	S3Key           string
	S3ObjectVersion string
	ImageURI        string
}

// storedCode is a zip stored, with its unzipped size.
type storedCode struct {
	store.Code
	Unzipped int64
}

// storeCode checks a zip as Lambda does and stores it.
func (p *Plane) storeCode(ctx context.Context, c Code) (storedCode, error) {
	if c.S3Bucket == LocalCodeBucket {
		zip, err := p.localCode(c.S3Key)
		if err != nil {
			return storedCode{}, err
		}
		c = Code{ZipFile: zip}
	}
	if c.S3Bucket != "" || c.S3Key != "" {
		return storedCode{}, invocation.Errorf(invocation.ErrInvalid,
			"Code from S3 is not supported by this ember server; upload the .zip file as ZipFile, or give S3Bucket %q and the local path as S3Key.", LocalCodeBucket)
	}
	if len(c.ZipFile) == 0 {
		return storedCode{}, invocation.Errorf(invocation.ErrInvalid, "Please provide a source for function code.")
	}
	if len(c.ZipFile) > MaxZipped {
		return storedCode{}, invocation.Errorf(invocation.ErrTooLarge, "Zipped size must be smaller than %d bytes", MaxZipped)
	}
	unzipped, err := codecache.Check(c.ZipFile, function.MaxUnzipped)
	if err != nil {
		if errors.Is(err, codecache.ErrTooLarge) {
			return storedCode{}, invocation.Errorf(invocation.ErrInvalid, "Unzipped size must be smaller than %d bytes", function.MaxUnzipped)
		}
		return storedCode{}, invocation.Errorf(invocation.ErrInvalid, "Could not unzip uploaded file. Please check your file, then try to upload again.")
	}
	code, err := p.opts.Store.PutCode(ctx, bytes.NewReader(c.ZipFile))
	if err != nil {
		return storedCode{}, fmt.Errorf("store code: %w", err)
	}
	return storedCode{code, unzipped}, nil
}

// localCode reads the code at a local path, zipping a directory.
func (p *Plane) localCode(path string) ([]byte, error) {
	if !p.opts.AllowLocalCode {
		return nil, invocation.Errorf(invocation.ErrInvalid,
			"Code from a local path is accepted only by an ember server that listens on loopback.")
	}
	if !filepath.IsAbs(path) {
		return nil, invocation.Errorf(invocation.ErrInvalid, "The local code path %q is not absolute.", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, invocation.Errorf(invocation.ErrInvalid, "Could not read the local code at %s: %v", path, err)
	}
	if !st.IsDir() {
		if st.Size() > MaxZipped {
			return nil, invocation.Errorf(invocation.ErrTooLarge, "Zipped size must be smaller than %d bytes", MaxZipped)
		}
		zip, err := os.ReadFile(path)
		if err != nil {
			return nil, invocation.Errorf(invocation.ErrInvalid, "Could not read the local code at %s: %v", path, err)
		}
		return zip, nil
	}
	var buf bytes.Buffer
	if err := codezip.Create(path, &buf); err != nil {
		return nil, invocation.Errorf(invocation.ErrInvalid, "Could not zip the local code at %s: %v", path, err)
	}
	return buf.Bytes(), nil
}

// CodeFile writes the stored zip of a digest to path.
func (p *Plane) CodeFile(ctx context.Context, digest, path string) error {
	if err := p.opts.Store.CodeFile(ctx, digest, path); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return invocation.Errorf(invocation.ErrNotFound, "No code with digest %s", digest)
		}
		return err
	}
	return nil
}
