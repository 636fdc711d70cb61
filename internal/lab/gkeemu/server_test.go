package gkeemu

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/gke/nodeshape"
)

const project = "proj"

// startServer serves an emulator with fake on loopback and returns a real
// container client for it, dialled as pkg/gke dials GKE_EMULATOR_HOST.
func startServer(t *testing.T, fake Provisioner, opts Options) (*Server, *container.ClusterManagerClient) {
	t.Helper()
	opts.Provisioner = fake
	if opts.PendingFor == 0 {
		opts.PendingFor = 10 * time.Millisecond
	}
	if opts.MinRunning == 0 {
		opts.MinRunning = 10 * time.Millisecond
	}
	s, addr, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s, newClient(t, addr)
}

func newClient(t *testing.T, addr string) *container.ClusterManagerClient {
	t.Helper()
	c, err := container.NewClusterManagerClient(context.Background(),
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitOp polls an operation until DONE, as pkg/gke does, and returns it with
// the distinct statuses seen on the way.
func waitOp(t *testing.T, c *container.ClusterManagerClient, op *containerpb.Operation) (*containerpb.Operation, []containerpb.Operation_Status) {
	t.Helper()
	// The project is the one the operation was started in.
	proj, _, _ := strings.Cut(strings.TrimPrefix(op.GetSelfLink(), "https://container.googleapis.com/v1/projects/"), "/")
	name := fmt.Sprintf("projects/%s/locations/%s/operations/%s", proj, op.GetLocation(), op.GetName())
	seen := []containerpb.Operation_Status{op.GetStatus()}
	deadline := time.Now().Add(30 * time.Second)
	for op.GetStatus() != containerpb.Operation_DONE {
		if time.Now().After(deadline) {
			t.Fatalf("operation %s not DONE after 30s: %v", name, op)
		}
		time.Sleep(2 * time.Millisecond)
		var err error
		if op, err = c.GetOperation(t.Context(), &containerpb.GetOperationRequest{Name: name}); err != nil {
			t.Fatalf("GetOperation(%s): %v", name, err)
		}
		if seen[len(seen)-1] != op.GetStatus() {
			seen = append(seen, op.GetStatus())
		}
	}
	return op, seen
}

// mustSucceed waits for op and fails the test if it ended with an error.
func mustSucceed(t *testing.T, c *container.ClusterManagerClient, op *containerpb.Operation, err error) *containerpb.Operation {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	done, _ := waitOp(t, c, op)
	if done.GetError() != nil {
		t.Fatalf("operation %s failed: %v", done.GetName(), done.GetError())
	}
	return done
}

func parent(loc string) string { return "projects/" + project + "/locations/" + loc }

func clusterName(loc, name string) string { return parent(loc) + "/clusters/" + name }

// gpuCluster has an a2 pool that lists its built-in A100 (as GKE requires)
// and a CPU pool.
func gpuCluster(name string) *containerpb.Cluster {
	return &containerpb.Cluster{
		Name:           name,
		ResourceLabels: map[string]string{"team": "ml"},
		NodePools: []*containerpb.NodePool{
			{
				Name:             "a100",
				InitialNodeCount: 2,
				Config: &containerpb.NodeConfig{
					MachineType:  "a2-highgpu-1g",
					Accelerators: []*containerpb.AcceleratorConfig{{AcceleratorType: "nvidia-tesla-a100", AcceleratorCount: 1}},
					Spot:         true,
					Labels:       map[string]string{"workload": "train"},
				},
			},
			{Name: "cpu", InitialNodeCount: 1, Config: &containerpb.NodeConfig{MachineType: "e2-standard-4"}},
		},
	}
}

func wantCode(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code || !strings.Contains(st.Message(), msg) {
		t.Fatalf("got %v, want code %v with message containing %q", err, code, msg)
	}
}

func TestCreateGetListDelete(t *testing.T) {
	fake := newFake()
	_, c := startServer(t, fake, Options{PendingFor: 100 * time.Millisecond, MinRunning: 200 * time.Millisecond})
	ctx := t.Context()

	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("west")})
	if err != nil {
		t.Fatal(err)
	}
	if op.GetName() != "operation-1" || op.GetOperationType() != containerpb.Operation_CREATE_CLUSTER ||
		op.GetStatus() != containerpb.Operation_PENDING || op.GetLocation() != "us-west1" ||
		op.GetTargetLink() != "https://container.googleapis.com/v1/"+clusterName("us-west1", "west") ||
		op.GetSelfLink() != "https://container.googleapis.com/v1/"+parent("us-west1")+"/operations/operation-1" {
		t.Fatalf("CreateCluster returned %v", op)
	}
	got, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterName("us-west1", "west")})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetStatus() != containerpb.Cluster_PROVISIONING || got.GetEndpoint() != "" {
		t.Fatalf("cluster while creating: status %v, endpoint %q", got.GetStatus(), got.GetEndpoint())
	}

	done, seen := waitOp(t, c, op)
	if done.GetError() != nil || done.GetEndTime() == "" {
		t.Fatalf("create operation ended %v", done)
	}
	want := []containerpb.Operation_Status{containerpb.Operation_PENDING, containerpb.Operation_RUNNING, containerpb.Operation_DONE}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("operation statuses (-want +got):\n%s", diff)
	}

	got, err = c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterName("us-west1", "west")})
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := base64.StdEncoding.DecodeString(got.GetMasterAuth().GetClusterCaCertificate())
	cert, _ := base64.StdEncoding.DecodeString(got.GetMasterAuth().GetClientCertificate())
	key, _ := base64.StdEncoding.DecodeString(got.GetMasterAuth().GetClientKey())
	for _, check := range []struct {
		field     string
		got, want any
	}{
		{"status", got.GetStatus(), containerpb.Cluster_RUNNING},
		{"endpoint", got.GetEndpoint(), "127.0.0.1:40001"},
		{"ca", string(ca), "CA of west"},
		{"client cert", string(cert), "cert of west"},
		{"client key", string(key), "key of west"},
		{"location", got.GetLocation(), "us-west1"},
		{"locations", strings.Join(got.GetLocations(), ","), "us-west1-a"},
		{"version", got.GetCurrentMasterVersion(), MasterVersion},
		{"release channel", got.GetReleaseChannel().GetChannel(), containerpb.ReleaseChannel_REGULAR},
		{"self link", got.GetSelfLink(), "https://container.googleapis.com/v1/" + clusterName("us-west1", "west")},
		{"labels", got.GetResourceLabels()["team"], "ml"},
		{"node count", got.GetCurrentNodeCount(), int32(3)},
		{"pools", len(got.GetNodePools()), 2},
		{"pool status", got.GetNodePools()[0].GetStatus(), containerpb.NodePool_RUNNING},
		{"pool machine", got.GetNodePools()[0].GetConfig().GetMachineType(), "a2-highgpu-1g"},
		{"pool spot", got.GetNodePools()[0].GetConfig().GetSpot(), true},
		{"pool disk default", got.GetNodePools()[1].GetConfig().GetDiskSizeGb(), int32(100)},
		{"pool locations", strings.Join(got.GetNodePools()[1].GetLocations(), ","), "us-west1-a"},
	} {
		if check.got != check.want {
			t.Errorf("cluster %s = %v, want %v", check.field, check.got, check.want)
		}
	}
	if _, err := time.Parse(time.RFC3339, got.GetCreateTime()); err != nil {
		t.Errorf("createTime %q: %v", got.GetCreateTime(), err)
	}

	// Allocatable is the machine's less GKE's reservations (see
	// nodeshape's tests for the arithmetic); capacity the machine's.
	nodes, _ := fake.clusterNodes("west")
	wantNodes := []NodePoolNodes{
		{
			Pool: "a100", Zone: "us-west1-a", Count: 2, MilliCPU: 12000, MemoryMiB: 85 * 1024,
			Node: capacity.NodeShape{
				Allocatable: corev1.ResourceList{
					"cpu": resource.MustParse("11900m"), "memory": resource.MustParse("80038Mi"),
					"pods": resource.MustParse("110"), "ephemeral-storage": resource.MustParse("100Gi"),
					"nvidia.com/gpu": resource.MustParse("1"),
				},
				Labels: map[string]string{
					"workload":                         "train",
					"cloud.google.com/gke-nodepool":    "a100",
					"cloud.google.com/machine-family":  "a2",
					"node.kubernetes.io/instance-type": "a2-highgpu-1g",
					"topology.kubernetes.io/region":    "us-west1",
					"topology.kubernetes.io/zone":      "us-west1-a",
					"cloud.google.com/gke-accelerator": "nvidia-tesla-a100",
					"cloud.google.com/gke-spot":        "true",
					"kubernetes.io/os":                 "linux",
					"kubernetes.io/arch":               "amd64",
				},
				Taints: []corev1.Taint{{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}},
			},
		},
		{
			Pool: "cpu", Zone: "us-west1-a", Count: 1, MilliCPU: 4000, MemoryMiB: 16 * 1024,
			Node: capacity.NodeShape{
				Allocatable: corev1.ResourceList{
					"cpu": resource.MustParse("3920m"), "memory": resource.MustParse("13621Mi"),
					"pods": resource.MustParse("110"), "ephemeral-storage": resource.MustParse("100Gi"),
				},
				Labels: map[string]string{
					"cloud.google.com/gke-nodepool":    "cpu",
					"cloud.google.com/machine-family":  "e2",
					"node.kubernetes.io/instance-type": "e2-standard-4",
					"topology.kubernetes.io/region":    "us-west1",
					"topology.kubernetes.io/zone":      "us-west1-a",
					"kubernetes.io/os":                 "linux",
					"kubernetes.io/arch":               "amd64",
				},
			},
		},
	}
	if diff := cmp.Diff(wantNodes, nodes, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })); diff != "" {
		t.Errorf("provisioned nodes (-want +got):\n%s", diff)
	}

	// A zonal cluster through the deprecated fields, to list beside it.
	op, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{
		ProjectId: project, Zone: "europe-west4-b",
		Cluster: &containerpb.Cluster{Name: "eu", InitialNodeCount: 1},
	})
	mustSucceed(t, c, op, err)
	for _, tc := range []struct {
		req  *containerpb.ListClustersRequest
		want []string
	}{
		{&containerpb.ListClustersRequest{Parent: parent("-")}, []string{"eu", "west"}},
		{&containerpb.ListClustersRequest{Parent: parent("us-west1")}, []string{"west"}},
		{&containerpb.ListClustersRequest{ProjectId: project, Zone: "europe-west4-b"}, []string{"eu"}},
		{&containerpb.ListClustersRequest{ProjectId: project, Zone: "-"}, []string{"eu", "west"}},
		{&containerpb.ListClustersRequest{Parent: "projects/other/locations/-"}, nil},
	} {
		resp, err := c.ListClusters(ctx, tc.req)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, cl := range resp.GetClusters() {
			names = append(names, cl.GetName())
		}
		if diff := cmp.Diff(tc.want, names); diff != "" {
			t.Errorf("ListClusters(%v) (-want +got):\n%s", tc.req, diff)
		}
	}
	eu, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{ProjectId: project, Zone: "europe-west4-b", ClusterId: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	if p := eu.GetNodePools(); len(p) != 1 || p[0].GetName() != "default-pool" ||
		p[0].GetConfig().GetMachineType() != "e2-medium" || eu.GetLocations()[0] != "europe-west4-b" {
		t.Errorf("legacy cluster: node pools %v, locations %v", p, eu.GetLocations())
	}
	ops, err := c.ListOperations(ctx, &containerpb.ListOperationsRequest{Parent: parent("-")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ops.GetOperations()) != 2 || ops.GetOperations()[1].GetLocation() != "europe-west4-b" {
		t.Errorf("ListOperations: %v", ops.GetOperations())
	}

	op, err = c.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: clusterName("us-west1", "west")})
	if err != nil {
		t.Fatal(err)
	}
	got, err = c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterName("us-west1", "west")})
	if err != nil || got.GetStatus() != containerpb.Cluster_STOPPING {
		t.Fatalf("cluster while deleting: %v, %v", got.GetStatus(), err)
	}
	mustSucceed(t, c, op, nil)
	_, err = c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterName("us-west1", "west")})
	wantCode(t, err, codes.NotFound, "Not found: projects/proj/locations/us-west1/clusters/west.")
	if _, ok := fake.clusterNodes("west"); ok {
		t.Error("deleted cluster is still provisioned")
	}
}

