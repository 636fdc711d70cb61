package labd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
)

// ImageLoadOptions configure ImageLoad.
type ImageLoadOptions struct {
	// Dir is the state directory.
	Dir string
	// Cluster names the cluster whose real node gets the image.
	Cluster string
	// Archive is an OCI image archive (or a docker save tarball).
	Archive string
	Out     io.Writer
}

// ImageLoad imports an image archive into the containerd of a cluster's
// real node, where a Pod with imagePullPolicy Never finds it.
func ImageLoad(ctx context.Context, opts ImageLoadOptions) error {
	s, err := ReadState(opts.Dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(opts.Archive); err != nil {
		return fmt.Errorf("loading image into cluster %s: %w", opts.Cluster, err)
	}
	archive, err := filepath.Abs(opts.Archive)
	if err != nil {
		return err
	}
	for _, c := range s.Clusters {
		if c.Name != opts.Cluster {
			continue
		}
		if c.RealNodeMountNS == "" {
			return fmt.Errorf("loading image into cluster %s: it has no real node (start the lab with --real-node %s)", c.Name, c.Name)
		}
		if err := lab.ImportImage(ctx, c.RealNodeMountNS, archive); err != nil {
			return fmt.Errorf("loading image into cluster %s: %w", c.Name, err)
		}
		fmt.Fprintf(opts.Out, "Image %s loaded into %s (node %s)\n", opts.Archive, c.Name, c.RealNode)
		return nil
	}
	return fmt.Errorf("loading image: no cluster %s in the lab in %s", opts.Cluster, opts.Dir)
}
