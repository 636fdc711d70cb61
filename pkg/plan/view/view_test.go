package view

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	goldenfile "github.com/geofed-io/kubectl-geofed/internal/golden"

	"github.com/google/go-cmp/cmp"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/cost"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Compare(t, name, got, *update)
}

func i32(n int32) *int32 { return &n }

// pricedPools prices node pools of a cluster in region by the built-in
// price list, each in one zone, as plan does.
func pricedPools(region string, pools ...topology.NodePool) *cost.Cluster {
	ref := topology.ClusterRef{Region: region, Cluster: &topology.Cluster{GKE: &topology.GKECluster{NodePools: pools}}}
	return cost.OfCluster(catalog.BuiltinPrices(), ref, func(string) int { return 1 })
}
func f64(n float64) *float64              { return &n }
func objs(o ...plan.Object) []plan.Object { return o }

const apiDiff = `--- live/Deployment serving/api
+++ desired/Deployment serving/api
@@ -3,7 +3,7 @@
   labels:
     app.kubernetes.io/version: "1.0"
 spec:
-  replicas: 2
+  replicas: 3
   selector:
     matchLabels:
       app: api
`

const credsDiff = `--- live/Secret serving/creds
+++ desired/Secret serving/creds
@@ -1,5 +1,5 @@
 apiVersion: v1
 data:
-  token: (sensitive)
+  token: (sensitive, changed)
 kind: Secret
 metadata:
`