func TestCreateClusterErrors(t *testing.T) {
	_, c := startServer(t, newFake(), Options{})
	ctx := t.Context()
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("taken")})
	mustSucceed(t, c, op, err)

	pool := func(machine string, accs ...*containerpb.AcceleratorConfig) *containerpb.Cluster {
		return &containerpb.Cluster{Name: "c", NodePools: []*containerpb.NodePool{{
			Name: "p", InitialNodeCount: 1,
			Config: &containerpb.NodeConfig{MachineType: machine, Accelerators: accs},
		}}}
	}
	acc := func(typ string, n int64) *containerpb.AcceleratorConfig {
		return &containerpb.AcceleratorConfig{AcceleratorType: typ, AcceleratorCount: n}
	}
	for _, tc := range []struct {
		name    string
		req     *containerpb.CreateClusterRequest
		code    codes.Code
		message string
	}{
		{"exists", &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("taken")},
			codes.AlreadyExists, "Already exists: projects/proj/locations/us-west1/clusters/taken."},
		{"name taken elsewhere", &containerpb.CreateClusterRequest{Parent: parent("us-east1"), Cluster: gpuCluster("taken")},
			codes.FailedPrecondition, "cluster names are unique across the GKE emulator"},
		{"unknown region", &containerpb.CreateClusterRequest{Parent: parent("us-west9"), Cluster: gpuCluster("c")},
			codes.InvalidArgument, `Location "us-west9" does not exist.`},
		{"unknown zone", &containerpb.CreateClusterRequest{ProjectId: project, Zone: "us-west1-z", Cluster: gpuCluster("c")},
			codes.InvalidArgument, `Location "us-west1-z" does not exist.`},
		{"bad parent", &containerpb.CreateClusterRequest{Parent: "projects/proj/zones/us-west1", Cluster: gpuCluster("c")},
			codes.InvalidArgument, `Invalid value for field "parent"`},
		{"no parent", &containerpb.CreateClusterRequest{Cluster: gpuCluster("c")},
			codes.InvalidArgument, `Required "parent" (or "project_id" and "zone") not specified.`},
		{"no cluster", &containerpb.CreateClusterRequest{Parent: parent("us-west1")},
			codes.InvalidArgument, `Required "cluster" not specified.`},
		{"no name", &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("")},
			codes.InvalidArgument, `Required "cluster.name" not specified.`},
		{"bad name", &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("Bad_Name")},
			codes.InvalidArgument, `Invalid value for field "cluster.name": "Bad_Name".`},
		{"no nodes", &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: &containerpb.Cluster{Name: "c"}},
			codes.InvalidArgument, "Cluster.initial_node_count must be greater than zero."},
		{"unknown machine", &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: pool("a2-hihggpu-1g")},
			codes.InvalidArgument, `Invalid machine type "a2-hihggpu-1g" in zone "us-west1-a": GCE_NOT_FOUND`},
		{"unknown accelerator", &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: pool("n1-standard-8", acc("nvidia-tesla-z9", 1))},
			codes.InvalidArgument, `Accelerator type "nvidia-tesla-z9" does not exist in any zone of region us-west1.`},
		{"built-in GPU mismatch", &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: pool("a2-highgpu-1g", acc("nvidia-tesla-a100", 2))},
			codes.InvalidArgument, `Machine type "a2-highgpu-1g" comes with 1 nvidia-tesla-a100 GPU(s)`},
		{"GPU on default machine", &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: pool("", acc("nvidia-tesla-t4", 1))},
			codes.InvalidArgument, "Cannot use default machine type (e2-medium) with GPUs"},
		{"L4 on N1", &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: pool("n1-standard-8", acc("nvidia-l4", 1))},
			codes.InvalidArgument, "[nvidia-l4, n1-standard-8] features are not compatible for creating instance."},
		{"zero accelerators", &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: pool("n1-standard-8", acc("nvidia-tesla-t4", 0))},
			codes.InvalidArgument, "Accelerator count must be positive"},
		{"zone of another region", &containerpb.CreateClusterRequest{Parent: parent("us-west1"),
			Cluster: &containerpb.Cluster{Name: "c", InitialNodeCount: 1, Locations: []string{"us-east1-b"}}},
			codes.InvalidArgument, `cluster.locations[0]: "us-east1-b" is not a zone of region "us-west1".`},
		{"zonal without own zone", &containerpb.CreateClusterRequest{Parent: parent("us-west1-a"),
			Cluster: &containerpb.Cluster{Name: "c", InitialNodeCount: 1, Locations: []string{"us-west1-b"}}},
			codes.InvalidArgument, `cluster.locations must include the cluster's zone "us-west1-a".`},
		{"pools and initial count", &containerpb.CreateClusterRequest{Parent: parent("us-west1"),
			Cluster: &containerpb.Cluster{Name: "c", InitialNodeCount: 1, NodePools: gpuCluster("c").NodePools}},
			codes.InvalidArgument, "must not be set together with Cluster.node_pools"},
		{"duplicate pool", &containerpb.CreateClusterRequest{Parent: parent("us-west1"),
			Cluster: &containerpb.Cluster{Name: "c", NodePools: []*containerpb.NodePool{{Name: "p", InitialNodeCount: 1}, {Name: "p", InitialNodeCount: 1}}}},
			codes.InvalidArgument, `node pool "p" is listed twice`},
		{"bad autoscaling", &containerpb.CreateClusterRequest{Parent: parent("us-west1"),
			Cluster: &containerpb.Cluster{Name: "c", NodePools: []*containerpb.NodePool{{Name: "p", InitialNodeCount: 1,
				Autoscaling: &containerpb.NodePoolAutoscaling{Enabled: true, MinNodeCount: 3, MaxNodeCount: 2}}}}},
			codes.InvalidArgument, "need 0 <= min_node_count <= max_node_count"},
		{"autopilot", &containerpb.CreateClusterRequest{Parent: parent("us-west1"),
			Cluster: &containerpb.Cluster{Name: "c", Autopilot: &containerpb.Autopilot{Enabled: true}}},
			codes.Unimplemented, "Autopilot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateCluster(ctx, tc.req)
			wantCode(t, err, tc.code, tc.message)
		})
	}
}

