package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/emberfn/ember/bench/internal/harness"
	"github.com/emberfn/ember/internal/codezip"
)

const (
	// bigZipSize is the size of the big function's zip: 10 MiB.
	bigZipSize = 10 << 20
	// randomName is the file of random bytes beside the bootstrap in the
	// big zip.
	randomName = "random.bin"
	// benchRole is the execution role of every function; ember checks its
	// form only.
	benchRole = "arn:aws:iam::123456789012:role/ember-bench"
	// benchRuntime is the OS-only runtime, whose bootstrap is the function.
	benchRuntime = "provided.al2023"
)

// code is the function code the benchmark deploys.
type code struct {
	// echo is the echo function's zip, made with codezip.Create as
	// Lambda's tooling would.
	echo []byte
	// small is the zip of a small function: a bootstrap of a few bytes
	// that is never invoked.
	small []byte
	big   *bigCode
}

// makeCode zips the echo function of bins and makes the other zips in
// dir.
func makeCode(bins harness.Binaries, dir string) (code, error) {
	var c code
	var buf bytes.Buffer
	if err := codezip.Create(bins.FnDir, &buf); err != nil {
		return c, err
	}
	c.echo = buf.Bytes()

	smallDir := filepath.Join(dir, "small")
	if err := os.Mkdir(smallDir, 0o755); err != nil {
		return c, err
	}
	// It would fail if invoked; the memory phase only registers it.
	script := "#!/bin/sh\necho 'a function of the ember serve benchmark, registered only' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(smallDir, "bootstrap"), []byte(script), 0o755); err != nil {
		return c, err
	}
	var small bytes.Buffer
	if err := codezip.Create(smallDir, &small); err != nil {
		return c, err
	}
	c.small = small.Bytes()

	big, err := newBigCode(c.echo)
	c.big = big
	return c, err
}

// bigCode makes the zips of the big function: the echo function's
// bootstrap, as codezip packed it, beside a file of random bytes that
// brings the zip to bigZipSize. Random bytes do not compress, so the zip
// is as big as what it holds; they come from a fixed seed, so every run
// sends the same bytes.
type bigCode struct {
	bootstrap *zip.File
	random    []byte
}

func newBigCode(echoZip []byte) (*bigCode, error) {
	zr, err := zip.NewReader(bytes.NewReader(echoZip), int64(len(echoZip)))
	if err != nil {
		return nil, fmt.Errorf("read the echo zip: %w", err)
	}
	b := &bigCode{}
	for _, f := range zr.File {
		if f.Name == "bootstrap" {
			b.bootstrap = f
		}
	}
	if b.bootstrap == nil {
		return nil, errors.New("the echo zip has no bootstrap")
	}
	if len(echoZip) >= bigZipSize {
		return nil, fmt.Errorf("the echo zip alone has %d bytes, more than the big zip's %d", len(echoZip), bigZipSize)
	}
	all := make([]byte, bigZipSize)
	rand.NewChaCha8([32]byte{'e', 'm', 'b', 'e', 'r'}).Read(all)
	// The zip's headers and the deflate blocks around the random bytes
	// take a few hundred bytes: fit the random bytes to them.
	b.random = all[:bigZipSize-len(echoZip)]
	for range 3 {
		z, err := b.zip(-1)
		if err != nil {
			return nil, err
		}
		n := len(b.random) + bigZipSize - len(z)
		if n == len(b.random) {
			break
		}
		if n <= 0 || n > len(all) {
			return nil, fmt.Errorf("cannot fit the random bytes: %d bytes", n)
		}
		b.random = all[:n]
	}
	return b, nil
}

// zip returns the big zip, with the random byte at flip inverted when
// flip is not negative: each flip makes a zip of its own, which ember
// stores apart rather than as the same code.
func (b *bigCode) zip(flip int) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(bigZipSize + 4096)
	zw := zip.NewWriter(&buf)
	// Deflate without compression, which would find nothing to do in
	// random bytes: stored blocks, as a compressor falls back to.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.NoCompression)
	})
	if err := zw.Copy(b.bootstrap); err != nil {
		return nil, fmt.Errorf("big zip: %w", err)
	}
	hdr := &zip.FileHeader{Name: randomName, Method: zip.Deflate, Modified: b.bootstrap.Modified}
	hdr.SetMode(0o644)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return nil, fmt.Errorf("big zip: %w", err)
	}
	parts := [][]byte{b.random}
	if flip >= 0 {
		flip %= len(b.random)
		parts = [][]byte{b.random[:flip], {^b.random[flip]}, b.random[flip+1:]}
	}
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			return nil, fmt.Errorf("big zip: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("big zip: %w", err)
	}
	return buf.Bytes(), nil
}

// createFunctionBody is the JSON of a CreateFunction request, as the
// SDK sends it; the zip goes as base64, as json.Marshal writes a []byte.
type createFunctionBody struct {
	FunctionName string `json:"FunctionName"`
	Role         string `json:"Role"`
	Runtime      string `json:"Runtime"`
	Handler      string `json:"Handler"`
	Code         struct {
		ZipFile []byte `json:"ZipFile"`
	} `json:"Code"`
}

// createBody returns the body of a CreateFunction request of a function
// called name with the code zip.
func createBody(name string, zip []byte) ([]byte, error) {
	in := createFunctionBody{FunctionName: name, Role: benchRole, Runtime: benchRuntime, Handler: "bootstrap"}
	in.Code.ZipFile = zip
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("CreateFunction body of %s: %w", name, err)
	}
	return b, nil
}
