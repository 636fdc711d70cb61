package plan_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// savedPlan is a plan as plan --out saves it: serving-us has a change and
// two prunes, training-us is to be created.
func savedPlan() *plan.Plan {
	return &plan.Plan{
		FormatVersion: plan.FormatVersion,
		Topology:      "ai-platform",
		TopologyFile:  "topology.yaml",
		SourceDigest:  "sha256:0123456789abcdef0123",
		Prices:        []catalog.Origin{{File: "built-in", Date: "2026-12-07"}, {File: "rates.txt", Date: "2027-01-15"}},
		Regions: []plan.Region{
			{Name: "us-east1", Clusters: []plan.Cluster{{
				Name: "serving-us", Region: "us-east1", Mode: "joined", InventoryVersion: "100",
				Objects: []plan.Object{
					{Action: object.ActionUpdate, Version: "v1", Kind: "ConfigMap", Namespace: "serving", Name: "model-server-config", DesiredHash: "h1", LiveResourceVersion: "101", UID: "uid-101"},
					{Action: object.ActionNoop, Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "serving", Name: "model-server", DesiredHash: "h2", LiveResourceVersion: "102", UID: "uid-102"},
					{Action: object.ActionDelete, Version: "v1", Kind: "Namespace", Name: "old-serving", LiveResourceVersion: "104", UID: "uid-104"},
					{Action: object.ActionDelete, Version: "v1", Kind: "Service", Namespace: "serving", Name: "old", LiveResourceVersion: "103", UID: "uid-103"},
				},
			}}},
			{Name: "us-west1", Clusters: []plan.Cluster{{
				Name: "training-us", Region: "us-west1", Mode: "managed",
				GKE: &gke.ClusterChange{Region: "us-west1", Project: "acme-ml", Location: "us-west1-b", Cluster: "training-us", Action: object.ActionCreate},
				Objects: []plan.Object{
					{Action: object.ActionCreate, Version: "v1", Kind: "Namespace", Name: "ml", DesiredHash: "h3"},
				},
			}}},
		},
	}
}

