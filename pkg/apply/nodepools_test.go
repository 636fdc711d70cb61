package apply

import (
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"

	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// TestDrainedPools: replacements come before deletions, so that pods a
// deleted pool's drain evicts can land on a replacement's nodes; in-place
// changes are gke.Updates', not drained.
func TestDrainedPools(t *testing.T) {
	rep := func(name string) gke.NodePoolChange {
		return gke.NodePoolChange{Name: name, Action: object.ActionReplace, Replacement: &gke.Replacement{Pool: name + "-0a1b2c3d", Old: []string{name}}}
	}
	del := func(name string) gke.NodePoolChange {
		return gke.NodePoolChange{Name: name, Action: object.ActionDelete}
	}
	for _, tt := range []struct {
		name  string
		pools []gke.NodePoolChange
		want  []string
	}{
		{"none", []gke.NodePoolChange{{Name: "cpu", Action: object.ActionUpdate}, {Name: "gpu", Action: object.ActionCreate}}, nil},
		{"replacements first", []gke.NodePoolChange{del("a-old"), rep("b"), {Name: "c", Action: object.ActionNoop}, del("d-old"), rep("e")},
			[]string{"replace b", "replace e", "delete a-old", "delete d-old"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range drainedPools(gke.ClusterChange{NodePools: tt.pools}) {
				got = append(got, string(p.Action)+" "+p.Name)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("drainedPools (-want +got):\n%s", d)
			}
		})
	}
}

func TestReplacementSize(t *testing.T) {
	fixed := &containerpb.NodePool{Name: "cpu", InitialNodeCount: 3}
	scaled := &containerpb.NodePool{Name: "gpu", InitialNodeCount: 1, Autoscaling: &containerpb.NodePoolAutoscaling{Enabled: true, MinNodeCount: 1, MaxNodeCount: 5}}
	counts := gke.NodeCounts{
		"cpu":          {"us-west1-a": 7},
		"gpu":          {"us-west1-a": 2, "us-west1-b": 4},
		"gpu-0a1b2c3d": {"us-west1-a": 3},
		"big":          {"us-west1-a": 9},
	}
	for _, tt := range []struct {
		name string
		pool *containerpb.NodePool
		old  []string
		want int32
	}{
		{"fixed: the topology's count", fixed, []string{"cpu"}, 3},
		{"autoscaled: the old pool's busiest zone", scaled, []string{"gpu"}, 4},
		{"autoscaled: the most of several old pools", scaled, []string{"gpu-0a1b2c3d", "gpu"}, 4},
		{"autoscaled: at most its maximum", scaled, []string{"big"}, 5},
		{"autoscaled: at least its minimum", scaled, []string{"gone"}, 1},
	} {
		if got := replacementSize(tt.pool, counts, tt.old); got != tt.want {
			t.Errorf("%s: replacementSize = %d, want %d", tt.name, got, tt.want)
		}
	}
}
