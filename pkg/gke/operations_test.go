package gke

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/geofed-io/kubectl-geofed/internal/lab/gkeemu"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// startSlowEmulator is startEmulator with operations that stay PENDING and
// RUNNING long enough to be seen in flight.
func startSlowEmulator(t *testing.T) (*gkeemu.Server, *Client) {
	t.Helper()
	pki := newTestPKI(t)
	srv := startServer(t, pki)
	prov := &tlsProvisioner{cp: gkeemu.ControlPlane{
		Endpoint: srv.URL, CAData: pki.caPEM, ClientCertData: pki.clientCertPEM, ClientKeyData: pki.clientKeyPEM,
	}}
	emu, addr, err := gkeemu.Start(t.Context(), gkeemu.Options{Provisioner: prov, PendingFor: 300 * time.Millisecond, MinRunning: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	c, err := NewClient(t.Context(), ClientOptions{EmulatorHost: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return emu, c
}

// createAndWait creates desired through the Client and waits, collecting
// the progress lines.
func createAndWait(t *testing.T, c *Client, desired *containerpb.Cluster) []string {
	t.Helper()
	op, err := c.CreateCluster(t.Context(), desired)
	if err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	var lines []string
	if err := c.WaitOperation(t.Context(), Project(desired), desired.GetLocation(), op, func(s string) { lines = append(lines, s) }); err != nil {
		t.Fatalf("WaitOperation: %v", err)
	}
	return lines
}

func TestCreateClusterAndWait(t *testing.T) {
	_, c := startSlowEmulator(t)
	tp := exampleTopology()
	desired := Desired(tp, tp.Clusters()[0])

	// Every status change once, in order; a poll may miss RUNNING.
	lines := strings.Join(createAndWait(t, c, desired), "\n")
	const pending, running, done = "operation-1 CREATE_CLUSTER: PENDING", "operation-1 CREATE_CLUSTER: RUNNING", "operation-1 CREATE_CLUSTER: DONE"
	if lines != pending+"\n"+running+"\n"+done && lines != pending+"\n"+done {
		t.Errorf("progress = %q, want PENDING, RUNNING (unless missed) and DONE, once each", lines)
	}
	live, err := c.GetCluster(t.Context(), "acme-ml", "us-west1", "training-us")
	if err != nil || live.GetStatus() != containerpb.Cluster_RUNNING {
		t.Fatalf("after the create: %v, %v; want RUNNING", live.GetStatus(), err)
	}
	if ch := Diff(desired, live, NodeCounts{"cpu": {"us-west1-a": 1}, "a100": {"us-west1-a": 0}}); ch.Action != object.ActionNoop {
		t.Errorf("Diff after CreateCluster = %+v, want noop", ch)
	}
	if op, err := c.RunningOperation(t.Context(), "acme-ml", "us-west1", "training-us"); op != nil || err != nil {
		t.Errorf("RunningOperation after the create = %v, %v; want none", op, err)
	}

	// A second create is refused by GKE, with the code intact.
	_, err = c.CreateCluster(t.Context(), desired)
	if status.Code(err) != codes.AlreadyExists {
		t.Errorf("second CreateCluster: %v, want AlreadyExists", err)
	}
}

func TestCreateClusterQuota(t *testing.T) {
	emu, c := startSlowEmulator(t)
	emu.SetQuota("us-west1", gkeemu.Quota{CPUs: 4, GPUs: gkeemu.Unlimited})
	tp := exampleTopology()
	desired := Desired(tp, tp.Clusters()[0])

	_, err := c.CreateCluster(t.Context(), desired)
	const prefix = "creating GKE cluster training-us (projects/acme-ml/locations/us-west1): GKE quota or rate limit exceeded " +
		"(RESOURCE_EXHAUSTED); raise the quota in the Cloud console or retry later: Insufficient regional quota to satisfy request: " +
		`resource "CPUS": request requires '8.0' and is short '4.0'`
	if err == nil || !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("CreateCluster over quota: %v\nwant it to start %q", err, prefix)
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("status.Code = %s, want ResourceExhausted", status.Code(err))
	}
}

func TestWaitOperationFailed(t *testing.T) {
	emu, c := startSlowEmulator(t)
	tp := exampleTopology()
	desired := Desired(tp, tp.Clusters()[0])
	emu.FailNextOperation("training-us", containerpb.Operation_CREATE_CLUSTER, "insufficient regional capacity for a2-highgpu-1g")

	op, err := c.CreateCluster(t.Context(), desired)
	if err != nil {
		t.Fatal(err)
	}
	err = c.WaitOperation(t.Context(), "acme-ml", "us-west1", op, nil)
	var oe *OperationError
	if !errors.As(err, &oe) {
		t.Fatalf("WaitOperation = %v, want an *OperationError", err)
	}
	if want := "GKE operation operation-1 (CREATE_CLUSTER) failed: insufficient regional capacity for a2-highgpu-1g"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestWaitOperationCanceled(t *testing.T) {
	_, c := startSlowEmulator(t)
	tp := exampleTopology()
	desired := Desired(tp, tp.Clusters()[0])
	op, err := c.CreateCluster(t.Context(), desired)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err = c.WaitOperation(ctx, "acme-ml", "us-west1", op, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "projects/acme-ml/locations/us-west1/operations/operation-1") {
		t.Errorf("WaitOperation past its deadline = %v, want DeadlineExceeded naming the operation", err)
	}
}

// TestAwaitCluster: an apply interrupted during a create finds GKE's
// operation in flight and waits for it, instead of creating again.
func TestAwaitCluster(t *testing.T) {
	_, c := startSlowEmulator(t)
	ctx := t.Context()
	tp := exampleTopology()
	desired := Desired(tp, tp.Clusters()[0])

	live, op, err := c.AwaitCluster(ctx, "acme-ml", "us-west1", "training-us", nil)
	if live != nil || op != nil || err != nil {
		t.Fatalf("AwaitCluster(missing) = %v, %v, %v; want nothing", live, op, err)
	}
	if _, err := c.CreateCluster(ctx, desired); err != nil {
		t.Fatal(err)
	}
	running, err := c.RunningOperation(ctx, "acme-ml", "us-west1", "training-us")
	if err != nil || running.GetOperationType() != containerpb.Operation_CREATE_CLUSTER {
		t.Fatalf("RunningOperation during the create = %v, %v; want the CREATE_CLUSTER", running, err)
	}
	if other, err := c.RunningOperation(ctx, "acme-ml", "us-west1", "training"); other != nil || err != nil {
		t.Errorf("RunningOperation of cluster training = %v, %v; want none (training-us is another cluster)", other, err)
	}

	var lines []string
	live, op, err = c.AwaitCluster(ctx, "acme-ml", "us-west1", "training-us", func(s string) { lines = append(lines, s) })
	if err != nil {
		t.Fatal(err)
	}
	if live.GetStatus() != containerpb.Cluster_RUNNING || op.GetName() != running.GetName() {
		t.Errorf("AwaitCluster = status %s, operation %s; want RUNNING after %s", live.GetStatus(), op.GetName(), running.GetName())
	}
	if len(lines) == 0 || lines[len(lines)-1] != "operation-1 CREATE_CLUSTER: DONE" {
		t.Errorf("progress = %q, want it to end with the operation DONE", lines)
	}

	// Nothing in flight: returned at once.
	live, op, err = c.AwaitCluster(ctx, "acme-ml", "us-west1", "training-us", nil)
	if live.GetStatus() != containerpb.Cluster_RUNNING || op != nil || err != nil {
		t.Errorf("AwaitCluster(running) = %s, %v, %v; want RUNNING and no operation", live.GetStatus(), op, err)
	}
}

// TestUpdatesInPlace runs the updates a plan asks for against the emulator:
// afterwards GKE reports what the topology says.
func TestUpdatesInPlace(t *testing.T) {
	_, c := startSlowEmulator(t)
	ctx := t.Context()
	tp := exampleTopology()
	createAndWait(t, c, Desired(tp, tp.Clusters()[0]))

	gc := tp.Spec.Regions[0].Clusters[0].GKE
	gc.NodePools[0].NodeCount = ptr(int32(3))
	gc.NodePools[0].MachineType = "e2-standard-16"
	gc.NodePools[1].Autoscaling.MinNodes, gc.NodePools[1].Autoscaling.MaxNodes = 1, 4
	gc.NodePools = append(gc.NodePools, tp.Spec.Regions[0].Clusters[0].GKE.NodePools[0])
	gc.NodePools[2].Name, gc.NodePools[2].NodeCount = "cpu2", ptr(int32(2))
	gc.ReleaseChannel = "RAPID"
	desired := Desired(tp, tp.Clusters()[0])

	live, err := c.GetCluster(ctx, "acme-ml", "us-west1", "training-us")
	if err != nil {
		t.Fatal(err)
	}
	zone := live.GetLocations()[0]
	ch := Diff(desired, live, NodeCounts{"cpu": {zone: 1}, "a100": {zone: 0}})
	updates, err := Updates(ch, desired)
	if err != nil {
		t.Fatal(err)
	}
	want := []Update{
		{Kind: UpdateReleaseChannel, Description: "release channel REGULAR → RAPID"},
		{Kind: UpdateCreateNodePool, Pool: "cpu2", Description: "create node pool cpu2"},
		{Kind: UpdateNodePoolAutoscaling, Pool: "a100", Description: "node pool a100: autoscaling min 0, max 8 → min 1, max 4"},
		{Kind: UpdateNodePoolSize, Pool: "cpu", Description: "node pool cpu: nodes 1 → 3"},
		{Kind: UpdateNodePoolMachine, Pool: "cpu", Description: "node pool cpu: machineType e2-standard-8 → e2-standard-16 (nodes recreated)"},
	}
	if d := cmp.Diff(want, updates); d != "" {
		t.Fatalf("Updates (-want +got):\n%s", d)
	}
	for _, u := range updates {
		op, err := c.StartUpdate(ctx, desired, live, u)
		if err != nil {
			t.Fatalf("%s: %v", u.Description, err)
		}
		if err := c.WaitOperation(ctx, "acme-ml", "us-west1", op, nil); err != nil {
			t.Fatalf("%s: %v", u.Description, err)
		}
	}

	if live, err = c.GetCluster(ctx, "acme-ml", "us-west1", "training-us"); err != nil {
		t.Fatal(err)
	}
	// cpu 3 + a100 raised to its new floor 1 + cpu2 2.
	if n := live.GetCurrentNodeCount(); n != 6 {
		t.Errorf("currentNodeCount = %d, want 6", n)
	}
	if ch := Diff(desired, live, NodeCounts{"cpu": {zone: 3}, "a100": {zone: 1}, "cpu2": {zone: 2}}); ch.Action != object.ActionNoop {
		t.Errorf("Diff after the updates = %+v, want noop", ch)
	}
	// The machine change kept what it did not name: GKE requires a node
	// version and an image type, and the live pool's were sent.
	if p := pool(live, "cpu"); p.GetConfig().GetMachineType() != "e2-standard-16" || p.GetVersion() != gkeemu.MasterVersion || p.GetConfig().GetImageType() != "COS_CONTAINERD" {
		t.Errorf("pool cpu after the machine change: %s, version %s, image %s", p.GetConfig().GetMachineType(), p.GetVersion(), p.GetConfig().GetImageType())
	}
}

// TestPoolOperations creates a pool under another name than the
// topology's, as a replacement is, changes its machine and deletes it
// through the Client: GKE keeps the topology's name in the pool's label,
// Diff knows the pool by it, and once the pool is gone it is to create.
func TestPoolOperations(t *testing.T) {
	_, c := startSlowEmulator(t)
	ctx := t.Context()
	tp := exampleTopology()
	desired := Desired(tp, tp.Clusters()[0])
	createAndWait(t, c, desired)
	wait := func(op *containerpb.Operation, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WaitOperation(ctx, "acme-ml", "us-west1", op, nil); err != nil {
			t.Fatal(err)
		}
	}
	get := func() *containerpb.Cluster {
		t.Helper()
		live, err := c.GetCluster(ctx, "acme-ml", "us-west1", "training-us")
		if err != nil {
			t.Fatal(err)
		}
		return live
	}

	// The cpu pool becomes spot: a replacement is created beside it.
	pool(desired, "cpu").Config.Spot = true
	live := get()
	zone := live.GetLocations()[0]
	ch := Diff(desired, live, NodeCounts{"cpu": {zone: 1}, "a100": {zone: 0}})
	np := ch.NodePools[1]
	if np.Action != object.ActionReplace || np.Replacement == nil || np.Replacement.Pool != ReplacementName(pool(desired, "cpu")) {
		t.Fatalf("Diff of a spot change: %+v, want a replacement", np)
	}
	wait(c.CreateNodePool(ctx, desired, PoolNamed(pool(desired, "cpu"), np.Replacement.Pool, 2)))
	live = get()
	next := LivePool(pool(desired, "cpu"), live)
	if next.GetName() != np.Replacement.Pool || next.GetConfig().GetResourceLabels()[LabelPoolName] != "cpu" || next.GetInitialNodeCount() != 2 {
		t.Fatalf("LivePool after creating the replacement = %s, labels %v, %d nodes; want %s labelled cpu with 2",
			next.GetName(), next.GetConfig().GetResourceLabels(), next.GetInitialNodeCount(), np.Replacement.Pool)
	}
	ch = Diff(desired, live, NodeCounts{"cpu": {zone: 1}, "a100": {zone: 0}, next.GetName(): {zone: 2}})
	if r := ch.NodePools[1].Replacement; r == nil || !r.Exists || r.Pool != next.GetName() || len(r.Old) != 1 || r.Old[0] != "cpu" {
		t.Errorf("Diff with both pools = %+v, want the replacement under way, replacing cpu", ch.NodePools[1])
	}

	wait(c.DeleteNodePool(ctx, desired, "cpu"))
	live = get()
	pool(desired, "cpu").InitialNodeCount = 2
	if ch := Diff(desired, live, NodeCounts{"a100": {zone: 0}, next.GetName(): {zone: 2}}); ch.Action != object.ActionNoop || ch.NodePools[1].Pool != next.GetName() {
		t.Errorf("Diff once the old pool is gone = %+v, want noop with cpu as %s", ch, next.GetName())
	}

	// In place, under its name in GKE.
	pool(desired, "cpu").Config.MachineType = "e2-standard-16"
	wait(c.UpdateNodePool(ctx, desired, next.GetName(), pool(desired, "cpu"), next))
	live = get()
	if got := LivePool(pool(desired, "cpu"), live).GetConfig().GetMachineType(); got != "e2-standard-16" {
		t.Errorf("machine type after UpdateNodePool = %s, want e2-standard-16", got)
	}

	wait(c.DeleteNodePool(ctx, desired, next.GetName()))
	ch = Diff(desired, get(), NodeCounts{"a100": {zone: 0}})
	if np := ch.NodePools[1]; np.Action != object.ActionCreate || np.Pool != "" {
		t.Errorf("Diff once every cpu pool is gone = %+v, want create under the topology's name", np)
	}
	_, err := c.DeleteNodePool(ctx, desired, next.GetName())
	if want := "deleting node pool " + next.GetName() + " of GKE cluster training-us: Not found: "; err == nil || !strings.HasPrefix(err.Error(), want) || status.Code(err) != codes.NotFound {
		t.Errorf("deleting it again: %v, want NotFound starting %q", err, want)
	}
}

func TestUpdates(t *testing.T) {
	base := ClusterChange{Region: "us-west1", Project: "acme-ml", Location: "us-west1-b", Cluster: "training-us"}
	with := func(mod func(*ClusterChange)) ClusterChange {
		c := base
		mod(&c)
		return c
	}
	desired := exampleDesired()
	tests := []struct {
		name    string
		change  ClusterChange
		want    []Update
		wantErr string
	}{
		{name: "noop", change: with(func(c *ClusterChange) { c.Action = object.ActionNoop })},
		{name: "create is not an update", change: with(func(c *ClusterChange) { c.Action = object.ActionCreate })},
		{
			name: "attention",
			change: with(func(c *ClusterChange) {
				c.Action = object.ActionAttention
				c.Reasons = []string{"GKE reports status ERROR: out of capacity"}
			}),
			wantErr: "GKE cluster training-us needs attention, geofed leaves it alone: GKE reports status ERROR: out of capacity",
		},
		{
			name: "pools to replace or delete are not in-place updates",
			change: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionReplace, Fields: []FieldChange{
						{Path: "spot", Before: "false", After: "true", Replace: true},
					}, Replacement: &Replacement{Pool: "a100-0a1b2c3d", Old: []string{"a100"}}},
					{Name: "cpu", Action: object.ActionUpdate, Fields: []FieldChange{{Path: "nodeCount", Before: "1", After: "2"}}},
					{Name: "old", Action: object.ActionDelete},
				}
			}),
			want: []Update{{Kind: UpdateNodePoolSize, Pool: "cpu", Description: "node pool cpu: nodes 1 → 2"}},
		},
		{
			name: "machine and accelerators last, once, under the pool's GKE name",
			change: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionUpdate, Pool: "a100-0a1b2c3d", Fields: []FieldChange{
						{Path: "machineType", Before: "a2-highgpu-2g", After: "a2-highgpu-1g", RecreatesNodes: true},
						{Path: "accelerators", Before: "nvidia-tesla-a100 x2", After: "nvidia-tesla-a100 x1", RecreatesNodes: true},
						{Path: "autoscaling", Before: "min 0, max 4", After: "min 0, max 8"},
					}},
				}
			}),
			want: []Update{
				{Kind: UpdateNodePoolAutoscaling, Pool: "a100", LivePool: "a100-0a1b2c3d", Description: "node pool a100: autoscaling min 0, max 4 → min 0, max 8"},
				{Kind: UpdateNodePoolMachine, Pool: "a100", LivePool: "a100-0a1b2c3d",
					Description: "node pool a100: machineType a2-highgpu-2g → a2-highgpu-1g, accelerators nvidia-tesla-a100 x2 → nvidia-tesla-a100 x1 (nodes recreated)"},
			},
		},
		{
			name: "a new pool under another name",
			change: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{{Name: "cpu", Action: object.ActionCreate, Pool: "cpu-0a1b2c3d"}}
			}),
			want: []Update{{Kind: UpdateCreateNodePool, Pool: "cpu", LivePool: "cpu-0a1b2c3d",
				Description: "create node pool cpu as cpu-0a1b2c3d (a pool is named cpu already)"}},
		},
		{
			name: "autoscaling before size, release channel first",
			change: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionNoop},
					{Name: "cpu", Action: object.ActionUpdate, Fields: []FieldChange{
						{Path: "nodeCount", Before: "3", After: "1"},
						{Path: "autoscaling", Before: "min 1, max 3", After: "off"},
					}},
				}
				c.Fields = []FieldChange{{Path: "releaseChannel", Before: "STABLE", After: "REGULAR"}}
			}),
			want: []Update{
				{Kind: UpdateReleaseChannel, Description: "release channel STABLE → REGULAR"},
				{Kind: UpdateNodePoolAutoscaling, Pool: "cpu", Description: "node pool cpu: autoscaling min 1, max 3 → off"},
				{Kind: UpdateNodePoolSize, Pool: "cpu", Description: "node pool cpu: nodes 3 → 1"},
			},
		},
		{
			name: "a pool the topology lacks",
			change: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{{Name: "gone", Action: object.ActionUpdate, Fields: []FieldChange{{Path: "nodeCount", Before: "1", After: "2"}}}}
			}),
			wantErr: "GKE cluster training-us: the plan changes node pool gone, which the topology does not have",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Updates(tt.change, desired)
			switch {
			case tt.wantErr != "":
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("Updates error = %v\nwant %s", err, tt.wantErr)
				}
			case err != nil:
				t.Errorf("Updates: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Updates (-want +got):\n%s", d)
			}
		})
	}
}

func TestTargetsCluster(t *testing.T) {
	const prefix = "https://container.googleapis.com/v1/projects/123/zones/us-west1-b/clusters/"
	tests := []struct {
		link string
		want bool
	}{
		{prefix + "training-us", true},
		{prefix + "training-us/nodePools/a100", true},
		{prefix + "training-us-2", false},
		{prefix + "training", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := targetsCluster(tt.link, "training-us"); got != tt.want {
			t.Errorf("targetsCluster(%q) = %t, want %t", tt.link, got, tt.want)
		}
	}
}
