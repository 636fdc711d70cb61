package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/gcsemu"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/datasource"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/push"
)

// TestControllerNearBucket: a pushed Topology whose workload is placed
// near gs://bucket is placed by the controller where the bucket is, read
// from the lab's Cloud Storage emulator: the controller finds it through
// $STORAGE_EMULATOR_HOST in its environment, as a Pod given that variable
// would. Pushed again naming a bucket elsewhere, the replicas move.
func TestControllerNearBucket(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	gcs, err := gcsemu.Start(ctx, gcsemu.Options{})
	must(t, err)
	t.Cleanup(gcs.Stop)
	must(t, gcsemu.CreateBucket(ctx, gcs.Host, "ckpt-eu", "europe-west4"))
	must(t, gcsemu.CreateBucket(ctx, gcs.Host, "ckpt-us", "US"))
	// The replicas inherit the test's environment: the variable, not a
	// flag, is what reaches them, as it reaches a Pod.
	t.Setenv(datasource.EmulatorHostEnv, gcs.Host)

	l, clusters := labtest.New(t,
		lab.ClusterSpec{Name: "hub", APIServerOnly: true},
		lab.ClusterSpec{Name: "m1", Nodes: []lab.NodeSpec{{Name: "node", Count: 1}}},
		lab.ClusterSpec{Name: "m2", Nodes: []lab.NodeSpec{{Name: "node", Count: 1}}},
	)
	hub, m1, m2 := clusters[0], clusters[1], clusters[2]
	files := map[string]string{
		"topology.yaml":                 nearBucket("gs://ckpt-eu/run1"),
		"apps/train/kustomization.yaml": "resources: [namespace.yaml, deployment.yaml]\n",
		"apps/train/namespace.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n",
		"apps/train/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: train, namespace: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: train}}
  template:
    metadata: {labels: {app: train}}
    spec:
      containers: [{name: train, image: train:1}]
`,
	}
	// One replica with the binary's own Lease timings: what is tested
	// is placement, and a loaded machine must not cost the lone leader
	// its Lease halfway.
	e := setupWith(t, l, hub, []*lab.Cluster{m1, m2}, files, replicaFlags{resync: 10 * time.Minute, electionDefaults: true}, 1)

	for _, step := range []struct {
		bucket   string
		m1, m2   int32
		location string
	}{
		{bucket: "gs://ckpt-eu/run1", location: "europe-west4", m1: 0, m2: 2},
		{bucket: "gs://ckpt-us/run1", location: "US", m1: 2, m2: 0},
	} {
		start := time.Now()
		files["topology.yaml"] = nearBucket(step.bucket)
		e.topology = writeTopology(t, files)
		pushTopology(t, e, push.Options{Data: datasource.Options{EmulatorHost: gcs.Host}})
		waitFor(t, e, 120*time.Second, "Synced=True near "+step.bucket, func(topo *v1alpha1.Topology) bool {
			return topo.Status.ObservedGeneration == topo.Generation && cond(topo, v1alpha1.ConditionSynced) == "True/Applied"
		})
		waitDeployment(t, e, "m1", "train", step.m1, 10*time.Second)
		waitDeployment(t, e, "m2", "train", step.m2, 10*time.Second)
		t.Logf("near %s (%s): m1 %d, m2 %d, read back %s after push", step.bucket, step.location, step.m1, step.m2, time.Since(start).Round(10*time.Millisecond))
	}
}

// nearBucket is a topology of m1 (us-west1) and m2 (europe-west4) whose
// workload train puts its 2 replicas nearest to bucket.
func nearBucket(bucket string) string {
	return `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: ` + topoName + `}
spec:
  regions:
  - name: us-west1
    clusters:
    - name: m1
      kubeconfig: {context: m1}
  - name: europe-west4
    clusters:
    - name: m2
      kubeconfig: {context: m2}
  workloads:
  - name: train
    source: apps/train
    placement:
      replicas: {total: 2, divideBy: locality, near: "` + bucket + `"}
`
}
