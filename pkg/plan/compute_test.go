package plan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"

	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

func TestActionSymbol(t *testing.T) {
	tests := []struct {
		a    Action
		want string
	}{
		{ActionCreate, "+"},
		{ActionUpdate, "~"},
		{ActionDelete, "-"},
		// A conflict is an update apply needs --force-conflicts for.
		{ActionConflict, "~"},
		{ActionError, "!"},
		{ActionNoop, " "},
		{Action("something-new"), " "},
	}
	for _, tt := range tests {
		if got := tt.a.Symbol(); got != tt.want {
			t.Errorf("%q.Symbol() = %q, want %q", tt.a, got, tt.want)
		}
	}
}

func objects(actions ...Action) []Object {
	var out []Object
	for i, a := range actions {
		out = append(out, Object{Action: a, Version: "v1", Kind: "ConfigMap", Namespace: "ml", Name: string(rune('a' + i))})
	}
	return out
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		plan Plan
		want Summary
	}{
		{
			name: "empty plan",
			plan: Plan{},
			want: Summary{},
		},
		{
			name: "everything counted once, across regions",
			plan: Plan{
				Regions: []Region{
					{Name: "europe-west1", Clusters: []Cluster{
						{Name: "serving-eu", Mode: "joined", Objects: objects(
							ActionCreate, ActionCreate, ActionUpdate, ActionDelete, ActionDelete, ActionDelete,
							ActionConflict, ActionError, ActionNoop, ActionNoop)},
						{Name: "gone-eu", Mode: "joined", Unreachable: "dial tcp: connection refused"},
					}},
					{Name: "us-west1", Clusters: []Cluster{
						{Name: "new-us", Mode: "managed", GKE: &gke.ClusterChange{Action: gke.ActionCreate},
							Objects: objects(ActionCreate, ActionCreate, ActionCreate)},
						{Name: "old-us", Mode: "managed", GKE: &gke.ClusterChange{Action: gke.ActionUpdate}},
						{Name: "odd-us", Mode: "managed", GKE: &gke.ClusterChange{Action: gke.ActionAttention}},
						{Name: "same-us", Mode: "managed", GKE: &gke.ClusterChange{Action: gke.ActionNoop},
							Error: "planning cluster same-us: listing configmaps: forbidden", Objects: objects(ActionUpdate)},
					}},
				},
				Orphans: []gke.ClusterChange{{Cluster: "x", Action: gke.ActionAttention}, {Cluster: "y", Action: gke.ActionAttention}},
			},
			want: Summary{
				ClustersToCreate: 1,
				ClustersToChange: 1,
				ObjectsToCreate:  5,
				ObjectsToChange:  3, // the conflict is a change too
				ObjectsToDelete:  3,
				Conflicts:        1,
				Errors:           2, // the rejected object and same-us
				Unreachable:      1,
				Attention:        3, // odd-us and the two orphans
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, summarize(&tt.plan)); diff != "" {
				t.Errorf("summarize (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSummaryHasChangesAndPlanFailed(t *testing.T) {
	tests := []struct {
		name    string
		s       Summary
		changes bool
		failed  bool
	}{
		{name: "nothing", s: Summary{}},
		{name: "cluster to create", s: Summary{ClustersToCreate: 1}, changes: true},
		{name: "cluster to change", s: Summary{ClustersToChange: 1}, changes: true},
		{name: "object to create", s: Summary{ObjectsToCreate: 1}, changes: true},
		{name: "object to change", s: Summary{ObjectsToChange: 1}, changes: true},
		{name: "object to delete", s: Summary{ObjectsToDelete: 1}, changes: true},
		{name: "conflicting change", s: Summary{ObjectsToChange: 1, Conflicts: 1}, changes: true},
		{name: "attention only", s: Summary{Attention: 2}},
		{name: "unreachable only", s: Summary{Unreachable: 1}, failed: true},
		{name: "errors only", s: Summary{Errors: 1}, failed: true},
		{name: "changes and errors", s: Summary{ObjectsToCreate: 3, Errors: 1}, changes: true, failed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.HasChanges(); got != tt.changes {
				t.Errorf("HasChanges() = %v, want %v", got, tt.changes)
			}
			p := &Plan{Summary: tt.s}
			if got := p.Failed(); got != tt.failed {
				t.Errorf("Failed() = %v, want %v", got, tt.failed)
			}
		})
	}
}

func i32(n int32) *int32 { return &n }

func TestPlannedCapacity(t *testing.T) {
	gkeRef := func(pools ...topology.NodePool) topology.ClusterRef {
		return topology.ClusterRef{Region: "us-west1", Cluster: &topology.Cluster{
			Name: "c", GKE: &topology.GKECluster{NodePools: pools},
		}}
	}
	const gpu = "nvidia.com/gpu"
	tests := []struct {
		name   string
		ref    topology.ClusterRef
		res    string
		want   int64
		wantOK bool
	}{
		{
			name: "joined cluster: unknown",
			ref:  topology.ClusterRef{Region: "us-west1", Cluster: &topology.Cluster{Name: "j", Kubeconfig: &topology.KubeconfigRef{Context: "j"}}},
			res:  gpu,
		},
		{
			name: "a resource other than GPUs: unknown",
			ref:  gkeRef(topology.NodePool{Name: "cpu", MachineType: "e2-standard-8", NodeCount: i32(3)}),
			res:  "cpu",
		},
		{
			name:   "no GPU pools: zero, known",
			ref:    gkeRef(topology.NodePool{Name: "cpu", MachineType: "e2-standard-8", NodeCount: i32(3)}),
			res:    gpu,
			want:   0,
			wantOK: true,
		},
		{
			name: "accelerators times node count, over pools",
			ref: gkeRef(
				topology.NodePool{Name: "cpu", MachineType: "e2-standard-8", NodeCount: i32(1)},
				topology.NodePool{Name: "t4", MachineType: "n1-standard-8", NodeCount: i32(3),
					Accelerators: []topology.Accelerator{{Type: "nvidia-tesla-t4", Count: 2}}},
				topology.NodePool{Name: "mixed", MachineType: "n1-standard-16", NodeCount: i32(2),
					Accelerators: []topology.Accelerator{{Type: "nvidia-tesla-t4", Count: 1}, {Type: "nvidia-tesla-v100", Count: 4}}},
			),
			res:    gpu,
			want:   3*2 + 2*5,
			wantOK: true,
		},
		{
			name: "autoscaling minimum above the node count wins",
			ref: gkeRef(topology.NodePool{Name: "a100", MachineType: "a2-highgpu-1g", NodeCount: i32(1),
				Accelerators: []topology.Accelerator{{Type: "nvidia-tesla-a100", Count: 1}},
				Autoscaling:  &topology.Autoscaling{MinNodes: 4, MaxNodes: 8}}),
			res:    gpu,
			want:   4,
			wantOK: true,
		},
		{
			name: "autoscaling from zero offers nothing yet",
			ref: gkeRef(topology.NodePool{Name: "a100", MachineType: "a2-highgpu-1g",
				Autoscaling: &topology.Autoscaling{MinNodes: 0, MaxNodes: 8}}),
			res:    gpu,
			want:   0,
			wantOK: true,
		},
		{
			name:   "built-in GPUs of the machine type",
			ref:    gkeRef(topology.NodePool{Name: "a100", MachineType: "a2-highgpu-2g", NodeCount: i32(3)}),
			res:    gpu,
			want:   6,
			wantOK: true,
		},
		{
			name: "listed accelerators take precedence over the machine type",
			ref: gkeRef(topology.NodePool{Name: "l4", MachineType: "g2-standard-8", NodeCount: i32(2),
				Accelerators: []topology.Accelerator{{Type: "nvidia-l4", Count: 2}}}),
			res:    gpu,
			want:   4,
			wantOK: true,
		},
		{
			name:   "unknown machine type adds nothing",
			ref:    gkeRef(topology.NodePool{Name: "x", MachineType: "z9-imaginary-4", NodeCount: i32(5)}),
			res:    gpu,
			want:   0,
			wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := plannedCapacity(tt.ref, tt.res)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("plannedCapacity = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

var digestFormat = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func TestSourceDigest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(path, []byte(desiredTopology), 0o644); err != nil {
		t.Fatal(err)
	}
	files := appFiles(dir)
	fs := memFS(t, files)
	topo := parseTopology(t, fs, path, desiredTopology)

	digest := func(t *testing.T) string {
		t.Helper()
		d, err := ComputeDesired(DesiredOptions{Topology: topo, FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		got, err := sourceDigest(topo, d)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	first := digest(t)
	if !digestFormat.MatchString(first) {
		t.Fatalf("digest %q is not sha256:<64 hex>", first)
	}
	if again := digest(t); again != first {
		t.Fatalf("digest not deterministic: %s then %s", first, again)
	}

	// A manifest changes: the digest moves.
	dep := dir + "/apps/trainer/base/deployment.yaml"
	if err := fs.WriteFile(dep, []byte(strings.Replace(files[dep], "image: trainer:1", "image: trainer:2", 1))); err != nil {
		t.Fatal(err)
	}
	afterManifest := digest(t)
	if afterManifest == first {
		t.Error("digest unchanged after a manifest changed")
	}

	// Only the topology file changes (a comment): the digest moves too.
	if err := os.WriteFile(path, []byte(desiredTopology+"# a comment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := digest(t); got == afterManifest {
		t.Error("digest unchanged after the topology file changed")
	}

	// The file is gone: an error naming it.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	d, err := ComputeDesired(DesiredOptions{Topology: topo, FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sourceDigest(topo, d); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("sourceDigest with the file gone: err = %v, want one naming %s", err, path)
	}
}

func TestSourceDigestHashesObjectsInOrder(t *testing.T) {
	topo := &topology.Topology{}
	fs := memFS(t, appFiles("/work"))
	parsed := parseTopology(t, fs, "/work/topology.yaml", desiredTopology)
	d, err := ComputeDesired(DesiredOptions{Topology: parsed, FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	// No file to read (Path ""): the digest covers the objects alone.
	base, err := sourceDigest(topo, d)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := d.Cluster("training-us")
	c.Objects[1], c.Objects[2] = c.Objects[2], c.Objects[1]
	swapped, err := sourceDigest(topo, d)
	if err != nil {
		t.Fatal(err)
	}
	if swapped == base {
		t.Error("digest ignores object order")
	}
	c.Objects[1], c.Objects[2] = c.Objects[2], c.Objects[1]
	c.Objects[0].Hash = "sha256:00000000000000000000000000000000"
	if got, _ := sourceDigest(topo, d); got == base {
		t.Error("digest ignores an object's hash")
	}
}

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
	if len(all) != 1 || states["eu"].live != eu || states["eu"].err != nil {
		t.Errorf("eu: live %v err %v, want found", states["eu"].live, states["eu"].err)
	}
	// west may exist in the zone GKE could not list: unknown, never "create".
	if states["west"].live != nil || !errors.Is(states["west"].err, missing) {
		t.Errorf("west: live %v err %v, want the missing-zones error", states["west"].live, states["west"].err)
	}

	// Any other error marks every cluster of the project.
	states, _, err = liveGKE(context.Background(), topo, fakeGKE{err: errors.New("permission denied")})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"west", "eu"} {
		if states[name].err == nil || !strings.Contains(states[name].err.Error(), "permission denied") {
			t.Errorf("%s: err %v, want the listing error", name, states[name].err)
		}
	}
}
