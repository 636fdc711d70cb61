package gkeemu

import (
	"fmt"
	"slices"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/gke/nodeshape"
)

// gpuPool is a one-pool cluster of machine, with acc if it names a type.
func gpuPool(name, machine string, acc catalog.AcceleratorConfig, locations ...string) *containerpb.Cluster {
	cfg := &containerpb.NodeConfig{MachineType: machine}
	if acc.Type != "" {
		cfg.Accelerators = []*containerpb.AcceleratorConfig{{AcceleratorType: acc.Type, AcceleratorCount: acc.Count}}
	}
	return &containerpb.Cluster{Name: name, NodePools: []*containerpb.NodePool{{
		Name: "p", InitialNodeCount: 1, Config: cfg, Locations: locations,
	}}}
}

// TestAcceleratorRefusalsAreGKEs: where GKE's or Compute Engine's refusal of
// a node pool is on record, the emulator refuses the same pool with the same
// words, exactly.
func TestAcceleratorRefusalsAreGKEs(t *testing.T) {
	_, c := startServer(t, newFake(), Options{})
	for i, tt := range []struct {
		location, machine string
		acc               catalog.AcceleratorConfig
		message           string
		source            string
	}{
		{"us-west4-c", "n1-standard-4", catalog.AcceleratorConfig{Type: "nvidia-tesla-t4", Count: 1},
			`Accelerator type "nvidia-tesla-t4" does not exist in zone us-west4-c.`,
			"gcloud container node-pools create, GoogleCloudPlatform/kubernetes-engine-samples#1738"},
		{"us-west4-b", "g2-standard-4", catalog.AcceleratorConfig{Type: "nvidia-l4", Count: 1},
			`Accelerator type "nvidia-l4" does not exist in zone us-west4-b.`,
			"gcloud container node-pools create, GoogleCloudPlatform/kubernetes-engine-samples#1738"},
		{"us-west4-b", "n1-standard-4", catalog.AcceleratorConfig{Type: "nvidia-tesla-p4", Count: 1},
			`Accelerator type "nvidia-tesla-p4" does not exist in zone us-west4-b.`,
			"gcloud container node-pools create, GoogleCloudPlatform/kubernetes-engine-samples#1738"},
		{"us-east1-c", "n1-standard-4", catalog.AcceleratorConfig{Type: "nvidia-tesla-k80", Count: 1},
			`Accelerator type "nvidia-tesla-k80" does not exist in zone us-east1-c.`,
			"creating a NodePool, GoogleCloudPlatform/k8s-config-connector#1902"},
		{"us-central1-b", "", catalog.AcceleratorConfig{Type: "nvidia-tesla-t4", Count: 1},
			"Cannot use default machine type (e2-medium) with GPUs; choose a different machine type.",
			"creating a NodePool, hashicorp/terraform-provider-google#8387"},
		{"us-central1-b", "e2-standard-2", catalog.AcceleratorConfig{Type: "nvidia-tesla-t4", Count: 1},
			"[e2-standard-2, nvidia-tesla-t4] features are not compatible for creating instance.",
			"Compute Engine, kubernetes/test-infra#35205"},
		{"us-central1-a", "n1-highmem-8", catalog.AcceleratorConfig{Type: "nvidia-tesla-a100", Count: 1},
			"[nvidia-tesla-a100, n1-highmem-8] features are not compatible for creating instance.",
			"Compute Engine, skypilot-org/skypilot#212"},
		{"us-west1-a", "n1-standard-8", catalog.AcceleratorConfig{Type: "nvidia-tesla-p100", Count: 8},
			"Invalid value for field 'resource.guestAccelerators[0].acceleratorCount': '8'. Number of accelerator cards attached to an instance must be one of [1, 2, 4].",
			"Compute Engine, google/deepvariant#136"},
	} {
		_, err := c.CreateCluster(t.Context(), &containerpb.CreateClusterRequest{
			Parent: parent(tt.location), Cluster: gpuPool(fmt.Sprintf("c%d", i), tt.machine, tt.acc),
		})
		st, _ := status.FromError(err)
		if st.Code() != codes.InvalidArgument || st.Message() != tt.message {
			t.Errorf("%s %q with %d %s: got %v\nwant InvalidArgument %q (%s)", tt.location, tt.machine, tt.acc.Count, tt.acc.Type, err, tt.message, tt.source)
		}
	}
}