func TestNames(t *testing.T) {
	_, c := startServer(t, newFake(), Options{})
	ctx := t.Context()
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("west")})
	mustSucceed(t, c, op, err)

	for _, tc := range []struct {
		name    string
		req     *containerpb.GetClusterRequest
		code    codes.Code
		message string
	}{
		{"modern", &containerpb.GetClusterRequest{Name: clusterName("us-west1", "west")}, codes.OK, ""},
		{"deprecated", &containerpb.GetClusterRequest{ProjectId: project, Zone: "us-west1", ClusterId: "west"}, codes.OK, ""},
		{"name wins", &containerpb.GetClusterRequest{Name: clusterName("us-west1", "west"), ClusterId: "other"}, codes.OK, ""},
		{"other project", &containerpb.GetClusterRequest{Name: "projects/x/locations/us-west1/clusters/west"},
			codes.NotFound, "Not found: projects/x/locations/us-west1/clusters/west."},
		{"other location", &containerpb.GetClusterRequest{Name: clusterName("us-west1-a", "west")},
			codes.NotFound, "Not found: projects/proj/locations/us-west1-a/clusters/west."},
		{"malformed", &containerpb.GetClusterRequest{Name: "projects/proj/clusters/west"},
			codes.InvalidArgument, `Must be of the form "projects/*/locations/*/clusters/*".`},
		{"incomplete deprecated", &containerpb.GetClusterRequest{ProjectId: project, ClusterId: "west"},
			codes.InvalidArgument, `Required "name" (or "project_id", "zone" and "cluster_id") not specified.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.GetCluster(ctx, tc.req)
			if tc.code == codes.OK {
				if err != nil || got.GetName() != "west" {
					t.Fatalf("GetCluster: %v, %v", got.GetName(), err)
				}
				return
			}
			wantCode(t, err, tc.code, tc.message)
		})
	}

	got, err := c.GetOperation(ctx, &containerpb.GetOperationRequest{ProjectId: project, Zone: "us-west1", OperationId: op.GetName()})
	if err != nil || got.GetStatus() != containerpb.Operation_DONE {
		t.Errorf("GetOperation by deprecated fields: %v, %v", got, err)
	}
	_, err = c.GetOperation(ctx, &containerpb.GetOperationRequest{Name: parent("us-east1") + "/operations/" + op.GetName()})
	wantCode(t, err, codes.NotFound, "Not found: projects/proj/locations/us-east1/operations/operation-1.")
	_, err = c.GetOperation(ctx, &containerpb.GetOperationRequest{Name: op.GetName()})
	wantCode(t, err, codes.InvalidArgument, `Must be of the form "projects/*/locations/*/operations/*".`)
}

func TestNodePools(t *testing.T) {
	fake := newFake()
	_, c := startServer(t, fake, Options{})
	ctx := t.Context()
	cl := clusterName("us-central1-b", "zonal")
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{
		Parent:  parent("us-central1-b"),
		Cluster: &containerpb.Cluster{Name: "zonal", Locations: []string{"us-central1-b", "us-central1-c"}, InitialNodeCount: 1},
	})
	mustSucceed(t, c, op, err)

	// Node counts are per zone: 2 nodes in each of 2 zones.
	op, err = c.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: cl, NodePool: &containerpb.NodePool{
		Name: "t4", InitialNodeCount: 2,
		Config: &containerpb.NodeConfig{
			MachineType:  "n1-standard-8",
			Accelerators: []*containerpb.AcceleratorConfig{{AcceleratorType: "nvidia-tesla-t4", AcceleratorCount: 2}},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if op.GetOperationType() != containerpb.Operation_CREATE_NODE_POOL || op.GetTargetLink() != "https://container.googleapis.com/v1/"+cl+"/nodePools/t4" {
		t.Errorf("CreateNodePool returned %v", op)
	}
	np, err := c.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: cl + "/nodePools/t4"})
	if err != nil || np.GetStatus() != containerpb.NodePool_PROVISIONING {
		t.Errorf("pool while creating: %v, %v", np.GetStatus(), err)
	}
	mustSucceed(t, c, op, nil)
	_, err = c.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: cl, NodePool: &containerpb.NodePool{Name: "t4", InitialNodeCount: 1}})
	wantCode(t, err, codes.AlreadyExists, "Already exists: "+cl+"/nodePools/t4.")

	nodes, _ := fake.clusterNodes("zonal")
	var summary []string
	for _, n := range nodes {
		gpus := n.Node.Allocatable[nodeshape.GPUResource]
		summary = append(summary, fmt.Sprintf("%s/%s: %d × %dm %s×%s", n.Pool, n.Zone, n.Count, n.MilliCPU, n.Node.Labels[nodeshape.LabelAccelerator], gpus.String()))
	}
	want := []string{
		"default-pool/us-central1-b: 1 × 2000m ×0",
		"default-pool/us-central1-c: 1 × 2000m ×0",
		"t4/us-central1-b: 2 × 8000m nvidia-tesla-t4×2",
		"t4/us-central1-c: 2 × 8000m nvidia-tesla-t4×2",
	}
	if diff := cmp.Diff(want, summary); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}

	// A resize keeps initialNodeCount, as GKE does; the cluster's
	// currentNodeCount follows.
	op, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{ProjectId: project, Zone: "us-central1-b", ClusterId: "zonal", NodePoolId: "t4", NodeCount: 3})
	mustSucceed(t, c, op, err)
	got, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: cl})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetCurrentNodeCount() != 8 || got.GetNodePools()[1].GetInitialNodeCount() != 2 {
		t.Errorf("after resize: currentNodeCount %d (want 8), initialNodeCount %d (want 2)",
			got.GetCurrentNodeCount(), got.GetNodePools()[1].GetInitialNodeCount())
	}
	if nodes, _ := fake.clusterNodes("zonal"); nodes[2].Count != 3 || nodes[3].Count != 3 {
		t.Errorf("after resize, t4 nodes %+v", nodes[2:])
	}

	// Autoscaling: no autoscaler, so the size moves into the bounds.
	op, err = c.SetNodePoolAutoscaling(ctx, &containerpb.SetNodePoolAutoscalingRequest{
		Name:        cl + "/nodePools/t4",
		Autoscaling: &containerpb.NodePoolAutoscaling{Enabled: true, MinNodeCount: 0, MaxNodeCount: 1},
	})
	mustSucceed(t, c, op, err)
	if nodes, _ := fake.clusterNodes("zonal"); nodes[2].Count != 1 {
		t.Errorf("after autoscaling max 1, t4 nodes per zone = %d", nodes[2].Count)
	}
	op, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: cl + "/nodePools/t4", NodeCount: 5})
	mustSucceed(t, c, op, err)
	if nodes, _ := fake.clusterNodes("zonal"); nodes[2].Count != 1 {
		t.Errorf("resize of an autoscaled pool past its max: nodes per zone = %d, want 1", nodes[2].Count)
	}

	list, err := c.ListNodePools(ctx, &containerpb.ListNodePoolsRequest{Parent: cl})
	if err != nil || len(list.GetNodePools()) != 2 || list.GetNodePools()[1].GetAutoscaling().GetMaxNodeCount() != 1 {
		t.Fatalf("ListNodePools: %v, %v", list, err)
	}

	op, err = c.DeleteNodePool(ctx, &containerpb.DeleteNodePoolRequest{Name: cl + "/nodePools/t4"})
	if err != nil {
		t.Fatal(err)
	}
	np, _ = c.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: cl + "/nodePools/t4"})
	if np.GetStatus() != containerpb.NodePool_STOPPING {
		t.Errorf("pool while deleting: %v", np.GetStatus())
	}
	mustSucceed(t, c, op, nil)
	_, err = c.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: cl + "/nodePools/t4"})
	wantCode(t, err, codes.NotFound, "Not found: "+cl+"/nodePools/t4.")
	if nodes, _ := fake.clusterNodes("zonal"); len(nodes) != 2 || nodes[0].Pool != "default-pool" {
		t.Errorf("after deleting t4: %+v", nodes)
	}
}

func TestUpdates(t *testing.T) {
	fake := newFake()
	_, c := startServer(t, fake, Options{})
	ctx := t.Context()
	cl := clusterName("us-west1", "west")
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("west")})
	mustSucceed(t, c, op, err)

	op, err = c.UpdateCluster(ctx, &containerpb.UpdateClusterRequest{Name: cl, Update: &containerpb.ClusterUpdate{
		DesiredReleaseChannel: &containerpb.ReleaseChannel{Channel: containerpb.ReleaseChannel_STABLE},
	}})
	mustSucceed(t, c, op, err)
	op, err = c.UpdateCluster(ctx, &containerpb.UpdateClusterRequest{Name: cl, Update: &containerpb.ClusterUpdate{
		DesiredNodePoolId:          "cpu",
		DesiredNodePoolAutoscaling: &containerpb.NodePoolAutoscaling{Enabled: true, MinNodeCount: 2, MaxNodeCount: 4},
	}})
	mustSucceed(t, c, op, err)
	got, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: cl})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetReleaseChannel().GetChannel() != containerpb.ReleaseChannel_STABLE {
		t.Errorf("release channel = %v", got.GetReleaseChannel())
	}
	if a := got.GetNodePools()[1].GetAutoscaling(); !a.GetEnabled() || a.GetMinNodeCount() != 2 {
		t.Errorf("cpu pool autoscaling = %v", a)
	}
	if nodes, _ := fake.clusterNodes("west"); nodes[1].Count != 2 {
		t.Errorf("cpu nodes = %d, want 2 (autoscaling min)", nodes[1].Count)
	}

	// Vertical scaling: a2-highgpu-1g to 2g doubles the built-in GPUs.
	op, err = c.UpdateNodePool(ctx, &containerpb.UpdateNodePoolRequest{Name: cl + "/nodePools/a100", MachineType: "a2-highgpu-2g", NodeVersion: "-", ImageType: "COS_CONTAINERD"})
	mustSucceed(t, c, op, err)
	if nodes, _ := fake.clusterNodes("west"); ptr.To(nodes[0].Node.Allocatable[nodeshape.GPUResource]).Value() != 2 ||
		nodes[0].Node.Labels["node.kubernetes.io/instance-type"] != "a2-highgpu-2g" || len(fakeAccelerators(t, c, cl)) != 0 {
		t.Errorf("after machine type change: %+v", nodes[0])
	}
	op, err = c.UpdateNodePool(ctx, &containerpb.UpdateNodePoolRequest{Name: cl + "/nodePools/cpu", Labels: &containerpb.NodeLabels{Labels: map[string]string{"tier": "web"}}})
	mustSucceed(t, c, op, err)
	if nodes, _ := fake.clusterNodes("west"); nodes[1].Node.Labels["tier"] != "web" {
		t.Errorf("after label change: %v", nodes[1].Node.Labels)
	}

	for _, tc := range []struct {
		name    string
		call    func() error
		code    codes.Code
		message string
	}{
		{"unemulated cluster field", func() error {
			_, err := c.UpdateCluster(ctx, &containerpb.UpdateClusterRequest{Name: cl, Update: &containerpb.ClusterUpdate{
				DesiredLocations: []string{"us-west1-b"}, DesiredLoggingService: "none",
			}})
			return err
		}, codes.Unimplemented, "does not emulate ClusterUpdate fields desired_locations, desired_logging_service."},
		{"empty update", func() error {
			_, err := c.UpdateCluster(ctx, &containerpb.UpdateClusterRequest{Name: cl, Update: &containerpb.ClusterUpdate{}})
			return err
		}, codes.InvalidArgument, "Update has no desired change."},
		{"other version", func() error {
			_, err := c.UpdateCluster(ctx, &containerpb.UpdateClusterRequest{Name: cl, Update: &containerpb.ClusterUpdate{DesiredMasterVersion: "1.36"}})
			return err
		}, codes.InvalidArgument, `version "1.36" is not available; the lab runs 1.37.2-gke.100 only.`},
		{"autoscaling without pool id", func() error {
			_, err := c.UpdateCluster(ctx, &containerpb.UpdateClusterRequest{Name: cl, Update: &containerpb.ClusterUpdate{
				DesiredNodePoolAutoscaling: &containerpb.NodePoolAutoscaling{Enabled: true, MaxNodeCount: 3},
			}})
			return err
		}, codes.InvalidArgument, `Required "update.desired_node_pool_id" not specified.`},
		{"unknown machine type", func() error {
			_, err := c.UpdateNodePool(ctx, &containerpb.UpdateNodePoolRequest{Name: cl + "/nodePools/cpu", MachineType: "e2-standard-5"})
			return err
		}, codes.InvalidArgument, `Invalid machine type "e2-standard-5"`},
		{"unemulated pool field", func() error {
			_, err := c.UpdateNodePool(ctx, &containerpb.UpdateNodePoolRequest{Name: cl + "/nodePools/cpu", Locations: []string{"us-west1-b"}})
			return err
		}, codes.Unimplemented, "does not emulate UpdateNodePoolRequest fields locations."},
		{"unknown pool", func() error {
			_, err := c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: cl + "/nodePools/nope", NodeCount: 1})
			return err
		}, codes.NotFound, "Not found: " + cl + "/nodePools/nope."},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), tc.code, tc.message) })
	}
}

func fakeAccelerators(t *testing.T, c *container.ClusterManagerClient, cl string) []*containerpb.AcceleratorConfig {
	t.Helper()
	np, err := c.GetNodePool(t.Context(), &containerpb.GetNodePoolRequest{Name: cl + "/nodePools/a100"})
	if err != nil {
		t.Fatal(err)
	}
	return np.GetConfig().GetAccelerators()
}

func TestOneOperationAtATime(t *testing.T) {
	_, c := startServer(t, newFake(), Options{PendingFor: 200 * time.Millisecond})
	ctx := t.Context()
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("west")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: clusterName("us-west1", "west")})
	wantCode(t, err, codes.FailedPrecondition, "Cluster is running incompatible operation operation-1.")
	_, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: clusterName("us-west1", "west") + "/nodePools/cpu", NodeCount: 2})
	wantCode(t, err, codes.FailedPrecondition, "Cluster is running incompatible operation operation-1.")
	mustSucceed(t, c, op, nil)
}

func TestQuota(t *testing.T) {
	s, c := startServer(t, newFake(), Options{})
	ctx := t.Context()
	s.SetQuota("us-west1", Quota{CPUs: Unlimited, GPUs: 4})
	s.SetQuota("europe-west4", Quota{CPUs: 8, GPUs: 0})

	big := gpuCluster("big")
	big.NodePools[0].Config.MachineType = "a2-highgpu-8g"
	big.NodePools[0].Config.Accelerators[0].AcceleratorCount = 8
	big.NodePools[0].InitialNodeCount = 1
	_, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: big})
	wantCode(t, err, codes.ResourceExhausted,
		`Insufficient regional quota to satisfy request: resource "NVIDIA_A100_GPUS": request requires '8.0' and is short '4.0'. project has a quota of '4.0' with '4.0' available. View and manage quotas at https://console.cloud.google.com/iam-admin/quotas?usage=USED&project=proj.`)

	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("west")})
	mustSucceed(t, c, op, err)
	// 2 GPUs used; 3 more per zone is 1 more than the 2 left.
	_, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: clusterName("us-west1", "west") + "/nodePools/a100", NodeCount: 5})
	wantCode(t, err, codes.ResourceExhausted, `resource "NVIDIA_A100_GPUS": request requires '3.0' and is short '1.0'. project has a quota of '4.0' with '2.0' available.`)
	op, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: clusterName("us-west1", "west") + "/nodePools/a100", NodeCount: 4})
	mustSucceed(t, c, op, err)
	// The quota is per project.
	op, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: "projects/other/locations/us-west1", Cluster: gpuCluster("other")})
	mustSucceed(t, c, op, err)

	// Two limits exceeded at once are both listed, as GKE lists them.
	_, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("europe-west4"), Cluster: gpuCluster("eu")})
	wantCode(t, err, codes.ResourceExhausted,
		"\n\t(1) insufficient regional quota to satisfy request: resource \"CPUS\": request requires '28.0' and is short '20.0'. project has a quota of '8.0' with '8.0' available.")
	wantCode(t, err, codes.ResourceExhausted,
		"\n\t(2) insufficient regional quota to satisfy request: resource \"NVIDIA_A100_GPUS\": request requires '2.0' and is short '2.0'. project has a quota of '0.0' with '0.0' available.")

	s.SetQuota("europe-west4", Quota{CPUs: Unlimited, GPUs: Unlimited})
	op, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("europe-west4"), Cluster: gpuCluster("eu")})
	mustSucceed(t, c, op, err)
}

