package htmlview

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/observe"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/status"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// seedTopology is the seed scenario the README walks through: two GKE
// clusters to create and a joined one.
const seedTopology = "../../manifests/topology.yaml"

var planned = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// noClustersYet is a GKE project where none of the topology's clusters
// exists yet.
type noClustersYet struct{}

func (noClustersYet) ListClusters(context.Context, string) ([]*containerpb.Cluster, error) {
	return nil, nil
}

// seedObserve observes the seed topology offline: GKE has none of its
// clusters, and the joined serving-us has no context in testdata/kubeconfig,
// so it is unreachable. Nothing is contacted.
func seedObserve(t *testing.T) observe.Options {
	t.Helper()
	top, err := topology.Load(seedTopology)
	if err != nil {
		t.Fatal(err)
	}
	// The kubeconfig is named explicitly: neither $KUBECONFIG nor
	// ~/.kube/config may bring a serving-us context in.
	t.Setenv("KUBECONFIG", "testdata/kubeconfig")
	return observe.Options{
		Topology: top,
		GKE:      noClustersYet{},
		Member:   member.Options{KubeconfigPath: "testdata/kubeconfig", Timeout: time.Second, RequestTimeout: time.Second},
	}
}

// seedPlan is the first plan of the seed scenario, computed by plan.Compute
// itself: two GKE clusters and their objects to create, serving-us
// unreachable and its share of model-server redistributed, with the
// placement explanations and warnings that go with it.
func seedPlan(t *testing.T) *plan.Plan {
	t.Helper()
	res, err := plan.Compute(context.Background(), plan.Options{Options: seedObserve(t), Now: func() time.Time { return planned }})
	if err != nil {
		t.Fatalf("planning the seed topology offline: %v", err)
	}
	return res.Plan
}

// seedStatus is status.Compute's report on the same fleet: nothing exists
// or can be reached yet.
func seedStatus(t *testing.T) *status.Status {
	t.Helper()
	s, err := status.Compute(context.Background(), status.Options{Options: seedObserve(t), Now: func() time.Time { return planned }})
	if err != nil {
		t.Fatalf("reading the seed topology's status offline: %v", err)
	}
	return s
}

func i32(n int32) *int32     { return &n }
func f64(n float64) *float64 { return &n }

