package lab

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/geofed-io/kubectl-geofed/internal/ociimage"
)

// writeImageArchive writes an OCI image archive (what `ctr images import`
// reads) of a one-platform image for this machine's architecture, built the
// way the controller's image is: exe at entrypoint, run as nonroot, named
// ref.
func writeImageArchive(w io.Writer, ref, exePath, entrypoint string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	epoch := time.Unix(0, 0).UTC()
	idx, err := ociimage.Index(ociimage.Options{
		Binaries:   []ociimage.Binary{{Platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, Path: exePath}},
		Entrypoint: entrypoint,
		Created:    epoch,
	})
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	tmp, err := os.MkdirTemp("", "geofed-lab-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "layout")
	if err := ociimage.WriteLayout(dir, idx, tag); err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	return ociimage.WriteArchive(w, dir, epoch)
}
