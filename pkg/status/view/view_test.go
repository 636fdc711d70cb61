package view

import (
	"bytes"
	"encoding/json"
	"flag"
	"testing"
	"time"

	goldenfile "github.com/geofed-io/kubectl-geofed/internal/golden"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/status"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Compare(t, name, got, *update)
}

// fleet exercises every part of the views: a managed cluster all ready, a
// joined one with drift and workloads not ready (one failed, more not
// ready than the text names), one unreachable, a managed cluster not
// created, one excluded from placement with a part it could not read, one
// with no workloads, and a warning.
func fleet() *status.Status {
	s := &status.Status{
		APIVersion:   status.APIVersion,
		Topology:     "ai-platform",
		TopologyFile: "manifests/topology.yaml",
		ObservedAt:   time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC),
		Refresh:      status.RefreshInventory,
		Regions: []status.Region{
			{Name: "europe-west1", Clusters: []status.Cluster{{
				Name: "serving-eu", Region: "europe-west1", Mode: "managed", Reachable: true,
				Endpoint: "https://34.76.1.2", ServerVersion: "v1.37.2",
				GKE:       &status.GKE{Project: "acme-ml", Location: "europe-west1-b", Status: "RUNNING"},
				Nodes:     &status.Nodes{Ready: 6, Total: 6},
				Resources: []status.Resource{{Name: "nvidia.com/gpu", Allocatable: "4", Requested: "4"}},
				Drift:     &status.Drift{},
				Workloads: []status.Workload{{Name: "model-server", Ready: true, Objects: 5, Replicas: &status.Replicas{Desired: 4, Ready: 4}}},
				Requests:  12,
			}}},
			{Name: "us-east1", Clusters: []status.Cluster{
				{
					Name: "serving-us", Region: "us-east1", Mode: "joined", Reachable: true,
					Endpoint: "https://10.0.0.1:6443", ServerVersion: "v1.36.4",
					Nodes: &status.Nodes{Ready: 2, Total: 3},
					Resources: []status.Resource{
						{Name: "example.com/fpga", Allocatable: "1", Requested: "0"},
						{Name: "nvidia.com/gpu", Allocatable: "2", Requested: "2"},
					},
					Drift: &status.Drift{Count: 2, Objects: []status.DriftedObject{
						{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "serving", Name: "model-server", Workload: "model-server",
							Reason: "fields geofed set were changed by another field manager"},
						{Version: "v1", Kind: "ConfigMap", Namespace: "serving", Name: "model-server-config", Workload: "model-server",
							Reason: "deleted since geofed applied it, or no longer labelled geofed.io/topology"},
					}},
					Workloads: []status.Workload{
						{Name: "batch", Objects: 5, NotReady: []status.NotReady{
							{Object: "batch/Job ml/a", Failed: true, Reason: "BackoffLimitExceeded: Job has reached the specified backoff limit"},
							{Object: "batch/Job ml/b", Reason: "0/2 pods running; 2 pods Pending: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."},
							{Object: "batch/Job ml/c", Reason: "0/1 pods running"},
							{Object: "batch/Job ml/d", Reason: "0/1 pods running"},
							{Object: "batch/Job ml/e", Reason: "0/1 pods running"},
						}},
						{Name: "model-server", Objects: 5, Replicas: &status.Replicas{Desired: 2, Ready: 1}, NotReady: []status.NotReady{
							{Object: "ConfigMap serving/model-server-config", Reason: "not found: deleted since geofed applied it, or no longer labelled geofed.io/topology"},
							{Object: "apps/Deployment serving/model-server", Reason: "1/2 replicas available; 1 pod Pending: 0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient nvidia.com/gpu."},
						}},
					},
					Requests: 14,
				},
				{
					Name: "serving-us-2", Region: "us-east1", Mode: "joined",
					Unreachable: "connecting to cluster serving-us-2 (context serving-us-2): https://10.0.0.2:6443 refused the connection",
					Endpoint:    "https://10.0.0.2:6443", Requests: 1,
				},
			}},
			{Name: "us-west1", Clusters: []status.Cluster{
				{
					Name: "training-us", Region: "us-west1", Mode: "managed",
					Unreachable: "the GKE cluster does not exist yet: apply creates it",
					GKE:         &status.GKE{Project: "acme-ml", Location: "us-west1-b"},
				},
				{
					Name: "training-us-2", Region: "us-west1", Mode: "managed", Reachable: true,
					Excluded: "GKE has been RECONCILING the cluster for 47m (operation operation-1 UPGRADE_MASTER, since 2026-03-01T11:43:00Z)",
					Endpoint: "https://35.2.3.4", ServerVersion: "v1.37.2",
					GKE:       &status.GKE{Project: "acme-ml", Location: "us-west1-a", Status: "RECONCILING"},
					Errors:    []string{"reading the capacity of cluster training-us-2: listing nodes: the server was unable to return a response in the time allotted"},
					Drift:     &status.Drift{},
					Workloads: []status.Workload{},
					Requests:  9,
				},
			}},
		},
		Warnings: []string{"workloads not judged: their placement is unknown while the clusters they divide replicas by cannot be read"},
	}
	s.Summary = status.Summary{Reachable: 3, Unreachable: 2, Excluded: 1, WorkloadsReady: 1, WorkloadsNotReady: 2, Drifted: 2, Errors: 2}
	return s
}

