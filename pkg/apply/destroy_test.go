package apply

import (
	"errors"
	"slices"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// Left is what the controller's Delete policy and unjoin --delete-objects
// say holds them: one line per cluster, nothing for a clean one.
func TestLeft(t *testing.T) {
	keptNS := plan.Object{Action: object.ActionKeep, Version: "v1", Kind: "Namespace", Name: "web", Reason: "kept — holds 1 object geofed did not apply: ConfigMap theirs"}
	deleted := plan.Object{Action: object.ActionDelete, Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "web"}
	region := func(clusters ...plan.Cluster) *plan.Plan {
		return &plan.Plan{Regions: []plan.Region{{Name: "us-west1", Clusters: clusters}}}
	}
	for _, tc := range []struct {
		name string
		plan *plan.Plan
		res  *Result
		want []string
	}{
		{
			name: "clean",
			plan: region(plan.Cluster{Name: "m1", Objects: []plan.Object{deleted}}),
			res:  &Result{Clusters: []Outcome{{Name: "m1", Pruned: 1, InventoryRemoved: true}}},
		},
		{
			name: "unreachable, its skip not repeated",
			plan: region(plan.Cluster{Name: "m1", Unreachable: "dial tcp 127.0.0.1:1: connection refused"}),
			res:  &Result{Clusters: []Outcome{{Name: "m1", Skipped: "unreachable"}}},
			want: []string{"m1: unreachable: dial tcp 127.0.0.1:1: connection refused"},
		},
		{
			name: "not planned",
			plan: region(plan.Cluster{Name: "m1", Error: "reading the inventory: forbidden"}),
			want: []string{"m1: not planned: reading the inventory: forbidden"},
		},
		{
			name: "a Namespace kept by the plan",
			plan: region(plan.Cluster{Name: "m1", Objects: []plan.Object{keptNS, deleted}}, plan.Cluster{Name: "m2", Objects: []plan.Object{deleted}}),
			res:  &Result{Clusters: []Outcome{{Name: "m1", Pruned: 1, Kept: 1}, {Name: "m2", Pruned: 1, InventoryRemoved: true}}},
			want: []string{"m1: Namespace web: kept — holds 1 object geofed did not apply: ConfigMap theirs"},
		},
		{
			name: "kept by apply: something arrived after the plan",
			plan: region(plan.Cluster{Name: "m1", Objects: []plan.Object{{Action: object.ActionDelete, Version: "v1", Kind: "Namespace", Name: "web"}}}),
			res:  &Result{Clusters: []Outcome{{Name: "m1", Kept: 1}}},
			want: []string{"m1: objects kept, holding what geofed did not apply: 1"},
		},
		{
			name: "failed",
			plan: region(plan.Cluster{Name: "m1", Objects: []plan.Object{deleted}}),
			res:  &Result{Clusters: []Outcome{{Name: "m1", Err: errors.New("taking the lock: held by host/pid 42")}}},
			want: []string{"m1: failed: taking the lock: held by host/pid 42"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Left(tc.plan, tc.res); !slices.Equal(got, tc.want) {
				t.Errorf("Left =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
