package observe

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

func i32(n int32) *int32 { return &n }

func TestPlannedCapacity(t *testing.T) {
	gkeRef := func(pools ...topology.NodePool) topology.ClusterRef {
		return topology.ClusterRef{Region: "us-west1", Cluster: &topology.Cluster{
			Name: "c", GKE: &topology.GKECluster{NodePools: pools},
		}}
	}
	const gpu = "nvidia.com/gpu"
	tests := []struct {
		name   string
		ref    topology.ClusterRef
		res    string
		want   int64
		wantOK bool
	}{
		{
			name: "joined cluster: unknown",
			ref:  topology.ClusterRef{Region: "us-west1", Cluster: &topology.Cluster{Name: "j", Kubeconfig: &topology.KubeconfigRef{Context: "j"}}},
			res:  gpu,
		},
		{
			name: "a resource other than GPUs: unknown",
			ref:  gkeRef(topology.NodePool{Name: "cpu", MachineType: "e2-standard-8", NodeCount: i32(3)}),
			res:  "cpu",
		},
		{
			name:   "no GPU pools: zero, known",
			ref:    gkeRef(topology.NodePool{Name: "cpu", MachineType: "e2-standard-8", NodeCount: i32(3)}),
			res:    gpu,
			want:   0,
			wantOK: true,
		},
		{
			name: "accelerators times node count, over pools",
			ref: gkeRef(
				topology.NodePool{Name: "cpu", MachineType: "e2-standard-8", NodeCount: i32(1)},
				topology.NodePool{Name: "t4", MachineType: "n1-standard-8", NodeCount: i32(3),
					Accelerators: []topology.Accelerator{{Type: "nvidia-tesla-t4", Count: 2}}},
				topology.NodePool{Name: "mixed", MachineType: "n1-standard-16", NodeCount: i32(2),
					Accelerators: []topology.Accelerator{{Type: "nvidia-tesla-t4", Count: 1}, {Type: "nvidia-tesla-v100", Count: 4}}},
			),
			res:    gpu,
			want:   3*2 + 2*5,
			wantOK: true,
		},
		{
			name: "autoscaling minimum above the node count wins",
			ref: gkeRef(topology.NodePool{Name: "a100", MachineType: "a2-highgpu-1g", NodeCount: i32(1),
				Accelerators: []topology.Accelerator{{Type: "nvidia-tesla-a100", Count: 1}},
				Autoscaling:  &topology.Autoscaling{MinNodes: 4, MaxNodes: 8}}),
			res:    gpu,
			want:   4,
			wantOK: true,
		},
		{
			name: "autoscaling from zero offers nothing yet",
			ref: gkeRef(topology.NodePool{Name: "a100", MachineType: "a2-highgpu-1g",
				Autoscaling: &topology.Autoscaling{MinNodes: 0, MaxNodes: 8}}),
			res:    gpu,
			want:   0,
			wantOK: true,
		},
		{
			name:   "built-in GPUs of the machine type",
			ref:    gkeRef(topology.NodePool{Name: "a100", MachineType: "a2-highgpu-2g", NodeCount: i32(3)}),
			res:    gpu,
			want:   6,
			wantOK: true,
		},
		{
			name: "listed accelerators take precedence over the machine type",
			ref: gkeRef(topology.NodePool{Name: "l4", MachineType: "g2-standard-8", NodeCount: i32(2),
				Accelerators: []topology.Accelerator{{Type: "nvidia-l4", Count: 2}}}),
			res:    gpu,
			want:   4,
			wantOK: true,
		},
		{
			name:   "unknown machine type adds nothing",
			ref:    gkeRef(topology.NodePool{Name: "x", MachineType: "z9-imaginary-4", NodeCount: i32(5)}),
			res:    gpu,
			want:   0,
			wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := plannedCapacity(tt.ref, tt.res)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("plannedCapacity = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

var digestFormat = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func TestInZones(t *testing.T) {
	tests := []struct {
		location string
		zones    []string
		want     bool
	}{
		{"us-west1-b", []string{"us-west1-b"}, true},
		{"us-west1", []string{"us-west1-b"}, true},
		{"us-west1-a", []string{"us-west1-b"}, false},
		{"europe-west1", []string{"us-west1-b"}, false},
		{"us-west1", nil, false},
	}
	for _, tt := range tests {
		if got := inZones(tt.location, tt.zones); got != tt.want {
			t.Errorf("inZones(%q, %v) = %v, want %v", tt.location, tt.zones, got, tt.want)
		}
	}
}

// fakeGKE answers ListClusters from memory: liveGKE's matching is pure
// logic; the real client is tested against the emulator in pkg/gke and e2e.
type fakeGKE struct {
	live []*containerpb.Cluster
	err  error
}

func (f fakeGKE) ListClusters(context.Context, string) ([]*containerpb.Cluster, error) {
	return f.live, f.err
}

func TestLiveGKEMissingZones(t *testing.T) {
	const file = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: t}
spec:
  gke: {project: p}
  regions:
  - name: us-west1
    clusters:
    - name: west
      gke: {location: us-west1-b, nodePools: [{name: cpu, machineType: e2-standard-4}]}
  - name: europe-west1
    clusters:
    - name: eu
      gke: {location: europe-west1-b, nodePools: [{name: cpu, machineType: e2-standard-4}]}
`
	topo, err := topology.Options{IsDir: func(string) bool { return true }}.Parse("t.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	eu := &containerpb.Cluster{Name: "eu", Location: "europe-west1-b", Status: containerpb.Cluster_RUNNING}
	missing := &gke.MissingZonesError{Project: "p", Zones: []string{"us-west1-b"}}

	states, all, err := liveGKE(context.Background(), topo, fakeGKE{live: []*containerpb.Cluster{eu}, err: missing})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || states["eu"].Live != eu || states["eu"].Err != nil {
		t.Errorf("eu: live %v err %v, want found", states["eu"].Live, states["eu"].Err)
	}
	// west may exist in the zone GKE could not list: unknown, never "create".
	if states["west"].Live != nil || !errors.Is(states["west"].Err, missing) {
		t.Errorf("west: live %v err %v, want the missing-zones error", states["west"].Live, states["west"].Err)
	}

	// Any other error marks every cluster of the project.
	states, _, err = liveGKE(context.Background(), topo, fakeGKE{err: errors.New("permission denied")})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"west", "eu"} {
		if states[name].Err == nil || !strings.Contains(states[name].Err.Error(), "permission denied") {
			t.Errorf("%s: err %v, want the listing error", name, states[name].Err)
		}
	}
}