// fullPlan exercises every part of the text view: a GKE cluster to create
// with node pools, one updated in place with a replaced pool, a joined
// cluster with every object action, a cluster that failed part-way, an
// unreachable one, an empty one, orphans in a planned region and in a region
// the plan no longer has, placements and warnings.
func fullPlan() *plan.Plan {
	return &plan.Plan{
		FormatVersion: plan.FormatVersion,
		Topology:      "ai-platform",
		TopologyFile:  "manifests/topology.yaml",
		CreatedAt:     time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC),
		SourceDigest:  "sha256:4f2c0a9e5d1b7c3a8e6f0d2b4a6c8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d",
		Regions: []plan.Region{
			{Name: "europe-west1", Clusters: []plan.Cluster{
				{Name: "edge-eu", Region: "europe-west1", Mode: "joined", ServerVersion: "v1.33.1"},
				{Name: "flaky-eu", Region: "europe-west1", Mode: "joined", ServerVersion: "v1.33.1",
					Error: "planning cluster flaky-eu: listing configmaps in namespace serving: forbidden",
					Objects: objs(
						plan.Object{Action: object.ActionCreate, Version: "v1", Kind: "Namespace", Name: "serving", Workload: "api"},
					)},
				{Name: "serving-eu", Region: "europe-west1", Mode: "joined", ServerVersion: "v1.33.1", InventoryVersion: "812", Requests: 9,
					Objects: objs(
						plan.Object{Action: object.ActionNoop, Version: "v1", Kind: "Namespace", Name: "serving", Workload: "api",
							DesiredHash: "sha256:11111111111111111111111111111111", LiveResourceVersion: "100", UID: "2f9c1d4e-0000-4000-8000-000000000100"},
						plan.Object{Action: object.ActionCreate, Version: "v1", Kind: "ConfigMap", Namespace: "serving", Name: "api-flags", Workload: "api",
							DesiredHash: "sha256:22222222222222222222222222222222", Reason: "not shown for a create", DryRun: true},
						plan.Object{Action: object.ActionDelete, Version: "v1", Kind: "ConfigMap", Namespace: "serving", Name: "old-flags", Workload: "api",
							LiveResourceVersion: "90", UID: "2f9c1d4e-0000-4000-8000-000000000090", Reason: "applied by geofed, no longer rendered"},
						plan.Object{Action: object.ActionUpdate, Version: "v1", Kind: "Secret", Namespace: "serving", Name: "creds", Workload: "api",
							// No DesiredHash: plans never hold a Secret's.
							LiveResourceVersion: "95", UID: "2f9c1d4e-0000-4000-8000-000000000095", DryRun: true,
							Changes: []plan.FieldChange{{Path: "data.token", Before: "(sensitive)", After: "(sensitive, changed)"}},
							Diff:    credsDiff},
						plan.Object{Action: object.ActionUpdate, Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "serving", Name: "api", Workload: "api",
							DesiredHash: "sha256:44444444444444444444444444444444", LiveResourceVersion: "97", UID: "2f9c1d4e-0000-4000-8000-000000000097", DryRun: true,
							Reason: "changed outside geofed",
							Changes: []plan.FieldChange{
								{Path: `metadata.labels["app.kubernetes.io/version"]`, Before: "1.0", After: "1.1"},
								{Path: "spec.replicas", Before: "2", After: "3"},
								{Path: "spec.template.spec.containers[0].args[2]", After: "--fast"},
								{Path: "spec.template.spec.containers[0].env[1].value", Before: "debug"},
							},
							Diff: apiDiff},
						plan.Object{Action: object.ActionConflict, Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "serving", Name: "web", Workload: "api",
							DesiredHash: "sha256:55555555555555555555555555555555", LiveResourceVersion: "98", UID: "2f9c1d4e-0000-4000-8000-000000000098", DryRun: true,
							Reason:  `conflict with "kubectl" using apps/v1: apply needs --force-conflicts to take these fields back`,
							Changes: []plan.FieldChange{{Path: "spec.replicas", Before: "5", After: "2"}}},
						plan.Object{Action: object.ActionError, Group: "batch", Version: "v1", Kind: "Job", Namespace: "serving", Name: "migrate", Workload: "api",
							DryRun: true, Reason: `server rejected the dry-run: Job.batch "migrate" is invalid: spec.template.spec.restartPolicy: Required value`},
						plan.Object{Action: object.ActionForeign, Version: "v1", Kind: "ConfigMap", Namespace: "serving", Name: "shared-flags", Workload: "api",
							DesiredHash: "sha256:66666666666666666666666666666666", LiveResourceVersion: "99", UID: "2f9c1d4e-0000-4000-8000-000000000099", DryRun: true,
							Reason: "belongs to topology other: apply takes it only with --adopt"},
						plan.Object{Action: object.ActionBeingDeleted, Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "serving", Name: "batch", Workload: "api",
							DesiredHash: "sha256:77777777777777777777777777777777", LiveResourceVersion: "101", UID: "2f9c1d4e-0000-4000-8000-000000000101",
							Reason: "being deleted: apply leaves it alone; re-run apply once it is gone"},
						// Prunes come last: kept, forgotten and already going.
						plan.Object{Action: object.ActionKeep, Version: "v1", Kind: "Namespace", Name: "old-serving", Workload: "api",
							LiveResourceVersion: "80", UID: "2f9c1d4e-0000-4000-8000-000000000080",
							Reason: "kept — holds 2 objects geofed did not apply: ConfigMap notes, apps/Deployment feature-cache"},
						plan.Object{Action: object.ActionAttention, Version: "v1", Kind: "ConfigMap", Namespace: "serving", Name: "recreated", Workload: "api",
							LiveResourceVersion: "85", UID: "2f9c1d4e-0000-4000-8000-000000000085",
							Reason: "not deleted: re-created since geofed applied it (uid 2f9c1d4e-0000-4000-8000-000000000084, now 2f9c1d4e-0000-4000-8000-000000000085); geofed forgets it"},
						plan.Object{Action: object.ActionBeingDeleted, Version: "v1", Kind: "ConfigMap", Namespace: "serving", Name: "draining", Workload: "api",
							LiveResourceVersion: "86", UID: "2f9c1d4e-0000-4000-8000-000000000086", Reason: "being deleted"},
					)},
				{Name: "serving-eu-2", Region: "europe-west1", Mode: "joined",
					Unreachable: "dial tcp 10.0.0.7:6443: connect: connection refused"},
			}},
			{Name: "us-west1", Clusters: []plan.Cluster{
				{Name: "training-us", Region: "us-west1", Mode: "managed", ServerVersion: "v1.33.2-gke.1100",
					GKE: &gke.ClusterChange{Region: "us-west1", Project: "acme-ml", Location: "us-west1", Cluster: "training-us", Action: object.ActionUpdate,
						Fields: []gke.FieldChange{{Path: "releaseChannel", Before: "STABLE", After: "REGULAR"}},
						NodePools: []gke.NodePoolChange{
							{Name: "a100", Action: object.ActionReplace, Fields: []gke.FieldChange{
								{Path: "machineType", Before: "a2-highgpu-1g", After: "a2-highgpu-2g", Replace: true},
								{Path: "spot", Before: "false", After: "true", Replace: true},
							}},
							{Name: "cpu", Action: object.ActionUpdate, Fields: []gke.FieldChange{{Path: "nodeCount", Before: "3", After: "1"}}},
							{Name: "same", Action: object.ActionNoop},
							{Name: "legacy", Action: object.ActionDelete, Fields: []gke.FieldChange{{Path: "machineType", Before: "n1-standard-4"}}},
						},
						Reasons: []string{"GKE is running operation operation-123 (UPGRADE_MASTER) on the cluster"},
					},
					Cost: pricedPools("us-west1",
						topology.NodePool{Name: "a100", MachineType: "a2-highgpu-2g", Spot: true, Autoscaling: &topology.Autoscaling{MaxNodes: 4}},
						topology.NodePool{Name: "cpu", MachineType: "e2-standard-8", NodeCount: i32(1)},
						topology.NodePool{Name: "t4", MachineType: "n1-standard-4", NodeCount: i32(1)}),
					Objects: objs(
						plan.Object{Action: object.ActionNoop, Version: "v1", Kind: "Namespace", Name: "ml", Workload: "trainer"},
					)},
				{Name: "training-us-b", Region: "us-west1", Mode: "managed",
					GKE: &gke.ClusterChange{Region: "us-west1", Project: "acme-ml", Location: "us-west1-b", Cluster: "training-us-b", Action: object.ActionCreate,
						Fields: []gke.FieldChange{
							{Path: "location", After: "us-west1-b"},
							{Path: "releaseChannel", After: "REGULAR"},
						},
						NodePools: []gke.NodePoolChange{
							{Name: "a100", Action: object.ActionCreate, Fields: []gke.FieldChange{
								{Path: "machineType", After: "a2-highgpu-1g"},
								{Path: "accelerators", After: "nvidia-tesla-a100 x1"},
								{Path: "spot", After: "true"},
								{Path: "nodeCount", After: "0"},
								{Path: "autoscaling", After: "min 0, max 8"},
							}},
							{Name: "cpu", Action: object.ActionCreate, Fields: []gke.FieldChange{
								{Path: "machineType", After: "e2-standard-8"},
								{Path: "nodeCount", After: "1"},
							}},
						},
					},
					Cost: pricedPools("us-west1",
						topology.NodePool{Name: "a100", MachineType: "a2-highgpu-1g", Spot: true, Autoscaling: &topology.Autoscaling{MaxNodes: 8}},
						topology.NodePool{Name: "cpu", MachineType: "e2-standard-8", NodeCount: i32(1)}),
					Objects: objs(
						plan.Object{Action: object.ActionCreate, Version: "v1", Kind: "Namespace", Name: "ml", Workload: "trainer", Reason: "cluster is created by this plan"},
						plan.Object{Action: object.ActionCreate, Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "ml", Name: "trainer", Workload: "trainer", Reason: "cluster is created by this plan"},
					)},
			}},
		},
		Placements: []placement.Result{
			{Workload: "trainer", Mode: placement.ModeWeight, Total: i32(4),
				Shares: []placement.Share{
					{Cluster: "training-us", Region: "us-west1", Replicas: i32(3), Weight: f64(3)},
					{Cluster: "training-us-b", Region: "us-west1", Replicas: i32(1), Weight: f64(1)},
					{Cluster: "serving-eu-2", Region: "europe-west1", Excluded: "unreachable: connection refused"},
				},
				USDPerHour: f64(3*3.45458 + 1*3.45458),
				Explanation: []string{
					"weights: training-us 3 (region us-west1), training-us-b 1",
					"4 replicas: training-us 3, training-us-b 1",
					"serving-eu-2 excluded: unreachable (connection refused)",
					"cost: $13.82/hour (training-us $10.36, training-us-b $3.45)",
				},
				Warnings: []string{"cluster serving-eu-2 unreachable (connection refused): excluded"}},
			{Workload: "api", Mode: placement.ModeDuplicate,
				Shares:      []placement.Share{{Cluster: "serving-eu", Region: "europe-west1"}},
				Explanation: []string{"no replicas policy: manifests as rendered on serving-eu"}},
		},
		Prices: catalog.BuiltinPrices().Origins,
		Orphans: []gke.ClusterChange{
			{Region: "asia-east1", Project: "acme-ml", Location: "asia-east1-a", Cluster: "old-asia", Action: object.ActionAttention, Reasons: []string{gke.ReasonOrphan}},
			{Region: "us-west1", Project: "acme-ml", Location: "us-west1", Cluster: "old-us", Action: object.ActionAttention, Reasons: []string{gke.ReasonOrphan}},
		},
		Warnings: []string{"workload trainer: cluster serving-eu-2 unreachable (connection refused): excluded"},
		Summary: plan.Summary{
			ClustersToCreate: 1,
			ClustersToChange: 1,
			ObjectsToCreate:  4, // api-flags, flaky-eu's Namespace, training-us-b's two
			ObjectsToChange:  3, // creds, api and the conflicting web
			ObjectsToDelete:  1,
			Conflicts:        1,
			Errors:           2, // the Job and flaky-eu
			Unreachable:      1,
			Attention:        7, // the orphans and serving-eu's foreign, kept, forgotten and two being deleted
		},
	}
}

