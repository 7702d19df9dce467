package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/emberfn/ember/internal/client"
)

// imageCommand adds `ember image load|pull|ls|rm|prune` to the client's
// flags: it returns the usage line and the command that runs with the
// positional arguments.
func imageCommand(ctx context.Context, fs *flag.FlagSet, stdout io.Writer) (string, func(c *client.Client, args []string) error) {
	arch := fs.String("arch", "", "architecture of the image to keep: x86_64 or arm64 (load: default every one found; pull: default x86_64)")
	insecure := fs.Bool("insecure", false, "pull: allow plain HTTP for any registry (always allowed for localhost and 127.0.0.1)")
	asJSON := fs.Bool("json", false, "ls: print JSON")
	usage := "ember image load FILE|DIR | pull REF | ls | rm REF... | prune [flags]: the container images the server holds"
	return usage, func(c *client.Client, args []string) error {
		if len(args) == 0 {
			return &usageError{"usage: " + usage}
		}
		sub, args := args[0], args[1:]
		switch sub {
		case "load":
			if len(args) != 1 {
				return &usageError{"image load needs one FILE (a docker-save tarball) or DIR (an OCI image layout)"}
			}
			path, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			imgs, err := c.LoadImages(ctx, path, *arch)
			if err != nil {
				return err
			}
			for _, img := range imgs {
				printLoaded(stdout, img)
			}
			return nil
		case "pull":
			if len(args) != 1 {
				return &usageError{"image pull needs one REF"}
			}
			in, err := pullInput(args[0], *arch, *insecure)
			if err != nil {
				return err
			}
			img, err := c.PullImage(ctx, in)
			if err != nil {
				return err
			}
			printLoaded(stdout, img)
			return nil
		case "ls":
			if len(args) != 0 {
				return &usageError{"image ls takes no arguments"}
			}
			imgs, err := c.Images(ctx)
			if err != nil {
				return err
			}
			if *asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(imgs)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REFERENCE\tDIGEST\tARCH\tSIZE\tLAYERS\tLOADED")
			for _, img := range imgs {
				refs := img.References
				if len(refs) == 0 {
					refs = []string{"<none>"}
				}
				for _, ref := range refs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", ref, shortDigest(img.Digest), img.Architecture, megabytes(img.Size), img.Layers, img.Loaded)
				}
			}
			return tw.Flush()
		case "rm":
			if len(args) == 0 {
				return &usageError{"image rm needs a REF or digest"}
			}
			for _, ref := range args {
				if err := c.RemoveImage(ctx, ref); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "removed %s\n", ref)
			}
			return nil
		case "prune":
			if len(args) != 0 {
				return &usageError{"image prune takes no arguments"}
			}
			rep, err := c.PruneImages(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "removed %d images and %d layers, %s freed\n", len(rep.Images), rep.Layers, megabytes(rep.Bytes))
			return nil
		}
		return &usageError{"unknown image command " + sub + "; usage: " + usage}
	}
}

// pullInput names ref with the credentials that the user's Docker
// configuration (~/.docker/config.json and its credential helpers) holds
// for its registry, which the server then uses.
func pullInput(ref, arch string, insecure bool) (client.PullInput, error) {
	in := client.PullInput{Reference: ref, Architecture: arch, Insecure: insecure}
	parsed, err := name.ParseReference(ref)
	if err != nil {
		return in, &usageError{fmt.Sprintf("image reference %q: %v", ref, err)}
	}
	auth, err := authn.DefaultKeychain.Resolve(parsed.Context())
	if err != nil {
		return in, fmt.Errorf("credentials for %s: %w", parsed.Context().RegistryStr(), err)
	}
	cfg, err := auth.Authorization()
	if err != nil {
		return in, fmt.Errorf("credentials for %s: %w", parsed.Context().RegistryStr(), err)
	}
	in.Username, in.Password, in.IdentityToken, in.RegistryToken = cfg.Username, cfg.Password, cfg.IdentityToken, cfg.RegistryToken
	return in, nil
}

// printLoaded prints an image brought in: its references, or its digest
// when it has none.
func printLoaded(w io.Writer, img client.Image) {
	if len(img.References) == 0 {
		fmt.Fprintf(w, "loaded %s (%s)\n", img.Digest, img.Architecture)
		return
	}
	fmt.Fprintf(w, "loaded %s %s (%s)\n", strings.Join(img.References, ", "), img.Digest, img.Architecture)
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	return d[:min(12, len(d))]
}

func megabytes(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}
