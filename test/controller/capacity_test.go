package controller_test

import (
	"testing"
	"time"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/push"
)

// TestControllerCapacity: a workload divided by the GPUs that fit follows
// a member's new nodes without waiting for a resync — the node watch asks
// for the re-plan.
func TestControllerCapacity(t *testing.T) {
	gpu := lab.NodeSpec{Name: "gpu", Count: 1, GPUs: 2}
	l, clusters := labtest.New(t,
		lab.ClusterSpec{Name: "hub", APIServerOnly: true},
		lab.ClusterSpec{Name: "m1", Nodes: []lab.NodeSpec{gpu}},
		lab.ClusterSpec{Name: "m2", Nodes: []lab.NodeSpec{gpu}},
	)
	hub, m1, m2 := clusters[0], clusters[1], clusters[2]
	const capacityDelay = 2 * time.Second
	e := setupWith(t, l, hub, []*lab.Cluster{m1, m2}, trainTopology,
		replicaFlags{resync: 10 * time.Minute, extra: []string{"--capacity-delay", capacityDelay.String()}}, 1)
	pushTopology(t, e, push.Options{})
	waitFor(t, e, 120*time.Second, "Synced=True", func(topo *v1alpha1.Topology) bool {
		return cond(topo, v1alpha1.ConditionSynced) == "True/Applied"
	})
	waitDeployment(t, e, "m1", "train", 2, 10*time.Second)
	waitDeployment(t, e, "m2", "train", 2, 10*time.Second)

	// m2 gets two more GPU nodes: 6 of the 8 GPUs that fit are there now.
	added := time.Now()
	gpu.Count = 3
	must(t, m2.SetNodes(t.Context(), []lab.NodeSpec{gpu}))
	// Well within the 10-minute resync: only the node watch can do it.
	waitDeployment(t, e, "m2", "train", 3, capacityDelay+60*time.Second)
	waitDeployment(t, e, "m1", "train", 1, 10*time.Second)
	t.Logf("replicas followed the new nodes %s after they were added", time.Since(added).Round(10*time.Millisecond))
	leader := e.leader(t)
	if got := number(metric(leader.scrape(), `geofed_reconcile_triggers_total{namespace="geofed-system",reason="capacity",topology="fleet"}`)); got < 1 {
		t.Errorf("capacity triggers = %v, want at least 1", got)
	}
}

// trainTopology divides 4 replicas of a one-GPU trainer by the GPUs that fit.
var trainTopology = map[string]string{
	"topology.yaml":                 twoMembers("train", "capacity"),
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
      containers:
      - name: train
        image: train:1
        resources: {limits: {nvidia.com/gpu: 1}, requests: {cpu: 100m, memory: 64Mi}}
`,
}
