package gke

import (
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

func ptr[T any](v T) *T { return &v }

// exampleTopology is DESIGN §2's example, as loaded (before defaulting, so
// Desired's own defaults are exercised).
func exampleTopology() *topology.Topology {
	return &topology.Topology{
		APIVersion: topology.APIVersion,
		Kind:       topology.Kind,
		Metadata:   topology.ObjectMeta{Name: "ai-platform"},
		Spec: topology.Spec{
			GKE: &topology.GKEDefaults{Project: "acme-ml", ReleaseChannel: "REGULAR"},
			Regions: []topology.Region{
				{Name: "us-west1", Clusters: []topology.Cluster{{
					Name:   "training-us",
					Labels: map[string]string{"role": "training"},
					GKE: &topology.GKECluster{
						Location: "us-west1",
						NodePools: []topology.NodePool{
							{Name: "cpu", MachineType: "e2-standard-8", NodeCount: ptr(int32(1))},
							{
								Name:         "a100",
								MachineType:  "a2-highgpu-1g",
								Accelerators: []topology.Accelerator{{Type: "nvidia-tesla-a100", Count: 1}},
								Autoscaling:  &topology.Autoscaling{MinNodes: 0, MaxNodes: 8},
								Spot:         true,
							},
						},
					},
				}}},
				{Name: "europe-west1", Clusters: []topology.Cluster{{
					Name:       "serving-eu",
					Labels:     map[string]string{"role": "serving"},
					Kubeconfig: &topology.KubeconfigRef{Context: "serving-eu"},
				}}},
			},
		},
	}
}

// exampleDesired is what Desired must make of exampleTopology's training-us.
func exampleDesired() *containerpb.Cluster {
	return &containerpb.Cluster{
		Name:     "training-us",
		Location: "us-west1",
		SelfLink: "https://container.googleapis.com/v1/projects/acme-ml/locations/us-west1/clusters/training-us",
		ResourceLabels: map[string]string{
			"geofed-topology": "ai-platform",
			"managed-by":      "kubectl-geofed",
		},
		ReleaseChannel: &containerpb.ReleaseChannel{Channel: containerpb.ReleaseChannel_REGULAR},
		NodePools: []*containerpb.NodePool{
			{
				Name:             "cpu",
				InitialNodeCount: 1,
				Config:           &containerpb.NodeConfig{MachineType: "e2-standard-8"},
			},
			{
				Name:             "a100",
				InitialNodeCount: 0,
				Config: &containerpb.NodeConfig{
					MachineType:  "a2-highgpu-1g",
					Accelerators: []*containerpb.AcceleratorConfig{{AcceleratorType: "nvidia-tesla-a100", AcceleratorCount: 1}},
					Spot:         true,
				},
				Autoscaling: &containerpb.NodePoolAutoscaling{Enabled: true, MinNodeCount: 0, MaxNodeCount: 8},
			},
		},
	}
}

func TestDesired(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*topology.Topology) // applied to exampleTopology
		want   func(*containerpb.Cluster) *containerpb.Cluster
	}{
		{
			name: "design example",
			want: func(c *containerpb.Cluster) *containerpb.Cluster { return c },
		},
		{
			name: "location defaults to the region, project to spec.gke",
			modify: func(tp *topology.Topology) {
				tp.Spec.Regions[0].Clusters[0].GKE.Location = ""
				tp.Spec.Regions[0].Clusters[0].GKE.Project = ""
			},
			want: func(c *containerpb.Cluster) *containerpb.Cluster { return c },
		},
		{
			name: "cluster project and zone override the defaults",
			modify: func(tp *topology.Topology) {
				tp.Spec.Regions[0].Clusters[0].GKE.Location = "us-west1-b"
				tp.Spec.Regions[0].Clusters[0].GKE.Project = "acme-research"
			},
			want: func(c *containerpb.Cluster) *containerpb.Cluster {
				c.Location = "us-west1-b"
				c.SelfLink = "https://container.googleapis.com/v1/projects/acme-research/locations/us-west1-b/clusters/training-us"
				return c
			},
		},
		{
			name: "release channel from the cluster wins, any case",
			modify: func(tp *topology.Topology) {
				tp.Spec.Regions[0].Clusters[0].GKE.ReleaseChannel = "rapid"
			},
			want: func(c *containerpb.Cluster) *containerpb.Cluster {
				c.ReleaseChannel.Channel = containerpb.ReleaseChannel_RAPID
				return c
			},
		},
		{
			name:   "release channel defaults to REGULAR without spec.gke",
			modify: func(tp *topology.Topology) { tp.Spec.GKE = nil; tp.Spec.Regions[0].Clusters[0].GKE.Project = "acme-ml" },
			want:   func(c *containerpb.Cluster) *containerpb.Cluster { return c },
		},
		{
			name:   "STABLE from spec.gke",
			modify: func(tp *topology.Topology) { tp.Spec.GKE.ReleaseChannel = "STABLE" },
			want: func(c *containerpb.Cluster) *containerpb.Cluster {
				c.ReleaseChannel.Channel = containerpb.ReleaseChannel_STABLE
				return c
			},
		},
		{
			name:   "UNSPECIFIED means no channel",
			modify: func(tp *topology.Topology) { tp.Spec.GKE.ReleaseChannel = "UNSPECIFIED" },
			want: func(c *containerpb.Cluster) *containerpb.Cluster {
				c.ReleaseChannel.Channel = containerpb.ReleaseChannel_UNSPECIFIED
				return c
			},
		},
		{
			name: "pool without size or autoscaling starts with one node; autoscaled pool at its floor",
			modify: func(tp *topology.Topology) {
				pools := tp.Spec.Regions[0].Clusters[0].GKE.NodePools
				pools[0].NodeCount = nil
				pools[1].Autoscaling.MinNodes = 2
			},
			want: func(c *containerpb.Cluster) *containerpb.Cluster {
				c.NodePools[1].InitialNodeCount = 2
				c.NodePools[1].Autoscaling.MinNodeCount = 2
				return c
			},
		},
		{
			name: "explicit size of an autoscaled pool is its initial size",
			modify: func(tp *topology.Topology) {
				tp.Spec.Regions[0].Clusters[0].GKE.NodePools[1].NodeCount = ptr(int32(3))
			},
			want: func(c *containerpb.Cluster) *containerpb.Cluster {
				c.NodePools[1].InitialNodeCount = 3
				return c
			},
		},
		{
			name: "several accelerators keep file order",
			modify: func(tp *topology.Topology) {
				tp.Spec.Regions[0].Clusters[0].GKE.NodePools[0].Accelerators = []topology.Accelerator{
					{Type: "nvidia-tesla-t4", Count: 2}, {Type: "nvidia-l4", Count: 1},
				}
			},
			want: func(c *containerpb.Cluster) *containerpb.Cluster {
				c.NodePools[0].Config.Accelerators = []*containerpb.AcceleratorConfig{
					{AcceleratorType: "nvidia-tesla-t4", AcceleratorCount: 2},
					{AcceleratorType: "nvidia-l4", AcceleratorCount: 1},
				}
				return c
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := exampleTopology()
			if tt.modify != nil {
				tt.modify(tp)
			}
			got := Desired(tp, tp.Clusters()[0])
			want := tt.want(exampleDesired())
			if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
				t.Errorf("Desired() mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestDesiredJoinedCluster(t *testing.T) {
	tp := exampleTopology()
	if got := Desired(tp, tp.Clusters()[1]); got != nil {
		t.Errorf("Desired(joined cluster) = %v, want nil", got)
	}
}

func TestProject(t *testing.T) {
	tests := []struct {
		selfLink, want string
	}{
		{"https://container.googleapis.com/v1/projects/acme-ml/locations/us-west1/clusters/training-us", "acme-ml"},
		{"https://container.googleapis.com/v1/projects/p-1/zones/us-west1-a/clusters/c", "p-1"},
		{"projects/x/locations/l/clusters/n", "x"},
		{"", ""},
		{"https://example.com/projects", ""},
	}
	for _, tt := range tests {
		if got := Project(&containerpb.Cluster{SelfLink: tt.selfLink}); got != tt.want {
			t.Errorf("Project(%q) = %q, want %q", tt.selfLink, got, tt.want)
		}
	}
	if got := Project(nil); got != "" {
		t.Errorf("Project(nil) = %q, want empty", got)
	}
}