// noChangePlan is a plan whose clusters match the topology.
func noChangePlan() *plan.Plan {
	return &plan.Plan{
		FormatVersion: plan.FormatVersion,
		Topology:      "ai-platform",
		CreatedAt:     time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC),
		Regions: []plan.Region{
			{Name: "us-west1", Clusters: []plan.Cluster{
				{Name: "training-us", Region: "us-west1", Mode: "managed", ServerVersion: "v1.33.2-gke.1100",
					GKE: &gke.ClusterChange{Region: "us-west1", Project: "acme-ml", Location: "us-west1", Cluster: "training-us", Action: object.ActionNoop,
						NodePools: []gke.NodePoolChange{{Name: "cpu", Action: object.ActionNoop}}},
					Cost: pricedPools("us-west1", topology.NodePool{Name: "cpu", MachineType: "e2-standard-8", NodeCount: i32(1)}),
					Objects: objs(
						plan.Object{Action: object.ActionNoop, Version: "v1", Kind: "Namespace", Name: "ml", Workload: "trainer"},
						plan.Object{Action: object.ActionNoop, Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "ml", Name: "trainer", Workload: "trainer"},
					)},
				{Name: "serving-us", Region: "us-west1", Mode: "joined", ServerVersion: "v1.33.1",
					Objects: objs(
						plan.Object{Action: object.ActionNoop, Version: "v1", Kind: "ConfigMap", Namespace: "serving", Name: "flags", Workload: "api"},
					)},
			}},
		},
		Placements: []placement.Result{
			{Workload: "trainer", Mode: placement.ModeDuplicate,
				Shares:      []placement.Share{{Cluster: "training-us", Region: "us-west1"}},
				Explanation: []string{"no replicas policy: manifests as rendered on training-us"}},
		},
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		golden string
		plan   *plan.Plan
		opts   TextOptions
	}{
		{"full.golden", fullPlan(), TextOptions{}},
		{"full-color.golden", fullPlan(), TextOptions{Color: true}},
		{"full-diff.golden", fullPlan(), TextOptions{Diff: true}},
		{"full-diff-color.golden", fullPlan(), TextOptions{Diff: true, Color: true}},
		// A CRD's description changes are counted, its other changes shown.
		{"crd-descriptions.golden", bigPlan(1, 0, 0, 3, 0), TextOptions{}},
		{"no-changes.golden", noChangePlan(), TextOptions{}},
		{"no-changes-verbose.golden", noChangePlan(), TextOptions{Verbose: true}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Text(&buf, tt.plan, tt.opts); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if hasANSI := strings.Contains(out, "\x1b["); hasANSI != tt.opts.Color {
				t.Errorf("ANSI codes present = %v, want %v", hasANSI, tt.opts.Color)
			}
			golden(t, tt.golden, buf.Bytes())
		})
	}
}

