// Command image builds geofed's container images as OCI image indexes for
// linux/amd64 and linux/arm64 with no container daemon, no registry and no
// base image (see internal/ociimage), reproducibly: a clean checkout of a
// commit gives the same digest every time, with the same Go toolchain.
//
//	go run ./hack/image                        # dist/geofed-controller{,.tar}
//	go run ./hack/image --install dist/install.yaml
//	go run ./hack/image --overlay DIR          # a kustomization for a registry-less cluster
//
// It writes OUT/NAME, an OCI image layout (what `crane push` takes), and
// OUT/NAME.tar, an OCI archive `ctr -n k8s.io images import` loads under
// both REPO:TAG and REPO@DIGEST, and prints "REPO:TAG DIGEST" on stdout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/geofed-io/kubectl-geofed/internal/ociimage"
)

// ControllerRepo is the controller's image repository, as
// manifests/controller names it.
const ControllerRepo = "ghcr.io/geofed-io/geofed-controller"

// source is the repository the images' labels point to.
const source = "https://github.com/geofed-io/kubectl-geofed"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// options are the command line, parsed and completed.
type options struct {
	out        string
	repo, tag  string
	version    string
	revision   string
	created    time.Time
	platforms  []v1.Platform
	install    string
	overlay    string
	manifests  string
	goCmd      string
	pkg, entry string
}

func parse(ctx context.Context, args []string, errOut io.Writer) (*options, error) {
	o := &options{}
	var created, platforms string
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&o.out, "out", "dist", "Directory the layout and the archive are written to")
	fs.StringVar(&o.repo, "repo", ControllerRepo, "Image repository")
	fs.StringVar(&o.tag, "tag", "", "Tag the archive names the image by (default the version)")
	fs.StringVar(&o.version, "version", "", "Version label and the binary's main.version (default: git describe --tags --always --dirty)")
	fs.StringVar(&o.revision, "revision", "", "Revision label and the binary's main.commit (default: git rev-parse HEAD)")
	fs.StringVar(&created, "created", "", "Creation time in Unix seconds (default $SOURCE_DATE_EPOCH, else the commit's time)")
	fs.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "Platforms of the image index, comma-separated")
	fs.StringVar(&o.install, "install", "", "Also write this file: manifests/controller built by kustomize with the image pinned by digest")
	fs.StringVar(&o.overlay, "overlay", "", "Also write a kustomization in this directory: manifests/controller with the image pinned by digest and never pulled")
	fs.StringVar(&o.manifests, "manifests", "manifests/controller", "The controller's kustomization, for --install and --overlay")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	o.goCmd = os.Getenv("GO")
	if o.goCmd == "" {
		o.goCmd = "go"
	}
	o.pkg, o.entry = "./cmd/geofed-controller", "/usr/local/bin/geofed-controller"
	for _, p := range strings.Split(platforms, ",") {
		pl, err := v1.ParsePlatform(strings.TrimSpace(p))
		if err != nil || pl.OS != "linux" || pl.Architecture == "" {
			return nil, fmt.Errorf("--platforms: %q is not os/arch on linux", p)
		}
		o.platforms = append(o.platforms, *pl)
	}
	var err error
	if o.version == "" {
		if o.version, err = git(ctx, "describe", "--tags", "--always", "--dirty"); err != nil {
			return nil, fmt.Errorf("--version not given: %w", err)
		}
	}
	if o.revision == "" {
		if o.revision, err = git(ctx, "rev-parse", "HEAD"); err != nil {
			return nil, fmt.Errorf("--revision not given: %w", err)
		}
	}
	if created == "" {
		created = os.Getenv("SOURCE_DATE_EPOCH")
	}
	if created == "" {
		if created, err = git(ctx, "log", "-1", "--format=%ct"); err != nil {
			return nil, fmt.Errorf("--created not given: %w", err)
		}
	}
	secs, err := strconv.ParseInt(created, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("--created %q: not Unix seconds", created)
	}
	o.created = time.Unix(secs, 0).UTC()
	if o.tag == "" {
		o.tag = o.version
	}
	if _, err := name.NewTag(o.repo+":"+o.tag, name.StrictValidation); err != nil {
		return nil, fmt.Errorf("--repo %q --tag %q: %w", o.repo, o.tag, err)
	}
	return o, nil
}

