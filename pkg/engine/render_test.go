package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/geofed-io/kubectl-geofed/internal/lab/gcsemu"
	"github.com/geofed-io/kubectl-geofed/pkg/datasource"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// TestRenderReadsEachBucketOnce: render reads a bucket's location once,
// whether it places offline (--capacity gives every cluster) or reads the
// clusters for capacity first (spill: fit needs what fits), as plan does.
// The Cloud Storage emulator sits behind a proxy that counts the reads.
func TestRenderReadsEachBucketOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gcs, err := gcsemu.Start(ctx, gcsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Stop()
	if err := gcsemu.CreateBucket(ctx, gcs.Host, "ckpt", "europe-west4"); err != nil {
		t.Fatal(err)
	}
	var reads atomic.Int32
	target, _ := url.Parse("http://" + gcs.Host)
	proxy := httputil.NewSingleHostReverseProxy(target)
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/storage/v1/b/ckpt") {
			reads.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	defer counting.Close()

	dir := t.TempDir()
	doc := `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: data}
spec:
  regions:
  - name: europe-west4
    clusters:
    - name: eu
      kubeconfig: {context: eu}
  workloads:
  - name: trainer
    source: apps/trainer
    placement:
      replicas: {total: 2, divideBy: locality, spill: fit, near: gs://ckpt/run1}
`
	app := filepath.Join(dir, "apps", "trainer")
	for file, content := range map[string]string{
		filepath.Join(dir, "topology.yaml"):      doc,
		filepath.Join(app, "kustomization.yaml"): "resources: [deployment.yaml]\n",
		filepath.Join(app, "deployment.yaml"):    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: trainer, namespace: ml}\nspec:\n  selector: {matchLabels: {app: trainer}}\n  template:\n    metadata: {labels: {app: trainer}}\n    spec:\n      containers: [{name: trainer, image: trainer:1}]\n",
		// No context eu: the cluster cannot be reached, so the capacity
		// path reads nothing from it, and no API server is involved.
		filepath.Join(dir, "kubeconfig"): "apiVersion: v1\nkind: Config\n",
	} {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	topo, err := topology.Load(filepath.Join(dir, "topology.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		whatIf map[string]int64
	}{
		{name: "offline, capacity given", whatIf: map[string]int64{"eu": 4}},
		{name: "capacity read from the clusters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reads.Store(0)
			s := New(Options{
				Data:   datasource.Options{EmulatorHost: strings.TrimPrefix(counting.URL, "http://")},
				Member: member.Options{KubeconfigPath: filepath.Join(dir, "kubeconfig")},
			})
			defer s.Close()
			_, err := s.Render(ctx, RenderOptions{Fleet: Fleet{Topology: topo}, WhatIf: tc.whatIf})
			if tc.whatIf != nil && err != nil {
				t.Fatalf("render: %v", err)
			}
			if got := reads.Load(); got != 1 {
				t.Errorf("bucket ckpt read %d times (render error: %v), want once", got, err)
			}
		})
	}
}
