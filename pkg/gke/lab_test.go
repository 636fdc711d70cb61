package gke

import (
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/kubernetes"

	"github.com/geofed-io/kubectl-geofed/internal/lab/gkeemu"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// TestPlanOnLab runs the plan's GKE half against the emulator backed by a
// real lab control plane: the desired cluster is created, its real nodes
// counted, and after a resize the diff shows the node count GKE's API does
// not report.
func TestPlanOnLab(t *testing.T) {
	l, _ := labtest.New(t)
	emu, addr, err := gkeemu.Start(t.Context(), gkeemu.Options{Provisioner: gkeemu.NewLabProvisioner(l)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	c, err := NewClient(t.Context(), ClientOptions{EmulatorHost: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := t.Context()

	tp := exampleTopology()
	tp.Spec.Regions[0].Clusters[0].GKE.NodePools[0].MachineType = "e2-standard-4"
	desired := Desired(tp, tp.Clusters()[0])
	create(t, c, desired)

	live, err := c.GetCluster(ctx, "acme-ml", "us-west1", "training-us")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := TokenSource(ctx, ClientOptions{EmulatorHost: addr})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := RESTConfig(live, ts)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := CountNodes(ctx, cs.CoreV1().Nodes())
	if err != nil {
		t.Fatal(err)
	}
	zone := pool(live, "cpu").GetLocations()[0]
	if d := cmp.Diff(NodeCounts{"cpu": {zone: 1}}, nodes); d != "" {
		t.Errorf("CountNodes after create (-want +got):\n%s", d)
	}
	if ch := Diff(desired, live, nodes); ch.Action != object.ActionNoop {
		t.Errorf("Diff after create = %+v, want noop", ch)
	}

	// Someone resizes the pool behind geofed's back.
	poolName := ResourceName("acme-ml", "us-west1", "training-us") + "/nodePools/cpu"
	op, err := c.cm.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: poolName, NodeCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	waitOperation(t, c, "projects/acme-ml/locations/us-west1/operations/"+op.GetName())

	if live, err = c.GetCluster(ctx, "acme-ml", "us-west1", "training-us"); err != nil {
		t.Fatal(err)
	}
	if n := pool(live, "cpu").GetInitialNodeCount(); n != 1 {
		t.Errorf("initialNodeCount after resize = %d; GKE keeps the creation value 1", n)
	}
	if nodes, err = CountNodes(ctx, cs.CoreV1().Nodes()); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(NodeCounts{"cpu": {zone: 3}}, nodes); d != "" {
		t.Errorf("CountNodes after resize (-want +got):\n%s", d)
	}
	want := []NodePoolChange{
		{Name: "a100", Action: object.ActionNoop},
		{Name: "cpu", Action: object.ActionUpdate, Fields: []FieldChange{{Path: "nodeCount", Before: "3", After: "1"}}},
	}
	ch := Diff(desired, live, nodes)
	if ch.Action != object.ActionUpdate {
		t.Errorf("Diff after resize: action %s, want update", ch.Action)
	}
	if d := cmp.Diff(want, ch.NodePools); d != "" {
		t.Errorf("Diff after resize, node pools (-want +got):\n%s", d)
	}
}