// TestAcceleratorRefusalsAreValidations: the emulator refuses a node pool
// exactly when topology validation's rule (the catalogue's) does, in the
// pool's zone, or its region for a regional cluster, and says what the
// catalogue says first.
func TestAcceleratorRefusalsAreValidations(t *testing.T) {
	_, c := startServer(t, newFake(), Options{})
	machines := []string{"e2-standard-8", "n1-standard-8", "n1-standard-16", "n1-standard-96", "a2-highgpu-1g", "g2-standard-8"}
	accs := []catalog.AcceleratorConfig{{}, {Type: "nvidia-tesla-t4", Count: 1}, {Type: "nvidia-tesla-t4", Count: 4},
		{Type: "nvidia-tesla-v100", Count: 1}, {Type: "nvidia-tesla-a100", Count: 1}, {Type: "nvidia-l4", Count: 1},
		{Type: "nvidia-tesla-p100", Count: 8}, {Type: "nvidia-tesla-z9", Count: 1}}
	n := 0
	for _, location := range []string{"us-west1-a", "us-west1-b", "us-west4-c", "europe-west9-a", "us-west1", "europe-west9"} {
		for _, machine := range machines {
			for _, acc := range accs {
				n++
				_, err := c.CreateCluster(t.Context(), &containerpb.CreateClusterRequest{
					Parent: parent(location), Cluster: gpuPool(fmt.Sprintf("c%d", n), machine, acc),
				})
				var configs []catalog.AcceleratorConfig
				if acc.Type != "" {
					configs = []catalog.AcceleratorConfig{acc}
				}
				want := catalog.AsAcceleratorErrors(catalog.CheckAccelerators(machine, location, configs))
				st, _ := status.FromError(err)
				switch {
				case len(want) == 0 && err != nil:
					t.Errorf("%s %s %v: emulator refused %v, validation accepts", location, machine, acc, err)
				case len(want) > 0 && (st.Code() != codes.InvalidArgument || st.Message() != want[0].Msg):
					t.Errorf("%s %s %v: emulator said %v, want InvalidArgument %q", location, machine, acc, err, want[0].Msg)
				}
			}
		}
	}
}

// TestAcceleratorLocations: a regional cluster's pool is checked in its
// region (the emulator's one zone stands in for zones GKE would pick), a
// pool naming zones in each of them, a zonal cluster's in its zones.
func TestAcceleratorLocations(t *testing.T) {
	_, c := startServer(t, newFake(), Options{})
	ctx := t.Context()
	a100 := catalog.AcceleratorConfig{Type: "nvidia-tesla-a100", Count: 1}

	// us-west1 offers A100s in us-west1-b only; the stand-in zone is us-west1-a.
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuPool("regional", "a2-highgpu-1g", a100)})
	mustSucceed(t, c, op, err)
	op, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuPool("in-b", "a2-highgpu-1g", a100, "us-west1-b")})
	mustSucceed(t, c, op, err)
	_, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuPool("in-a-and-b", "a2-highgpu-1g", a100, "us-west1-b", "us-west1-a")})
	wantCode(t, err, codes.InvalidArgument, `Accelerator type "nvidia-tesla-a100" does not exist in zone us-west1-a.`)
	_, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1-a"), Cluster: gpuPool("zonal", "a2-highgpu-1g", catalog.AcceleratorConfig{})})
	wantCode(t, err, codes.InvalidArgument, `Machine type "a2-highgpu-1g" does not exist in zone us-west1-a.`)
	_, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("europe-west9"),
		Cluster: gpuPool("nowhere", "n1-standard-8", catalog.AcceleratorConfig{Type: "nvidia-tesla-t4", Count: 1})})
	wantCode(t, err, codes.InvalidArgument, `Accelerator type "nvidia-tesla-t4" does not exist in any zone of region europe-west9.`)

	// A pool added later is held to the same rules.
	cl := clusterName("us-west1", "regional")
	_, err = c.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: cl, NodePool: &containerpb.NodePool{
		Name: "e2-t4", InitialNodeCount: 1, Config: &containerpb.NodeConfig{
			MachineType:  "e2-standard-8",
			Accelerators: []*containerpb.AcceleratorConfig{{AcceleratorType: "nvidia-tesla-t4", AcceleratorCount: 1}},
		},
	}})
	wantCode(t, err, codes.InvalidArgument, "[e2-standard-8, nvidia-tesla-t4] features are not compatible for creating instance.")

	// Updates are checked in the region: attaching T4s to the pool's
	// machine type is refused there as at creation.
	_, err = c.UpdateNodePool(ctx, &containerpb.UpdateNodePoolRequest{Name: cl + "/nodePools/p", MachineType: "e2-standard-8",
		Accelerators: []*containerpb.AcceleratorConfig{{AcceleratorType: "nvidia-tesla-t4", AcceleratorCount: 1}}})
	wantCode(t, err, codes.InvalidArgument, "[e2-standard-8, nvidia-tesla-t4] features are not compatible for creating instance.")
}

