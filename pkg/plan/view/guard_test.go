package view

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// guardPlan is the incident the prune guard is for: a label typo
// (tier=fornt) took the web workload off serving-us and serving-eu, where
// every object of it would go; serving-eu was allowed after review, one
// ConfigMap carries geofed.io/prune: disabled, and serving-asia still
// gets web. The guards are GuardPrunes's own.
func guardPlan() *plan.Plan {
	const webGone = "no longer selects it: clusterSelector tier=front, the cluster's labels tier=fornt"
	web := func(action object.Action, kind, name string) plan.Object {
		o := plan.Object{Action: action, Version: "v1", Kind: kind, Namespace: "web", Name: name, Workload: "web"}
		if kind == "Deployment" {
			o.Group = "apps"
		}
		if action == object.ActionDelete {
			o.Reason = "applied by geofed, no longer rendered"
			o.UID = "2f9c1d4e-0000-4000-8000-0000000000" + fmt.Sprint(10+len(name))
			o.LiveResourceVersion = "7" + fmt.Sprint(len(name))
		}
		return o
	}
	gone := func(cluster string) []plan.Object {
		return objs(
			web(object.ActionDelete, "Deployment", "frontend"),
			web(object.ActionDelete, "Service", "frontend"),
			web(object.ActionDelete, "ConfigMap", "frontend-flags"),
			plan.Object{Action: object.ActionKeep, Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "frontend-notes", Workload: "web",
				LiveResourceVersion: "70", UID: "2f9c1d4e-0000-4000-8000-000000000070",
				Reason: "kept (prune disabled): it carries geofed.io/prune: disabled; geofed keeps it recorded until the annotation goes"},
			plan.Object{Action: object.ActionKeep, Version: "v1", Kind: "Namespace", Name: "web", Workload: "web",
				LiveResourceVersion: "60", UID: "2f9c1d4e-0000-4000-8000-000000000060",
				Reason: "kept — holds 1 object geofed keeps (prune disabled): ConfigMap frontend-notes"},
		)
	}
	p := &plan.Plan{
		FormatVersion: plan.FormatVersion,
		Topology:      "storefront",
		TopologyFile:  "topology.yaml",
		CreatedAt:     time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC),
		SourceDigest:  "sha256:9a1c0e5d1b7c3a8e6f0d2b4a6c8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d2e",
		Regions: []plan.Region{
			{Name: "asia-east1", Clusters: []plan.Cluster{
				{Name: "serving-asia", Region: "asia-east1", Mode: "joined", ServerVersion: "v1.33.1", InventoryVersion: "900", Owned: 5,
					Objects: objs(
						web(object.ActionNoop, "Namespace", "web"),
						web(object.ActionNoop, "ConfigMap", "frontend-flags"),
						web(object.ActionNoop, "Service", "frontend"),
						web(object.ActionUpdate, "Deployment", "frontend"),
					)},
			}},
			{Name: "europe-west1", Clusters: []plan.Cluster{
				{Name: "serving-eu", Region: "europe-west1", Mode: "joined", ServerVersion: "v1.33.1", InventoryVersion: "812", Owned: 5,
					Objects: gone("serving-eu")},
			}},
			{Name: "us-east1", Clusters: []plan.Cluster{
				{Name: "serving-us", Region: "us-east1", Mode: "joined", ServerVersion: "v1.33.1", InventoryVersion: "431", Owned: 5,
					Objects: gone("serving-us")},
			}},
		},
		Placements: []placement.Result{
			{Workload: "web", Mode: placement.ModeDuplicate,
				Shares:      []placement.Share{{Cluster: "serving-asia", Region: "asia-east1"}},
				Explanation: []string{"no replicas policy: manifests as rendered on serving-asia"}},
		},
	}
	p.Regions[0].Clusters[0].Objects[3].Changes = []plan.FieldChange{{Path: "spec.replicas", Before: "2", After: "3"}}
	var counts []plan.PruneCount
	for _, r := range p.Regions {
		for _, c := range r.Clusters {
			pc := plan.PruneCount{Cluster: c.Name, Owned: c.Owned, Deleting: map[string]int{}, Keeping: map[string]int{},
				Workloads: map[string]string{"web": webGone}}
			for _, o := range c.Objects {
				switch o.Action {
				case object.ActionDelete:
					pc.Deleting[o.Workload]++
				case object.ActionNoop, object.ActionUpdate:
					pc.Keeping[o.Workload]++
				}
			}
			counts = append(counts, pc)
		}
	}
	held, fleet := plan.GuardPrunes(counts, plan.GuardOptions{Allow: []string{"serving-eu"}})
	p.PruneGuard = fleet
	for ri := range p.Regions {
		for ci := range p.Regions[ri].Clusters {
			c := &p.Regions[ri].Clusters[ci]
			c.PruneGuard = held[c.Name]
		}
	}
	p.Summary = plan.Summary{ObjectsToChange: 1, ObjectsToDelete: 6, Attention: 4, Guarded: 1}
	return p
}

func TestGuardViews(t *testing.T) {
	p := guardPlan()
	if g := p.Regions[2].Clusters[0].PruneGuard; !g.Held() {
		t.Fatalf("serving-us is not held: %+v", g)
	}
	for _, tc := range []struct {
		golden string
		write  func(*bytes.Buffer) error
	}{
		{"guard.golden", func(b *bytes.Buffer) error { return Text(b, p, TextOptions{}) }},
		{"guard.json.golden", func(b *bytes.Buffer) error { return JSON(b, p) }},
		{"guard.md.golden", func(b *bytes.Buffer) error { return Markdown(b, p, MarkdownOptions{}) }},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.write(&buf); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			// Every format names the held cluster, the workload and why,
			// and the allowed one as allowed.
			wants := []string{
				"serving-us would lose 3 of 5 objects geofed applied",
				"allow-prune=serving-us",
				"allowed by --allow-prune",
			}
			if tc.golden == "guard.json.golden" {
				wants = []string{`"deleting": 3`, `"owned": 5`, `"allowed": true`, `"guarded": 1`, `"allowPrune": [`}
			}
			wants = append(wants, "workload web no longer selects it: clusterSelector tier=front, the cluster's labels tier=fornt", "kept (prune disabled)")
			for _, want := range wants {
				if !strings.Contains(out, want) {
					t.Errorf("%s lacks %q", tc.golden, want)
				}
			}
			golden(t, tc.golden, buf.Bytes())
		})
	}
}
