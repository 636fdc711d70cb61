package topology

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// managed is a one-cluster topology in us-west1 whose cluster has gke set
// to g, for defaulting cases.
func managed(defaults *GKEDefaults, g *GKECluster) *Topology {
	return &Topology{Spec: Spec{
		GKE:     defaults,
		Regions: []Region{{Name: "us-west1", Clusters: []Cluster{{Name: "c", GKE: g}}}},
	}}
}

func TestDefaultGKE(t *testing.T) {
	tests := []struct {
		name     string
		defaults *GKEDefaults
		in, want GKECluster
	}{
		{
			name:     "inherits spec.gke",
			defaults: &GKEDefaults{Project: "acme", ReleaseChannel: "STABLE"},
			in:       GKECluster{},
			want:     GKECluster{Project: "acme", Location: "us-west1", ReleaseChannel: "STABLE"},
		},
		{
			name: "REGULAR without spec.gke",
			in:   GKECluster{Project: "own"},
			want: GKECluster{Project: "own", Location: "us-west1", ReleaseChannel: "REGULAR"},
		},
		{
			name:     "REGULAR when spec.gke has no channel",
			defaults: &GKEDefaults{Project: "acme"},
			want:     GKECluster{Project: "acme", Location: "us-west1", ReleaseChannel: "REGULAR"},
		},
		{
			name:     "cluster values win",
			defaults: &GKEDefaults{Project: "acme", ReleaseChannel: "STABLE"},
			in:       GKECluster{Project: "own", Location: "us-west1-b", ReleaseChannel: "RAPID"},
			want:     GKECluster{Project: "own", Location: "us-west1-b", ReleaseChannel: "RAPID"},
		},
		{
			name: "node count 1 only without autoscaling",
			in: GKECluster{Project: "p", NodePools: []NodePool{
				{Name: "fixed"},
				{Name: "zero", NodeCount: new(int32(0))},
				{Name: "three", NodeCount: new(int32(3))},
				{Name: "scaled", Autoscaling: &Autoscaling{MaxNodes: 4}},
			}},
			want: GKECluster{Project: "p", Location: "us-west1", ReleaseChannel: "REGULAR", NodePools: []NodePool{
				{Name: "fixed", NodeCount: new(int32(1))},
				{Name: "zero", NodeCount: new(int32(0))},
				{Name: "three", NodeCount: new(int32(3))},
				{Name: "scaled", Autoscaling: &Autoscaling{MaxNodes: 4}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := managed(tt.defaults, &tt.in)
			var specBefore GKEDefaults
			if tt.defaults != nil {
				specBefore = *tt.defaults
			}
			Default(top)
			if diff := cmp.Diff(tt.want, *top.Spec.Regions[0].Clusters[0].GKE); diff != "" {
				t.Errorf("defaulted gke (-want +got):\n%s", diff)
			}
			if top.Spec.GKE != nil && *top.Spec.GKE != specBefore {
				t.Errorf("spec.gke changed from %+v to %+v; it is only a source of defaults", specBefore, *top.Spec.GKE)
			}
		})
	}
}

func TestDefaultLeavesJoinedClusters(t *testing.T) {
	top := &Topology{Spec: Spec{
		GKE:     &GKEDefaults{Project: "acme"},
		Regions: []Region{{Name: "us-west1", Clusters: []Cluster{{Name: "j", Kubeconfig: &KubeconfigRef{Context: "j"}}}}},
	}}
	Default(top)
	if c := top.Spec.Regions[0].Clusters[0]; c.GKE != nil || *c.Kubeconfig != (KubeconfigRef{Context: "j"}) {
		t.Errorf("joined cluster changed: %+v", c)
	}
}

func TestDefaultReplicas(t *testing.T) {
	tests := []struct {
		name     string
		in, want *Replicas
	}{
		{"absent stays absent", nil, nil},
		{
			name: "policy and resource; min and max stay unbounded",
			in:   &Replicas{Total: 4},
			want: &Replicas{Total: 4, DivideBy: DivideByWeight, Resource: "nvidia.com/gpu"},
		},
		{
			name: "given values kept",
			in:   &Replicas{Total: 4, DivideBy: DivideByCapacity, Resource: "google.com/tpu", Min: new(int32(1)), Max: new(int32(2))},
			want: &Replicas{Total: 4, DivideBy: DivideByCapacity, Resource: "google.com/tpu", Capacity: CapacityScaleUp, Min: new(int32(1)), Max: new(int32(2))},
		},
		{
			name: "capacity figure given is kept",
			in:   &Replicas{Total: 4, DivideBy: DivideByCapacity, Capacity: CapacityCurrent},
			want: &Replicas{Total: 4, DivideBy: DivideByCapacity, Resource: "nvidia.com/gpu", Capacity: CapacityCurrent},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := &Topology{Spec: Spec{Workloads: []Workload{{Name: "w", Placement: Placement{Replicas: tt.in}}}}}
			Default(top)
			if diff := cmp.Diff(tt.want, top.Spec.Workloads[0].Placement.Replicas); diff != "" {
				t.Errorf("defaulted replicas (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefaultIdempotent(t *testing.T) {
	top := managed(&GKEDefaults{Project: "acme"}, &GKECluster{NodePools: []NodePool{{Name: "a"}}})
	top.Spec.Workloads = []Workload{{Name: "w", Placement: Placement{Replicas: &Replicas{Total: 2}}}}
	Default(top)
	once := *top.Spec.Regions[0].Clusters[0].GKE
	onceReplicas := *top.Spec.Workloads[0].Placement.Replicas
	Default(top)
	if diff := cmp.Diff(once, *top.Spec.Regions[0].Clusters[0].GKE); diff != "" {
		t.Errorf("second Default changed gke (-once +twice):\n%s", diff)
	}
	if diff := cmp.Diff(onceReplicas, *top.Spec.Workloads[0].Placement.Replicas); diff != "" {
		t.Errorf("second Default changed replicas (-once +twice):\n%s", diff)
	}
}