// TestUpdateNodePoolRecreatesNodes: a new machine type, accelerators, disk
// or image make the pool's nodes anew, under new names and of the new
// shape, as GKE's upgrade makes new instances; new labels change the nodes
// there. A resize afterwards numbers its nodes apart from those.
func TestUpdateNodePoolRecreatesNodes(t *testing.T) {
	fake := newFake()
	_, c := startServer(t, fake, Options{})
	ctx := t.Context()
	cl := clusterName("us-central1-b", "zonal")
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-central1-b"), Cluster: &containerpb.Cluster{
		Name: "zonal", Locations: []string{"us-central1-b", "us-central1-c"},
		NodePools: []*containerpb.NodePool{{Name: "web", InitialNodeCount: 2, Config: &containerpb.NodeConfig{MachineType: "e2-standard-4"}}},
	}})
	mustSucceed(t, c, op, err)
	pool := cl + "/nodePools/web"
	t4 := []*containerpb.AcceleratorConfig{{AcceleratorType: "nvidia-tesla-t4", AcceleratorCount: 1}}
	for _, step := range []struct {
		name    string
		call    func() (*containerpb.Operation, error)
		indexes []int // per zone
		shape   string
	}{
		{"created", nil, nil, "e2-standard-4 0 GPUs"},
		{"new machine type: new nodes", func() (*containerpb.Operation, error) {
			return c.UpdateNodePool(ctx, &containerpb.UpdateNodePoolRequest{Name: pool, MachineType: "n1-standard-8", NodeVersion: "-", ImageType: "COS_CONTAINERD"})
		}, []int{2, 3}, "n1-standard-8 0 GPUs"},
		{"labels: the same nodes", func() (*containerpb.Operation, error) {
			return c.UpdateNodePool(ctx, &containerpb.UpdateNodePoolRequest{Name: pool, Labels: &containerpb.NodeLabels{Labels: map[string]string{"tier": "web"}}})
		}, []int{2, 3}, "n1-standard-8 0 GPUs"},
		{"accelerators: new nodes", func() (*containerpb.Operation, error) {
			return c.UpdateNodePool(ctx, &containerpb.UpdateNodePoolRequest{Name: pool, MachineType: "n1-standard-8", Accelerators: t4})
		}, []int{4, 5}, "n1-standard-8 1 GPUs"},
		{"the same machine again: the same nodes", func() (*containerpb.Operation, error) {
			return c.UpdateNodePool(ctx, &containerpb.UpdateNodePoolRequest{Name: pool, MachineType: "n1-standard-8", Accelerators: t4})
		}, []int{4, 5}, "n1-standard-8 1 GPUs"},
		{"disk size: new nodes", func() (*containerpb.Operation, error) {
			return c.UpdateNodePool(ctx, &containerpb.UpdateNodePoolRequest{Name: pool, DiskSizeGb: 200})
		}, []int{6, 7}, "n1-standard-8 1 GPUs"},
		{"grown: the lowest free numbers", func() (*containerpb.Operation, error) {
			return c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: pool, NodeCount: 3})
		}, []int{0, 6, 7}, "n1-standard-8 1 GPUs"},
	} {
		if step.call != nil {
			op, err := step.call()
			mustSucceed(t, c, op, err)
		}
		nodes, _ := fake.clusterNodes("zonal")
		if len(nodes) != 2 {
			t.Fatalf("%s: %d node groups, want one per zone: %+v", step.name, len(nodes), nodes)
		}
		for _, n := range nodes {
			gpus := n.Node.Allocatable[nodeshape.GPUResource]
			shape := fmt.Sprintf("%s %d GPUs", n.Node.Labels["node.kubernetes.io/instance-type"], gpus.Value())
			if !slices.Equal(n.Indexes, step.indexes) || shape != step.shape {
				t.Errorf("%s: %s nodes %v of %s, want %v of %s", step.name, n.Zone, n.Indexes, shape, step.indexes, step.shape)
			}
		}
	}
	if nodes, _ := fake.clusterNodes("zonal"); nodes[0].Node.Labels["tier"] != "web" {
		t.Errorf("a recreation lost the pool's labels: %v", nodes[0].Node.Labels)
	}
}