// laterPlan is the seed scenario some weeks on, as plan prints it against
// live clusters (which a unit test has none of): a second training
// cluster in us-central1 to create, training-us's pools to grow and
// re-machine, a Secret and a Deployment changed on serving-eu with one
// conflicting and one object to prune, serving-us planned part-way and
// holding an object of another topology, serving-nl unreachable, and an
// orphan GKE cluster in a region the topology no longer has. Every field
// set is one plan sets; the counts in Summary are plan's rules applied by
// hand, and the tests check them against the page.
func laterPlan() *plan.Plan {
	obj := func(a object.Action, group, kind, ns, name, workload string) plan.Object {
		return plan.Object{Action: a, Group: group, Version: "v1", Kind: kind, Namespace: ns, Name: name, Workload: workload, DryRun: a != object.ActionNoop}
	}
	changed := func(o plan.Object, reason string, changes ...plan.FieldChange) plan.Object {
		o.Reason, o.Changes = reason, changes
		return o
	}
	return &plan.Plan{
		FormatVersion: plan.FormatVersion,
		Topology:      "ai-platform",
		TopologyFile:  "manifests/topology.yaml",
		CreatedAt:     planned,
		SourceDigest:  "sha256:9a1c0e5b7d3f2a4c6e8b0d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c",
		Regions: []plan.Region{
			{Name: "europe-west1", Clusters: []plan.Cluster{{
				Name: "serving-eu", Region: "europe-west1", Mode: "managed", ServerVersion: "v1.37.2-gke.1200", InventoryVersion: "4120", Requests: 7,
				GKE: &gke.ClusterChange{Region: "europe-west1", Project: "acme-ml", Location: "europe-west1-b", Cluster: "serving-eu", Action: object.ActionNoop,
					NodePools: []gke.NodePoolChange{{Name: "cpu", Action: object.ActionNoop}, {Name: "l4", Action: object.ActionNoop}}},
				Objects: []plan.Object{
					obj(object.ActionNoop, "", "Namespace", "", "serving", "model-server"),
					changed(obj(object.ActionUpdate, "", "ConfigMap", "serving", "model-server-config", "model-server"), "",
						plan.FieldChange{Path: "data.MAX_BATCH", Before: "8", After: "16"}),
					changed(obj(object.ActionUpdate, "", "Secret", "serving", "model-server-token", "model-server"), "",
						plan.FieldChange{Path: "data.token", Before: "(sensitive)", After: "(sensitive, changed)"}),
					changed(obj(object.ActionConflict, "apps", "Deployment", "serving", "model-server", "model-server"),
						`conflict with "kubectl-edit" using apps/v1: apply needs --force-conflicts to take these fields back`,
						plan.FieldChange{Path: "spec.replicas", Before: "2", After: "4"}),
					obj(object.ActionNoop, "", "Service", "serving", "model-server", "model-server"),
					changed(obj(object.ActionDelete, "", "ConfigMap", "serving", "model-server-legacy", "model-server"), "applied by geofed, no longer rendered"),
				},
			}}},
			{Name: "europe-west4", Clusters: []plan.Cluster{{
				Name: "serving-nl", Region: "europe-west4", Mode: "joined",
				Unreachable: `connecting to cluster serving-nl (context serving-nl): Get "https://10.20.0.5:443/version": dial tcp 10.20.0.5:443: i/o timeout`,
			}}},
			{Name: "us-central1", Clusters: []plan.Cluster{{
				Name: "training-central", Region: "us-central1", Mode: "managed",
				GKE: &gke.ClusterChange{Region: "us-central1", Project: "acme-ml", Location: "us-central1-a", Cluster: "training-central", Action: object.ActionCreate,
					Fields: []gke.FieldChange{{Path: "location", After: "us-central1-a"}, {Path: "releaseChannel", After: "REGULAR"}},
					NodePools: []gke.NodePoolChange{
						{Name: "a100", Action: object.ActionCreate, Fields: []gke.FieldChange{
							{Path: "machineType", After: "a2-highgpu-1g"}, {Path: "accelerators", After: "nvidia-tesla-a100 x1"},
							{Path: "spot", After: "true"}, {Path: "nodeCount", After: "0"}, {Path: "autoscaling", After: "min 0, max 8"},
						}},
						{Name: "cpu", Action: object.ActionCreate, Fields: []gke.FieldChange{
							{Path: "machineType", After: "e2-standard-8"}, {Path: "accelerators", After: "none"},
							{Path: "spot", After: "false"}, {Path: "nodeCount", After: "1"}, {Path: "autoscaling", After: "off"},
						}},
					}},
				Objects: []plan.Object{
					changed(obj(object.ActionCreate, "", "Namespace", "", "ml", "trainer"), "cluster is created by this plan"),
					changed(obj(object.ActionCreate, "", "ConfigMap", "ml", "trainer-config", "trainer"), "cluster is created by this plan"),
					changed(obj(object.ActionCreate, "apps", "Deployment", "ml", "trainer", "trainer"), "cluster is created by this plan"),
					changed(obj(object.ActionCreate, "", "ServiceAccount", "ml", "trainer", "trainer"), "cluster is created by this plan"),
				},
			}}},
			{Name: "us-east1", Clusters: []plan.Cluster{{
				Name: "serving-us", Region: "us-east1", Mode: "joined", ServerVersion: "v1.36.4", InventoryVersion: "977", Requests: 9,
				Error: "planning cluster serving-us: listing services in namespace serving: services is forbidden: User \"geofed\" cannot list resource \"services\"",
				Objects: []plan.Object{
					obj(object.ActionNoop, "", "Namespace", "", "serving", "model-server"),
					changed(obj(object.ActionForeign, "", "ConfigMap", "serving", "model-server-config", "model-server"), "belongs to topology edge-platform: apply takes it only with --adopt"),
					changed(obj(object.ActionUpdate, "apps", "Deployment", "serving", "model-server", "model-server"), "changed outside geofed",
						plan.FieldChange{Path: "spec.replicas", Before: "1", After: "2"},
						plan.FieldChange{Path: "spec.template.spec.containers[0].image", Before: "model-server:1.4", After: "model-server:1.5"}),
				},
			}}},
			{Name: "us-west1", Clusters: []plan.Cluster{{
				Name: "training-us", Region: "us-west1", Mode: "managed", ServerVersion: "v1.37.2-gke.1200", InventoryVersion: "6631", Requests: 6,
				GKE: &gke.ClusterChange{Region: "us-west1", Project: "acme-ml", Location: "us-west1-b", Cluster: "training-us", Action: object.ActionUpdate,
					NodePools: []gke.NodePoolChange{
						{Name: "a100", Action: object.ActionUpdate, Fields: []gke.FieldChange{{Path: "autoscaling", Before: "min 4, max 8", After: "min 4, max 12"}}},
						{Name: "cpu", Action: object.ActionUpdate, Fields: []gke.FieldChange{{Path: "machineType", Before: "e2-standard-8", After: "e2-standard-16", RecreatesNodes: true}}},
					}},
				Objects: []plan.Object{
					obj(object.ActionNoop, "", "Namespace", "", "ml", "trainer"),
					obj(object.ActionNoop, "", "ConfigMap", "ml", "trainer-config", "trainer"),
					changed(obj(object.ActionUpdate, "apps", "Deployment", "ml", "trainer", "trainer"), "",
						plan.FieldChange{Path: "spec.replicas", Before: "4", After: "6"}),
					obj(object.ActionNoop, "", "ServiceAccount", "ml", "trainer", "trainer"),
				},
			}}},
		},
		Placements: []placement.Result{
			{Workload: "trainer", Mode: placement.ModeLocality, Total: i32(8), Max: i32(6), Near: "us-west1",
				Shares: []placement.Share{
					{Cluster: "training-central", Region: "us-central1", Replicas: i32(2), DistanceKm: f64(2158)},
					{Cluster: "training-us", Region: "us-west1", Replicas: i32(6), DistanceKm: f64(0), Clamped: "max"},
				},
				Explanation: []string{
					"8 replicas by locality near us-west1 (training-us 0 km, training-central 2158 km), max 6 → training-us 6, training-central 2",
					"training-us: 9 nodes considered · 1 node fits none (1 Insufficient nvidia.com/gpu) · now: 4 fit · after scale-up to 13 nodes: 12 fit",
					"training-central: 1 node considered · 1 node fits none (1 Insufficient nvidia.com/gpu) · now: 0 fit · after scale-up to 9 nodes: 8 fit",
				}},
			{Workload: "model-server", Mode: placement.ModeWeight, Total: i32(6), Min: i32(1), Max: i32(5),
				Shares: []placement.Share{
					{Cluster: "serving-eu", Region: "europe-west1", Replicas: i32(4), Weight: f64(2)},
					{Cluster: "serving-nl", Region: "europe-west4", Excluded: "unreachable: i/o timeout"},
					{Cluster: "serving-us", Region: "us-east1", Replicas: i32(2), Weight: f64(1)},
				},
				Explanation: []string{
					"6 replicas by weight (serving-eu 2, serving-us 1), min 1, max 5 → serving-eu 4, serving-us 2",
					"serving-nl excluded: unreachable (i/o timeout)",
					"serving-eu: 6 nodes considered · 2 nodes fit none (2 Insufficient nvidia.com/gpu) · now: 4 fit",
					"serving-us: 3 nodes considered · now: 3 fit",
				},
				Warnings: []string{"cluster serving-nl unreachable (i/o timeout): excluded, its share redistributed"}},
		},
		Orphans: []gke.ClusterChange{
			{Region: "asia-east1", Project: "acme-ml", Location: "asia-east1-a", Cluster: "old-asia", Action: object.ActionAttention, Reasons: []string{gke.ReasonOrphan}},
		},
		Warnings: []string{
			"workload model-server: cluster serving-nl unreachable (i/o timeout): excluded, its share redistributed",
		},
		Summary: plan.Summary{
			ClustersToCreate: 1, // training-central
			ClustersToChange: 1, // training-us's pools
			ObjectsToCreate:  4, // training-central's
			ObjectsToChange:  5, // the ConfigMap, Secret and conflicting Deployment on serving-eu, the Deployments on serving-us and training-us
			ObjectsToDelete:  1, // model-server-legacy
			Conflicts:        1,
			Errors:           1, // serving-us planned part-way
			Unreachable:      1, // serving-nl
			Attention:        2, // the foreign ConfigMap and the orphan
		},
	}
}

