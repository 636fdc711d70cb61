package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/gcsemu"
)

// TestDataLocality is the acceptance of placement near the data: buckets
// in europe-west4, the US multi-region and the ASIA multi-region on the
// lab's Cloud Storage emulator, and a training workload whose replicas go
// near one of them, on three joined clusters (europe-west4, us-east1,
// asia-northeast1). plan and apply are the real binary; what landed is read
// back from the clusters. A deleted bucket fails plan naming it; a new
// bucket name in another location moves the replicas on the next plan and
// apply.
func TestDataLocality(t *testing.T) {
	e := newEnv(t,
		regionNode("train-eu", "europe-west4"),
		regionNode("train-us", "us-east1"),
		regionNode("train-asia", "asia-northeast1"),
	)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	gcs, err := gcsemu.Start(ctx, gcsemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gcs.Stop)
	e.storageHost = gcs.Host
	for bucket, location := range map[string]string{"ckpt-eu": "europe-west4", "ckpt-us": "US", "ckpt-asia": "ASIA"} {
		if err := gcsemu.CreateBucket(ctx, gcs.Host, bucket, location); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	file := e.dataTopology(dir, "gs://ckpt-eu/run1")

	// Near the europe-west4 bucket: both replicas on train-eu.
	start := time.Now()
	r := e.run("plan", "-f", file)
	if r.code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	golden(t, "data-plan-eu.golden", r.stdout)
	e.applyAndReadBack(file, map[string]int{"train-eu": 2, "train-us": 0, "train-asia": 0})
	t.Logf("near the europe-west4 bucket: planned, applied and read back in %s", time.Since(start).Round(100*time.Millisecond))

	// The bucket is deleted: plan fails, naming the workload, the
	// file:line of near and the URL, before any cluster is read.
	if err := gcsemu.DeleteBucket(ctx, gcs.Host, "ckpt-eu"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	r = e.run("plan", "-f", file)
	if r.code == 0 {
		t.Fatalf("plan with the bucket deleted: exit 0, want a failure\n%s", r.stdout)
	}
	golden(t, "data-plan-gone.golden", strings.ReplaceAll(r.stderr, dir, "DIR"))
	t.Logf("the deleted bucket failed plan (exit %d) in %s", r.code, time.Since(start).Round(100*time.Millisecond))

	// A new bucket name, in the US multi-region: the next plan moves the
	// replicas to train-us, and apply does so on the clusters.
	start = time.Now()
	file = e.dataTopology(dir, "gs://ckpt-us/run1")
	r = e.run("plan", "-f", file)
	if r.code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	golden(t, "data-plan-us.golden", r.stdout)
	e.applyAndReadBack(file, map[string]int{"train-eu": 0, "train-us": 2, "train-asia": 0})
	t.Logf("moved to the US bucket: planned, applied and read back in %s", time.Since(start).Round(100*time.Millisecond))

	// And in the ASIA multi-region, the plan puts them on train-asia.
	file = e.dataTopology(dir, "gs://ckpt-asia/run1")
	shares, _, code := e.shares(file, "trainer")
	if code == 1 || shares["train-asia"] != 2 || shares["train-eu"] != 0 || shares["train-us"] != 0 {
		t.Errorf("near the ASIA bucket: shares %v (exit %d), want train-asia 2, the others 0", shares, code)
	}
}

// regionNode is a joined lab cluster of one node in region.
func regionNode(name, region string) lab.ClusterSpec {
	return lab.ClusterSpec{Name: name, Nodes: []lab.NodeSpec{{
		Name: name + "-node", Count: 1,
		Labels: map[string]string{"topology.kubernetes.io/region": region},
	}}}
}

// applyAndReadBack applies file and reads every cluster's trainer
// Deployment back: want is desired replicas per cluster, all available.
func (e *env) applyAndReadBack(file string, want map[string]int) {
	e.t.Helper()
	r := e.run("apply", "-f", file, "--yes", "--timeout", "2m")
	if r.code != 0 {
		e.t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for cluster, n := range want {
		got := strings.TrimSpace(e.kubectl(cluster, "get", "deployment", "trainer", "-n", "ml", "-o", "jsonpath={.spec.replicas}/{.status.availableReplicas}"))
		wantGot := fmt.Sprintf("%d/%d", n, n)
		if n == 0 {
			wantGot = "0/"
		}
		if got != wantGot {
			e.t.Errorf("%s runs %s (desired/available) trainer replicas, want %s", cluster, got, wantGot)
		}
	}
}

// dataTopology writes, into dir, the three joined clusters and a trainer
// of 2 replicas placed by locality near bucket, and returns its path.
func (e *env) dataTopology(dir, bucket string) string {
	e.t.Helper()
	doc := `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: data
spec:
  regions:
  - name: europe-west4
    clusters:
    - name: train-eu
      kubeconfig: {context: train-eu}
  - name: us-east1
    clusters:
    - name: train-us
      kubeconfig: {context: train-us}
  - name: asia-northeast1
    clusters:
    - name: train-asia
      kubeconfig: {context: train-asia}
  workloads:
  - name: trainer
    source: apps/trainer
    placement:
      replicas: {total: 2, divideBy: locality, near: "` + bucket + `"}
`
	app := filepath.Join(dir, "apps", "trainer")
	if err := os.MkdirAll(app, 0o755); err != nil {
		e.t.Fatal(err)
	}
	for file, content := range map[string]string{
		filepath.Join(dir, "topology.yaml"):      doc,
		filepath.Join(app, "kustomization.yaml"): "resources:\n- manifests.yaml\n",
		filepath.Join(app, "manifests.yaml"):     podsAsking("ml", "trainer", "{cpu: 100m, memory: 64Mi}"),
	} {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
	return filepath.Join(dir, "topology.yaml")
}