func git(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "git", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

func run(ctx context.Context, args []string, out, errOut io.Writer) error {
	o, err := parse(ctx, args, errOut)
	if err != nil {
		return err
	}
	return build(ctx, o, out, errOut)
}

// build builds the binaries and the image, writes what o asks for, and
// prints the image's name and digest on out.
func build(ctx context.Context, o *options, out, errOut io.Writer) error {
	base := filepath.Base(o.repo)
	bins, err := os.MkdirTemp("", "geofed-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bins)
	opts := ociimage.Options{
		Entrypoint: o.entry,
		Created:    o.created,
		CACerts:    ociimage.CACerts(),
		Labels: map[string]string{
			"org.opencontainers.image.title":    base,
			"org.opencontainers.image.source":   source,
			"org.opencontainers.image.revision": o.revision,
			"org.opencontainers.image.version":  o.version,
			"org.opencontainers.image.licenses": "Apache-2.0",
			"org.opencontainers.image.created":  o.created.Format(time.RFC3339),
		},
	}
	for _, p := range o.platforms {
		bin := filepath.Join(bins, base+"-"+p.Architecture)
		if err := goBuild(ctx, buildOptions{Go: o.goCmd, Package: o.pkg, Platform: p, Version: o.version, Commit: o.revision, Out: bin}); err != nil {
			return err
		}
		opts.Binaries = append(opts.Binaries, ociimage.Binary{Platform: p, Path: bin})
	}
	idx, err := ociimage.Index(opts)
	if err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	tag, err := name.NewTag(o.repo + ":" + o.tag)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	if err := ociimage.WriteLayout(filepath.Join(o.out, base), idx, tag); err != nil {
		return err
	}
	if err := writeArchive(filepath.Join(o.out, base+".tar"), idx, tag, digest, o.created); err != nil {
		return err
	}
	if err := report(errOut, idx, base); err != nil {
		return err
	}
	image := o.repo + "@" + digest.String()
	if o.install != "" {
		if err := writeInstall(o.install, o.manifests, image, o.version, o.revision); err != nil {
			return err
		}
		fmt.Fprintf(errOut, "image: %s: the control plane with %s\n", o.install, image)
	}
	if o.overlay != "" {
		if err := writeOverlay(o.overlay, o.manifests, image); err != nil {
			return err
		}
		fmt.Fprintf(errOut, "image: %s: kubectl apply -k it to run %s\n", o.overlay, image)
	}
	fmt.Fprintf(out, "%s %s\n", tag.Name(), digest)
	return nil
}

// writeArchive writes the archive from a layout of its own, which also
// names the index by digest: containerd's CRI looks an image up by the
// exact reference a Pod gives, and a Pod pinned by digest gives
// REPO@DIGEST. The layout in OUT keeps one entry, so `crane push` of it
// pushes the index itself.
func writeArchive(file string, idx v1.ImageIndex, tag name.Tag, digest v1.Hash, mtime time.Time) error {
	tmp, err := os.MkdirTemp("", "geofed-archive-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "layout")
	if err := ociimage.WriteLayout(dir, idx, tag, tag.Context().Digest(digest.String())); err != nil {
		return err
	}
	return ociimage.WriteArchiveFile(file, dir, mtime)
}

// report says on errOut what each platform's image weighs: its layer,
// compressed, is what a node pulls.
func report(errOut io.Writer, idx v1.ImageIndex, base string) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return err
		}
		m, err := img.Manifest()
		if err != nil {
			return err
		}
		var layers int64
		for _, l := range m.Layers {
			layers += l.Size
		}
		fmt.Fprintf(errOut, "image: %s %s: %s, layer %d bytes compressed\n", base, d.Platform, d.Digest, layers)
	}
	return nil
}
