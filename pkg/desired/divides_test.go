package desired

import (
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// TestDividesByCapacity: a division that needs the replicas that fit makes
// a cluster whose capacity cannot be read unplaceable; the others do not.
func TestDividesByCapacity(t *testing.T) {
	tests := []struct {
		name     string
		replicas *topology.Replicas
		want     bool
	}{
		{"no replicas policy", nil, false},
		{"weight", &topology.Replicas{Total: 2, DivideBy: topology.DivideByWeight}, false},
		{"locality, spill max", &topology.Replicas{Total: 2, DivideBy: topology.DivideByLocality, Spill: topology.SpillMax}, false},
		{"locality, spill fit", &topology.Replicas{Total: 2, DivideBy: topology.DivideByLocality, Spill: topology.SpillFit}, true},
		{"capacity", &topology.Replicas{Total: 2, DivideBy: topology.DivideByCapacity}, true},
		{"cost", &topology.Replicas{Total: 2, DivideBy: topology.DivideByCost}, true},
	}
	for _, tt := range tests {
		top := &topology.Topology{Spec: topology.Spec{Workloads: []topology.Workload{
			{Name: "web", Placement: topology.Placement{}},
			{Name: "w", Placement: topology.Placement{Replicas: tt.replicas}},
		}}}
		if got := DividesByCapacity(top); got != tt.want {
			t.Errorf("%s: DividesByCapacity = %v, want %v", tt.name, got, tt.want)
		}
	}
}
