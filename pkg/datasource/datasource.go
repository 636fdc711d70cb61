// Package datasource finds where a workload's data lives: the location of
// each Cloud Storage bucket a topology names with a gs:// URL
// (placement.replicas.near, placement.data), read from the bucket's
// metadata through Google's Go client, and turned into catalogued regions
// so placement can measure distances and transfer classes to it. It is the
// only part of planning that talks to Cloud Storage, and it is asked once
// per plan.
package datasource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"golang.org/x/sync/errgroup"
	"google.golang.org/api/option"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// EmulatorHostEnv is the variable Google's Cloud Storage clients read to
// talk to an emulator (host:port) instead of storage.googleapis.com.
const EmulatorHostEnv = "STORAGE_EMULATOR_HOST"

// DefaultTimeout bounds reading every bucket's metadata.
const DefaultTimeout = 30 * time.Second

// Options say how to reach Cloud Storage.
type Options struct {
	// EmulatorHost is host:port of a Cloud Storage emulator, as
	// STORAGE_EMULATOR_HOST gives it: no credentials are sent there. Empty
	// means Cloud Storage itself, with Application Default Credentials.
	EmulatorHost string
	// Timeout bounds the whole resolution; default DefaultTimeout.
	Timeout time.Duration
	// Parallel bounds how many buckets are read at once; default 8.
	Parallel int
}

// Locations are the data locations of a topology, by gs:// URL as the
// file writes it.
type Locations map[string]placement.Data

// Needed reports whether t names any bucket: only then does planning (or
// render) reach Cloud Storage.
func Needed(t *topology.Topology) bool { return len(t.DataUses()) > 0 }

// Resolve reads the location of every bucket t names, each bucket once.
// A bucket that does not exist, cannot be read, or is in a location the
// catalogue does not know is an error naming the workload, the file:line
// and the URL of every use of it: placement never guesses where data is.
// A topology that names no bucket is resolved without any request.
func Resolve(ctx context.Context, t *topology.Topology, opts Options) (Locations, error) {
	uses := t.DataUses()
	if len(uses) == 0 {
		return Locations{}, nil
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := newClient(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to Cloud Storage to read the location of %s: %w", uses[0].URL, err)
	}
	defer client.Close()

	var buckets []string
	for _, u := range uses {
		if b := topology.BucketOf(u.URL); !slices.Contains(buckets, b) {
			buckets = append(buckets, b)
		}
	}
	found := make([]bucketLocation, len(buckets))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cmpOr(opts.Parallel, 8))
	for i, b := range buckets {
		g.Go(func() error {
			found[i] = read(gctx, client, b)
			return nil // each bucket's error is reported with its uses
		})
	}
	_ = g.Wait()

	byBucket := make(map[string]bucketLocation, len(buckets))
	for i, b := range buckets {
		byBucket[b] = found[i]
	}
	out := Locations{}
	var errs []error
	for _, u := range uses {
		loc := byBucket[topology.BucketOf(u.URL)]
		if loc.err != nil {
			errs = append(errs, fmt.Errorf("%s: workload %q: %s: %s: %w", u.Place, u.Workload, fieldName(u.Field), u.URL, loc.err))
			continue
		}
		out[u.URL] = placement.Data{URL: u.URL, Location: loc.location, Type: loc.kind, Regions: loc.regions}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// fieldName is the part of a field path after placement, as a topology's
// author knows it: replicas.near, data[1].
func fieldName(path string) string {
	if _, after, ok := strings.Cut(path, ".placement."); ok {
		return after
	}
	return path
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func newClient(ctx context.Context, opts Options) (*storage.Client, error) {
	if opts.EmulatorHost != "" {
		return storage.NewClient(ctx, option.WithEndpoint("http://"+opts.EmulatorHost+"/storage/v1/"), option.WithoutAuthentication())
	}
	return storage.NewClient(ctx)
}

// bucketLocation is one bucket's location, or why it is unknown.
type bucketLocation struct {
	location string
	kind     string
	regions  []string
	err      error
}

func read(ctx context.Context, client *storage.Client, bucket string) bucketLocation {
	attrs, err := client.Bucket(bucket).Attrs(ctx)
	switch {
	case errors.Is(err, storage.ErrBucketNotExist):
		return bucketLocation{err: fmt.Errorf("bucket %s does not exist", bucket)}
	case err != nil:
		return bucketLocation{err: fmt.Errorf("reading the location of bucket %s: %w", bucket, err)}
	}
	return locate(attrs)
}

// locate turns a bucket's location metadata into catalogued regions: a
// configurable dual-region's two regions, or what the catalogue says the
// location (a region, a predefined dual-region, a multi-region) spans.
func locate(attrs *storage.BucketAttrs) bucketLocation {
	loc := bucketLocation{location: strings.ToUpper(attrs.Location), kind: strings.ToLower(attrs.LocationType)}
	if c := attrs.CustomPlacementConfig; c != nil && len(c.DataLocations) > 0 {
		for _, dl := range c.DataLocations {
			region := strings.ToLower(dl)
			if _, ok := catalog.LookupRegion(region); !ok {
				loc.err = fmt.Errorf("bucket %s: its dual-region names %s, a region the catalogue does not know", attrs.Name, dl)
				return loc
			}
			loc.regions = append(loc.regions, region)
		}
		slices.Sort(loc.regions)
		if loc.kind == "" {
			loc.kind = string(catalog.StorageDualRegion)
		}
		return loc
	}
	regions, kind, ok := catalog.StorageLocation(attrs.Location)
	if !ok {
		loc.err = fmt.Errorf("bucket %s is in %q, a location the catalogue does not know", attrs.Name, attrs.Location)
		return loc
	}
	loc.regions = regions
	if loc.kind == "" {
		loc.kind = string(kind)
	}
	return loc
}