// roundTrip is p as read back from its JSON.
func roundTrip(t *testing.T, p *plan.Plan) *plan.Plan {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var out plan.Plan
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestStale(t *testing.T) {
	servingUS := func(p *plan.Plan) *plan.Cluster { return &p.Regions[0].Clusters[0] }
	trainingUS := func(p *plan.Plan) *plan.Cluster { return &p.Regions[1].Clusters[0] }
	tests := []struct {
		name  string
		fresh func(*plan.Plan)
		want  []string
	}{
		{name: "unchanged", fresh: func(*plan.Plan) {}},
		{
			name:  "sources",
			fresh: func(p *plan.Plan) { p.SourceDigest = "sha256:fedcba9876543210fedc" },
			want:  []string{"sources: the topology file or the workloads' manifests changed (digest 0123456789ab → fedcba987654)"},
		},
		{
			name: "priced by another list",
			fresh: func(p *plan.Plan) {
				p.Prices = []catalog.Origin{{File: "built-in", Date: "2026-12-07"}}
			},
			want: []string{"prices: the plan was priced by built-in 2026-12-07, rates.txt 2027-01-15, apply by built-in 2026-12-07 (give apply the same --price-catalog)"},
		},
		{
			name:  "topology renamed",
			fresh: func(p *plan.Plan) { p.Topology = "other" },
			want:  []string{`topology: the plan is for "ai-platform", the file now names "other"`},
		},
		{
			name:  "live object changed",
			fresh: func(p *plan.Plan) { servingUS(p).Objects[1].LiveResourceVersion = "150" },
			want:  []string{"cluster serving-us: apps/Deployment serving/model-server changed live since the plan was made (resourceVersion 102 → 150)"},
		},
		{
			name: "object deleted live",
			fresh: func(p *plan.Plan) {
				o := &servingUS(p).Objects[1]
				o.LiveResourceVersion, o.UID, o.Action = "", "", object.ActionCreate
			},
			want: []string{"cluster serving-us: apps/Deployment serving/model-server changed live since the plan was made (resourceVersion 102 → none)"},
		},
		{
			name:  "action changed",
			fresh: func(p *plan.Plan) { servingUS(p).Objects[0].Action = object.ActionConflict },
			want:  []string{"cluster serving-us: ConfigMap serving/model-server-config: the plan would update it, now conflict"},
		},
		{
			// Someone made an object in the namespace since.
			name:  "prune now kept",
			fresh: func(p *plan.Plan) { servingUS(p).Objects[2].Action = object.ActionKeep },
			want:  []string{"cluster serving-us: Namespace old-serving: the plan would delete it, now keep"},
		},
		{
			name:  "prune candidate gone",
			fresh: func(p *plan.Plan) { servingUS(p).Objects = servingUS(p).Objects[:3] },
			want:  []string{"cluster serving-us: Service serving/old: in the plan (delete), not now"},
		},
		{
			name: "new prune candidate",
			fresh: func(p *plan.Plan) {
				c := servingUS(p)
				c.Objects = append(c.Objects, plan.Object{Action: object.ActionDelete, Version: "v1", Kind: "Secret", Namespace: "serving", Name: "x", LiveResourceVersion: "7"})
			},
			want: []string{"cluster serving-us: Secret serving/x: not in the plan, now delete"},
		},
		{
			name:  "inventory changed",
			fresh: func(p *plan.Plan) { servingUS(p).InventoryVersion = "180" },
			want:  []string{"cluster serving-us: geofed's inventory changed (resourceVersion 100 → 180): another apply ran since"},
		},
		{
			name: "GKE cluster created meanwhile",
			fresh: func(p *plan.Plan) {
				c := trainingUS(p)
				c.GKE.Action = object.ActionNoop
				c.GKE.Reasons = []string{"GKE is still creating the cluster (PROVISIONING); apply waits for it"}
			},
			want: []string{"cluster training-us: the GKE cluster changed: planned create, now noop (GKE is still creating the cluster (PROVISIONING); apply waits for it)"},
		},
		{
			name: "unreachable now",
			fresh: func(p *plan.Plan) {
				servingUS(p).Unreachable = "connecting to cluster serving-us: refused"
				servingUS(p).Objects = nil
			},
			want: []string{"cluster serving-us: unreachable now: connecting to cluster serving-us: refused"},
		},
		{
			name:  "cluster removed from the topology",
			fresh: func(p *plan.Plan) { p.Regions = p.Regions[:1] },
			want:  []string{"cluster training-us: in the plan, no longer in the topology"},
		},
		{
			name: "several, in order",
			fresh: func(p *plan.Plan) {
				p.SourceDigest = "sha256:fedcba9876543210fedc"
				servingUS(p).Objects[0].LiveResourceVersion = "120"
				servingUS(p).Objects[1].LiveResourceVersion = "121"
			},
			want: []string{
				"sources: the topology file or the workloads' manifests changed (digest 0123456789ab → fedcba987654)",
				"cluster serving-us: ConfigMap serving/model-server-config changed live since the plan was made (resourceVersion 101 → 120)",
				"cluster serving-us: apps/Deployment serving/model-server changed live since the plan was made (resourceVersion 102 → 121)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fresh := savedPlan()
			tt.fresh(fresh)
			err := plan.Stale(roundTrip(t, savedPlan()), fresh)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Stale = %v, want nil", err)
				}
				return
			}
			se, ok := err.(*plan.StaleError)
			if !ok {
				t.Fatalf("Stale = %v, want a *StaleError", err)
			}
			if d := cmp.Diff(tt.want, se.Changes); d != "" {
				t.Errorf("changes (-want +got):\n%s", d)
			}
		})
	}
}

func TestStaleErrorMessage(t *testing.T) {
	err := &plan.StaleError{Changes: []string{"sources: changed", "cluster a: b changed live"}}
	want := "the saved plan is stale, 2 change(s) since it was made:\n  sources: changed\n  cluster a: b changed live\nplan again, review, and apply the new plan"
	if err.Error() != want {
		t.Errorf("Error() = %q\nwant %q", err.Error(), want)
	}
}
