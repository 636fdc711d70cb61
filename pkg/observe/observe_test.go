package observe

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

func i32(n int32) *int32 { return &n }

// nodePools is what plan counts a GKE cluster's pools as: sizes are per
// zone, a pool that exists has its nodes in the node LIST, one to be
// created offers its first nodes, and autoscaling its maximum.
func TestNodePools(t *testing.T) {
	const file = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: t}
spec:
  gke: {project: p}
  regions:
  - name: us-central1
    clusters:
    - name: zonal
      gke:
        location: us-central1-a
        nodePools:
        - {name: cpu, machineType: e2-standard-8, nodeCount: 2}
        - name: t4
          machineType: n1-standard-8
          accelerators: [{type: nvidia-tesla-t4, count: 2}]
          autoscaling: {minNodes: 1, maxNodes: 4}
    - name: regional
      gke:
        nodePools:
        - {name: a100, machineType: a2-highgpu-2g, autoscaling: {minNodes: 0, maxNodes: 3}}
`
	topo, err := topology.Options{IsDir: func(string) bool { return true }}.Parse("t.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	type pool struct {
		name              string
		planned, maxNodes int
		gpus              int64
	}
	summarize := func(ps []capacity.Pool) []pool {
		var out []pool
		for _, p := range ps {
			q := p.Shape.Allocatable[gke.GPUResource]
			out = append(out, pool{p.Name, p.Planned, p.MaxNodes, q.Value()})
		}
		return out
	}
	for _, tt := range []struct {
		cluster string
		live    func(*containerpb.Cluster) *containerpb.Cluster
		want    []pool
	}{
		{"zonal", nil, []pool{{"cpu", 2, 0, 0}, {"t4", 1, 4, 2}}},
		// GKE spreads a regional cluster's pools over three zones.
		{"regional", nil, []pool{{"a100", 0, 9, 2}}},
		// Live, in the one zone GKE reports: the nodes are counted from
		// the node LIST, and the maximum is per zone.
		{"regional", func(d *containerpb.Cluster) *containerpb.Cluster {
			live := &containerpb.Cluster{Name: d.GetName(), Location: d.GetLocation()}
			live.NodePools = []*containerpb.NodePool{{Name: "a100", Locations: []string{"us-central1-b"}}}
			return live
		}, []pool{{"a100", 0, 3, 2}}},
	} {
		ref, _ := topo.Cluster(tt.cluster)
		st := &GKEState{Desired: gke.Desired(topo, ref)}
		if tt.live != nil {
			st.Live = tt.live(st.Desired)
		}
		pools, err := nodePools(ref, st)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, summarize(pools), cmp.AllowUnexported(pool{})); diff != "" {
			t.Errorf("%s (live %v): pools (-want +got):\n%s", tt.cluster, tt.live != nil, diff)
		}
	}
}

var digestFormat = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func TestInZones(t *testing.T) {
	tests := []struct {
		location string
		zones    []string
		want     bool
	}{
		{"us-west1-b", []string{"us-west1-b"}, true},
		{"us-west1", []string{"us-west1-b"}, true},
		{"us-west1-a", []string{"us-west1-b"}, false},
		{"europe-west1", []string{"us-west1-b"}, false},
		{"us-west1", nil, false},
	}
	for _, tt := range tests {
		if got := inZones(tt.location, tt.zones); got != tt.want {
			t.Errorf("inZones(%q, %v) = %v, want %v", tt.location, tt.zones, got, tt.want)
		}
	}
}

// fakeGKE answers ListClusters from memory: liveGKE's matching is pure
// logic; the real client is tested against the emulator in pkg/gke and e2e.
type fakeGKE struct {
	live []*containerpb.Cluster
	err  error
}

func (f fakeGKE) ListClusters(context.Context, string) ([]*containerpb.Cluster, error) {
	return f.live, f.err
}

func TestLiveGKEMissingZones(t *testing.T) {
	const file = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: t}
spec:
  gke: {project: p}
  regions:
  - name: us-west1
    clusters:
    - name: west
      gke: {location: us-west1-b, nodePools: [{name: cpu, machineType: e2-standard-4}]}
  - name: europe-west1
    clusters:
    - name: eu
      gke: {location: europe-west1-b, nodePools: [{name: cpu, machineType: e2-standard-4}]}
`
	topo, err := topology.Options{IsDir: func(string) bool { return true }}.Parse("t.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	eu := &containerpb.Cluster{Name: "eu", Location: "europe-west1-b", Status: containerpb.Cluster_RUNNING}
	missing := &gke.MissingZonesError{Project: "p", Zones: []string{"us-west1-b"}}

	states, all, err := liveGKE(context.Background(), topo, fakeGKE{live: []*containerpb.Cluster{eu}, err: missing})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || states["eu"].Live != eu || states["eu"].Err != nil {
		t.Errorf("eu: live %v err %v, want found", states["eu"].Live, states["eu"].Err)
	}
	// west may exist in the zone GKE could not list: unknown, never "create".
	if states["west"].Live != nil || !errors.Is(states["west"].Err, missing) {
		t.Errorf("west: live %v err %v, want the missing-zones error", states["west"].Live, states["west"].Err)
	}

	// Any other error marks every cluster of the project.
	states, _, err = liveGKE(context.Background(), topo, fakeGKE{err: errors.New("permission denied")})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"west", "eu"} {
		if states[name].Err == nil || !strings.Contains(states[name].Err.Error(), "permission denied") {
			t.Errorf("%s: err %v, want the listing error", name, states[name].Err)
		}
	}
}
