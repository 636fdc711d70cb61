package datasource

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"

	"github.com/geofed-io/kubectl-geofed/internal/lab/gcsemu"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// load writes a topology naming the given near URL and data URLs and
// loads it, so errors carry a real file:line.
func load(t *testing.T, near string, data ...string) *topology.Topology {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: demo
spec:
  regions:
  - name: europe-west4
    clusters:
    - name: eu
      kubeconfig: {context: eu}
  workloads:
  - name: trainer
    source: app
    placement:
      replicas:
        total: 2
        divideBy: locality
        near: ` + near + "\n"
	if len(data) > 0 {
		src += "      data:\n"
		for _, d := range data {
			src += "      - " + d + "\n"
		}
	}
	path := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	top, err := topology.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// emulator starts the lab's Cloud Storage with buckets in the given
// locations (name → location).
func emulator(t *testing.T, buckets map[string]string) *gcsemu.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := gcsemu.Start(ctx, gcsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, loc := range buckets {
		if err := gcsemu.CreateBucket(ctx, s.Host, name, loc); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestResolve(t *testing.T) {
	s := emulator(t, map[string]string{
		"ckpt-eu":   "europe-west4",
		"corpus-us": "US",
		"corpus-as": "ASIA",
		"pair":      "NAM4",
	})
	// A configurable dual-region: its two regions come from the metadata.
	c, err := gcsemu.Client(context.Background(), s.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bucket("custom").Create(context.Background(), "lab", &storage.BucketAttrs{
		Location: "US", CustomPlacementConfig: &storage.CustomPlacementConfig{DataLocations: []string{"US-EAST1", "US-WEST1"}},
	}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		url          string
		location     string
		kind         string
		regions      []string // exactly, when set
		someOf, none []string
	}{
		{url: "gs://ckpt-eu/run1", location: "EUROPE-WEST4", kind: "region", regions: []string{"europe-west4"}},
		{url: "gs://pair/x", location: "NAM4", kind: "dual-region", regions: []string{"us-central1", "us-east1"}},
		{url: "gs://custom/x", location: "US", kind: "dual-region", regions: []string{"us-east1", "us-west1"}},
		{url: "gs://corpus-us/en", location: "US", kind: "multi-region", someOf: []string{"us-central1", "us-west1"}, none: []string{"europe-west4"}},
		{url: "gs://corpus-as/ja", location: "ASIA", kind: "multi-region", someOf: []string{"asia-northeast1", "asia-east1"}, none: []string{"us-east1"}},
	}
	var urls []string
	for _, tc := range tests[1:] {
		urls = append(urls, tc.url)
	}
	top := load(t, tests[0].url, urls...)
	got, err := Resolve(context.Background(), top, Options{EmulatorHost: s.Host})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(tests) {
		t.Errorf("Resolve() found %d locations, want %d: %+v", len(got), len(tests), got)
	}
	for _, tc := range tests {
		d, ok := got[tc.url]
		switch {
		case !ok:
			t.Errorf("%s: not resolved", tc.url)
			continue
		case d.URL != tc.url || d.Location != tc.location || d.Type != tc.kind:
			t.Errorf("%s: got %+v, want location %s (%s)", tc.url, d, tc.location, tc.kind)
		case tc.regions != nil && !slices.Equal(d.Regions, tc.regions):
			t.Errorf("%s: regions %v, want %v", tc.url, d.Regions, tc.regions)
		}
		for _, r := range tc.someOf {
			if !slices.Contains(d.Regions, r) {
				t.Errorf("%s: regions %v lack %s", tc.url, d.Regions, r)
			}
		}
		for _, r := range tc.none {
			if slices.Contains(d.Regions, r) {
				t.Errorf("%s: regions %v hold %s", tc.url, d.Regions, r)
			}
		}
	}
}

// TestResolveMissingBucket: a bucket that is not there fails the plan,
// naming the file:line, the workload and the URL of every use.
func TestResolveMissingBucket(t *testing.T) {
	ctx := context.Background()
	s := emulator(t, map[string]string{"ckpt-eu": "europe-west4", "gone": "US"})
	if err := gcsemu.DeleteBucket(ctx, s.Host, "gone"); err != nil {
		t.Fatal(err)
	}
	top := load(t, "gs://gone/run1", "gs://ckpt-eu/x", "gs://gone/other")
	_, err := Resolve(ctx, top, Options{EmulatorHost: s.Host})
	if err == nil {
		t.Fatal("Resolve() succeeded with a deleted bucket")
	}
	for _, want := range []string{
		top.Path + `:18: workload "trainer": replicas.near: gs://gone/run1: bucket gone does not exist`,
		top.Path + `:21: workload "trainer": data[1]: gs://gone/other: bucket gone does not exist`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Resolve() error =\n%v\nwant it to hold\n%s", err, want)
		}
	}
	if strings.Contains(err.Error(), "ckpt-eu") {
		t.Errorf("Resolve() error names a bucket that exists: %v", err)
	}
}

// TestResolveUnreachable: Cloud Storage not answering is an error too,
// never a guess.
func TestResolveUnreachable(t *testing.T) {
	top := load(t, "gs://ckpt-eu/run1")
	_, err := Resolve(context.Background(), top, Options{EmulatorHost: "127.0.0.1:1", Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "gs://ckpt-eu/run1") || !strings.Contains(err.Error(), `workload "trainer"`) {
		t.Errorf("Resolve() error = %v, want one naming the workload and the URL", err)
	}
}

// TestResolveNoBuckets: a topology that names no bucket never reaches
// Cloud Storage (render stays offline).
func TestResolveNoBuckets(t *testing.T) {
	top := load(t, "europe-west4")
	got, err := Resolve(context.Background(), top, Options{EmulatorHost: "127.0.0.1:1"})
	if err != nil || len(got) != 0 {
		t.Errorf("Resolve() = %v, %v; want nothing, without a request", got, err)
	}
	if Needed(top) {
		t.Error("Needed() = true for a topology naming no bucket")
	}
}