// TestTextContent checks, independently of the golden files, the lines a
// reader relies on; every expected text starts a line.
func TestTextContent(t *testing.T) {
	render := func(p *plan.Plan, o TextOptions) string {
		var buf bytes.Buffer
		if err := Text(&buf, p, o); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	plain := render(fullPlan(), TextOptions{})
	for _, want := range []string{
		"  + cluster training-us-b (GKE acme-ml/us-west1-b): create\n",
		"      + node pool a100: machineType a2-highgpu-1g, accelerators nvidia-tesla-a100 x1, spot true, nodeCount 0, autoscaling min 0, max 8\n",
		"  ~ cluster training-us (GKE acme-ml/us-west1, v1.33.2-gke.1100): update in place\n",
		"      ~ releaseChannel: STABLE → REGULAR\n",
		"      -/+ node pool a100: machineType a2-highgpu-1g → a2-highgpu-2g (forces replacement), spot false → true (forces replacement)\n",
		"      ~ node pool cpu: nodeCount 3 → 1\n",
		"      - node pool legacy: machineType n1-standard-4\n",
		"  ! cluster serving-eu-2 (joined): unreachable: dial tcp 10.0.0.7:6443: connect: connection refused\n",
		"      + ConfigMap serving/api-flags\n",
		"      - ConfigMap serving/old-flags (applied by geofed, no longer rendered)\n",
		"      ~ apps/Deployment serving/api (changed outside geofed)\n",
		"          ~ spec.replicas: 2 → 3\n",
		"          + spec.template.spec.containers[0].args[2]: --fast\n",
		"          - spec.template.spec.containers[0].env[1].value: debug\n",
		`      ~ apps/Deployment serving/web (conflict with "kubectl" using apps/v1: apply needs --force-conflicts to take these fields back)` + "\n",
		"          ~ spec.replicas: 5 → 2\n",
		`      ! batch/Job serving/migrate (server rejected the dry-run: `,
		"        (1 object unchanged)\n",
		// What needs a person reads as a sentence.
		"      ! ConfigMap serving/shared-flags: belongs to topology other: apply takes it only with --adopt\n",
		"      ! apps/Deployment serving/batch: being deleted: apply leaves it alone; re-run apply once it is gone\n",
		"      ! Namespace old-serving: kept — holds 2 objects geofed did not apply: ConfigMap notes, apps/Deployment feature-cache\n",
		"      ! ConfigMap serving/recreated: not deleted: re-created since geofed applied it (uid ",
		"      ! ConfigMap serving/draining: being deleted\n",
		"        (no objects)\n",
		"  ! cluster old-us (GKE acme-ml/us-west1): " + gke.ReasonOrphan + "\n",
		"Region asia-east1\n  ! cluster old-asia (GKE acme-ml/asia-east1-a): " + gke.ReasonOrphan + "\n",
		"Placement\n    trainer (weight)\n      weights: training-us 3 (region us-west1), training-us-b 1\n",
		"Warnings\n  ! workload trainer: cluster serving-eu-2 unreachable (connection refused): excluded\n",
	} {
		if !strings.Contains("\n"+plain, "\n"+want) {
			t.Errorf("text lacks %q", want)
		}
	}
	for _, absent := range []string{
		"not shown for a create",
		"node pool same",
		"cluster is created by this plan",
		"--- live/", // diffs only with Diff
	} {
		if strings.Contains(plain, absent) {
			t.Errorf("text contains %q", absent)
		}
	}

	diff := render(fullPlan(), TextOptions{Diff: true})
	for _, want := range []string{
		"            -  replicas: 2\n",
		"            +  replicas: 3\n",
		"            --- live/Deployment serving/api\n",
		"            +  token: (sensitive, changed)\n",
		// An update or conflict without a Diff still shows its fields.
		"          ~ spec.replicas: 5 → 2\n",
	} {
		if !strings.Contains("\n"+diff, "\n"+want) {
			t.Errorf("diff text lacks %q", want)
		}
	}

	color := render(fullPlan(), TextOptions{Color: true, Diff: true})
	for _, want := range []string{
		"\x1b[1mRegion us-west1\x1b[0m\n",
		"  \x1b[32m+\x1b[0m cluster training-us-b",
		"  \x1b[33m~\x1b[0m cluster training-us ",
		"      \x1b[33m-/+\x1b[0m node pool a100",
		"      \x1b[31m-\x1b[0m ConfigMap serving/old-flags",
		"      \x1b[31m!\x1b[0m batch/Job serving/migrate",
		"            \x1b[31m-  replicas: 2\x1b[0m\n",
		"            \x1b[32m+  replicas: 3\x1b[0m\n",
		"            \x1b[36m@@ -3,7 +3,7 @@\x1b[0m\n",
		"            \x1b[1m+++ desired/Deployment serving/api\x1b[0m\n",
	} {
		if !strings.Contains("\n"+color, "\n"+want) {
			t.Errorf("colored text lacks %q", want)
		}
	}

	verbose := render(noChangePlan(), TextOptions{Verbose: true})
	if !strings.Contains(verbose, "        apps/Deployment ml/trainer\n") || strings.Contains(verbose, "unchanged)") {
		t.Errorf("verbose text should list unchanged objects instead of counting them:\n%s", verbose)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestTextSummaryLine(t *testing.T) {
	tests := []struct {
		name string
		s    plan.Summary
		want string
	}{
		{
			name: "no changes",
			want: "No changes. The clusters match the topology. Plan: 0 clusters to create, 0 to change · 0 objects to create, 0 to change, 0 to delete.",
		},
		{
			name: "changes",
			s:    plan.Summary{ClustersToCreate: 2, ClustersToChange: 1, ObjectsToCreate: 12, ObjectsToChange: 3, ObjectsToDelete: 4},
			want: "Plan: 2 clusters to create, 1 to change · 12 objects to create, 3 to change, 4 to delete.",
		},
		{
			name: "conflicting changes",
			s:    plan.Summary{ObjectsToChange: 2, Conflicts: 1},
			want: "Plan: 0 clusters to create, 0 to change · 0 objects to create, 2 to change, 0 to delete. 1 of the changes conflict with another field manager (apply --force-conflicts).",
		},
		{
			name: "attention alone is not 'no changes'",
			s:    plan.Summary{Attention: 2},
			want: "Plan: 0 clusters to create, 0 to change · 0 objects to create, 0 to change, 0 to delete. 2 need attention.",
		},
		{
			name: "unreachable and errors",
			s:    plan.Summary{ObjectsToCreate: 1, Unreachable: 1, Errors: 3},
			want: "Plan: 0 clusters to create, 0 to change · 1 objects to create, 0 to change, 0 to delete. 1 clusters unreachable, 3 errors.",
		},
		{
			name: "every extra, in order",
			s:    plan.Summary{ObjectsToChange: 1, Conflicts: 1, Attention: 1, Unreachable: 2, Errors: 1},
			want: "Plan: 0 clusters to create, 0 to change · 0 objects to create, 1 to change, 0 to delete. 1 of the changes conflict with another field manager (apply --force-conflicts), 1 need attention, 2 clusters unreachable, 1 errors.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Text(&buf, &plan.Plan{Summary: tt.s}, TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := lastLine(buf.String()); got != tt.want {
				t.Errorf("summary line\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// TestTextOrphansShareRegionHeader: two orphans in a region the plan no
// longer has belong under one "Region" heading.
func TestTextOrphansShareRegionHeader(t *testing.T) {
	p := &plan.Plan{Orphans: []gke.ClusterChange{
		{Region: "asia-east1", Project: "acme-ml", Location: "asia-east1", Cluster: "old-a", Action: object.ActionAttention, Reasons: []string{gke.ReasonOrphan}},
		{Region: "asia-east1", Project: "acme-ml", Location: "asia-east1-b", Cluster: "old-b", Action: object.ActionAttention, Reasons: []string{gke.ReasonOrphan}},
	}, Summary: plan.Summary{Attention: 2}}
	var buf bytes.Buffer
	if err := Text(&buf, p, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "Region asia-east1\n"); n != 1 {
		t.Errorf("\"Region asia-east1\" printed %d times, want once:\n%s", n, buf.String())
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, os.ErrClosed
}

func TestTextReportsWriteErrors(t *testing.T) {
	w := &failingWriter{}
	if err := Text(w, fullPlan(), TextOptions{}); err == nil {
		t.Fatal("Text succeeded on a failing writer")
	}
	if w.n != 1 {
		t.Errorf("Text wrote %d times after the first failure, want it to stop", w.n-1)
	}
}

func TestJSON(t *testing.T) {
	for _, tt := range []struct {
		golden string
		plan   *plan.Plan
	}{
		{"full.json.golden", fullPlan()},
		{"no-changes.json.golden", noChangePlan()},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			var buf bytes.Buffer
			if err := JSON(&buf, tt.plan); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), `"formatVersion": "`+plan.FormatVersion+`"`) {
				t.Errorf("JSON lacks formatVersion %q", plan.FormatVersion)
			}
			if !strings.HasSuffix(buf.String(), "}\n") {
				t.Error("JSON does not end with a newline")
			}
			var back plan.Plan
			dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&back); err != nil {
				t.Fatalf("decoding the JSON into plan.Plan: %v", err)
			}
			if diff := cmp.Diff(tt.plan, &back); diff != "" {
				t.Errorf("round trip (-written +read):\n%s", diff)
			}
			golden(t, tt.golden, buf.Bytes())
		})
	}
}