func TestFailNextOperation(t *testing.T) {
	fake := newFake()
	s, c := startServer(t, fake, Options{})
	ctx := t.Context()
	cl := clusterName("us-west1", "west")

	s.FailNextOperation("west", containerpb.Operation_CREATE_CLUSTER, "Google Compute Engine: The zone 'us-west1-a' does not have enough resources (GCE_STOCKOUT).")
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("west")})
	if err != nil {
		t.Fatal(err)
	}
	done, seen := waitOp(t, c, op)
	if done.GetError().GetCode() != int32(codes.Internal) || !strings.Contains(done.GetStatusMessage(), "GCE_STOCKOUT") ||
		seen[len(seen)-1] != containerpb.Operation_DONE {
		t.Fatalf("failed create ended %v", done)
	}
	got, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: cl})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetStatus() != containerpb.Cluster_ERROR || !strings.Contains(got.GetStatusMessage(), "GCE_STOCKOUT") || got.GetEndpoint() != "" {
		t.Errorf("cluster after failed create: %v %q endpoint %q", got.GetStatus(), got.GetStatusMessage(), got.GetEndpoint())
	}
	_, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: cl + "/nodePools/cpu", NodeCount: 2})
	wantCode(t, err, codes.FailedPrecondition, `Cluster "west" is in ERROR state.`)
	// A cluster in ERROR can be deleted; nothing was provisioned.
	op, err = c.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: cl})
	mustSucceed(t, c, op, err)
	if calls := fake.callLog(); len(calls) != 0 {
		t.Errorf("provisioner calls for a create that failed before provisioning: %v", calls)
	}

	// A failed resize leaves the cluster RUNNING and the pool in ERROR at
	// its old size.
	op, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("west")})
	mustSucceed(t, c, op, err)
	s.FailNextOperation("west", containerpb.Operation_TYPE_UNSPECIFIED, "resize failed")
	op, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: cl + "/nodePools/cpu", NodeCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	if done, _ := waitOp(t, c, op); done.GetError().GetMessage() != "resize failed" {
		t.Fatalf("failed resize ended %v", done)
	}
	got, _ = c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: cl})
	if got.GetStatus() != containerpb.Cluster_RUNNING || got.GetNodePools()[1].GetStatus() != containerpb.NodePool_ERROR ||
		got.GetNodePools()[1].GetStatusMessage() != "resize failed" || got.GetCurrentNodeCount() != 3 {
		t.Errorf("after failed resize: cluster %v, pool %v %q, %d nodes", got.GetStatus(),
			got.GetNodePools()[1].GetStatus(), got.GetNodePools()[1].GetStatusMessage(), got.GetCurrentNodeCount())
	}
	// The failure was used up: the next resize works and clears the error.
	op, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: cl + "/nodePools/cpu", NodeCount: 3})
	mustSucceed(t, c, op, err)
	np, _ := c.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: cl + "/nodePools/cpu"})
	if np.GetStatus() != containerpb.NodePool_RUNNING || np.GetStatusMessage() != "" {
		t.Errorf("pool after a good resize: %v %q", np.GetStatus(), np.GetStatusMessage())
	}

	// A provisioner error fails the operation the same way.
	fake.mu.Lock()
	fake.failWith = errors.New("kwok exited")
	fake.mu.Unlock()
	op, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: cl + "/nodePools/cpu", NodeCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	if done, _ := waitOp(t, c, op); done.GetStatusMessage() != "resizing the cluster's nodes: kwok exited" {
		t.Errorf("provisioner failure ended %v", done)
	}
}