// allReady is a fleet with nothing to say but good news.
func allReady() *status.Status {
	s := fleet()
	s.Regions = s.Regions[:1]
	s.Warnings = nil
	s.Summary = status.Summary{Reachable: 1, WorkloadsReady: 1}
	return s
}

func TestText(t *testing.T) {
	tests := []struct {
		golden string
		s      *status.Status
		opts   TextOptions
	}{
		{"fleet.golden", fleet(), TextOptions{}},
		{"fleet-color.golden", fleet(), TextOptions{Color: true}},
		{"all-ready.golden", allReady(), TextOptions{}},
		{"all-ready-stamp.golden", allReady(), TextOptions{Stamp: true}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Text(&buf, tt.s, tt.opts); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.golden, buf.Bytes())
			if !tt.opts.Color && bytes.Contains(buf.Bytes(), []byte("\x1b[")) {
				t.Error("colour codes without Color")
			}
		})
	}
}

func TestSummaryLine(t *testing.T) {
	tests := []struct {
		m    status.Summary
		want string
	}{
		{status.Summary{Reachable: 3, Unreachable: 1, WorkloadsReady: 4, WorkloadsNotReady: 1, Drifted: 2},
			"Status: 3 clusters reachable, 1 unreachable · 4 workloads ready, 1 not ready · 2 objects drifted."},
		{status.Summary{Reachable: 1, WorkloadsReady: 1, Drifted: 1}, "Status: 1 cluster reachable · 1 workload ready · 1 object drifted."},
		{status.Summary{Unreachable: 2}, "Status: 0 clusters reachable, 2 unreachable · 0 workloads ready · 0 objects drifted."},
		{status.Summary{Reachable: 2, Excluded: 1, WorkloadsReady: 2, Errors: 1},
			"Status: 2 clusters reachable, 1 excluded from placement · 2 workloads ready · 0 objects drifted · 1 error."},
	}
	for _, tt := range tests {
		if got := summaryLine(tt.m); got != tt.want {
			t.Errorf("summaryLine(%+v) =\n%q\nwant\n%q", tt.m, got, tt.want)
		}
	}
}

// The machine forms are the same document, and decode back to the Status.
func TestJSONAndYAML(t *testing.T) {
	s := fleet()
	var j, y bytes.Buffer
	if err := JSON(&j, s); err != nil {
		t.Fatal(err)
	}
	if err := YAML(&y, s); err != nil {
		t.Fatal(err)
	}
	golden(t, "fleet.json.golden", j.Bytes())
	golden(t, "fleet.yaml.golden", y.Bytes())

	var fromJSON, fromYAML status.Status
	if err := json.Unmarshal(j.Bytes(), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(y.Bytes(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, &fromJSON); diff != "" {
		t.Errorf("JSON does not decode to the status (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(s, &fromYAML); diff != "" {
		t.Errorf("YAML does not decode to the status (-want +got):\n%s", diff)
	}
}