// laterStatus is the same fleet's status: serving-eu and training-us
// ready, serving-us with drift and a workload not ready, serving-nl
// unreachable, training-central not created yet, and edge-eu excluded from
// placement with what could not be read of it.
func laterStatus() *status.Status {
	return &status.Status{
		APIVersion:   status.APIVersion,
		Topology:     "ai-platform",
		TopologyFile: "manifests/topology.yaml",
		ObservedAt:   planned,
		Refresh:      status.RefreshInventory,
		Regions: []status.Region{
			{Name: "europe-west1", Clusters: []status.Cluster{
				{Name: "edge-eu", Region: "europe-west1", Mode: "joined", Reachable: true, Endpoint: "https://edge-eu.example:6443", ServerVersion: "v1.36.4",
					Excluded: "its spare nvidia.com/gpu could not be read: nodes is forbidden",
					Errors:   []string{"listing nodes: nodes is forbidden: User \"geofed\" cannot list resource \"nodes\" at the cluster scope"},
					Drift:    &status.Drift{Count: 0}, Workloads: []status.Workload{}, Requests: 5},
				{Name: "serving-eu", Region: "europe-west1", Mode: "managed", Reachable: true, Endpoint: "https://34.76.1.2", ServerVersion: "v1.37.2-gke.1200",
					GKE:       &status.GKE{Project: "acme-ml", Location: "europe-west1-b", Status: "RUNNING"},
					Nodes:     &status.Nodes{Ready: 6, Total: 6},
					Resources: []status.Resource{{Name: "nvidia.com/gpu", Allocatable: "4", Requested: "4"}},
					Drift:     &status.Drift{Count: 0},
					Workloads: []status.Workload{{Name: "model-server", Ready: true, Objects: 5, Replicas: &status.Replicas{Desired: 4, Ready: 4}}},
					Requests:  6},
			}},
			{Name: "europe-west4", Clusters: []status.Cluster{
				{Name: "serving-nl", Region: "europe-west4", Mode: "joined",
					Unreachable: `connecting to cluster serving-nl (context serving-nl): Get "https://10.20.0.5:443/version": dial tcp 10.20.0.5:443: i/o timeout`},
			}},
			{Name: "us-central1", Clusters: []status.Cluster{
				{Name: "training-central", Region: "us-central1", Mode: "managed",
					GKE:         &status.GKE{Project: "acme-ml", Location: "us-central1-a"},
					Unreachable: "the GKE cluster does not exist yet: apply creates it"},
			}},
			{Name: "us-east1", Clusters: []status.Cluster{
				{Name: "serving-us", Region: "us-east1", Mode: "joined", Reachable: true, Endpoint: "https://serving-us.acme.internal:6443", ServerVersion: "v1.36.4",
					Nodes:     &status.Nodes{Ready: 2, Total: 3},
					Resources: []status.Resource{{Name: "nvidia.com/gpu", Allocatable: "2", Requested: "2"}},
					Drift: &status.Drift{Count: 1, Objects: []status.DriftedObject{
						{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "serving", Name: "model-server", Workload: "model-server", Reason: "changed outside geofed"},
					}},
					Workloads: []status.Workload{{Name: "model-server", Objects: 5, Replicas: &status.Replicas{Desired: 2, Ready: 1},
						NotReady: []status.NotReady{{Object: "apps/Deployment serving/model-server", Reason: "1 of 2 replicas available; pod model-server-7d9c-x2 Pending: 0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient nvidia.com/gpu"}}}},
					Requests: 8},
			}},
			{Name: "us-west1", Clusters: []status.Cluster{
				{Name: "training-us", Region: "us-west1", Mode: "managed", Reachable: true, Endpoint: "https://35.197.4.8", ServerVersion: "v1.37.2-gke.1200",
					GKE:       &status.GKE{Project: "acme-ml", Location: "us-west1-b", Status: "RUNNING"},
					Nodes:     &status.Nodes{Ready: 5, Total: 5},
					Resources: []status.Resource{{Name: "nvidia.com/gpu", Allocatable: "4", Requested: "4"}},
					Drift:     &status.Drift{Count: 0},
					Workloads: []status.Workload{{Name: "trainer", Ready: true, Objects: 4, Replicas: &status.Replicas{Desired: 4, Ready: 4}}},
					Requests:  6},
			}},
		},
		Warnings: []string{"workload model-server: placement unknown on serving-nl: unreachable"},
		Summary: status.Summary{
			Reachable: 4, Unreachable: 2, Excluded: 1,
			WorkloadsReady: 2, WorkloadsNotReady: 1, Drifted: 1,
			Errors: 2, // edge-eu's and the warning
		},
	}
}