func TestSetDark(t *testing.T) {
	fake := newFake()
	s, c := startServer(t, fake, Options{})
	ctx := t.Context()
	if err := s.SetDark(ctx, "west", true); err == nil || !strings.Contains(err.Error(), "no such cluster") {
		t.Errorf("SetDark of a missing cluster: %v", err)
	}
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("west")})
	mustSucceed(t, c, op, err)
	if err := s.SetDark(ctx, "west", true); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterName("us-west1", "west")})
	if err != nil || got.GetStatus() != containerpb.Cluster_RUNNING {
		t.Errorf("dark cluster: %v, %v (GKE still says RUNNING)", got.GetStatus(), err)
	}
	if err := s.SetDark(ctx, "west", false); err != nil {
		t.Fatal(err)
	}
	want := []string{"provision west", "dark west true", "dark west false"}
	if diff := cmp.Diff(want, fake.callLog()); diff != "" {
		t.Errorf("provisioner calls (-want +got):\n%s", diff)
	}
}

func TestStopCancelsOperations(t *testing.T) {
	fake := newFake()
	fake.block = make(chan struct{}) // never closed: Provision hangs until cancelled
	s, c := startServer(t, fake, Options{})
	op, err := c.CreateCluster(t.Context(), &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("west")})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(fake.callLog()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Provision never called")
		}
		time.Sleep(time.Millisecond)
	}
	stopped := make(chan struct{})
	go func() { s.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return")
	}
	fake.mu.Lock()
	canceled := fake.canceled
	fake.mu.Unlock()
	if !canceled {
		t.Error("Stop returned before the running operation's context ended")
	}
	s.mu.Lock()
	final := s.operations[op.GetName()].pb
	s.mu.Unlock()
	if final.GetStatus() != containerpb.Operation_DONE || final.GetError().GetCode() != int32(codes.Aborted) {
		t.Errorf("operation after Stop: %v", final)
	}
}
