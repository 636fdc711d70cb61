package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

func TestActionSymbol(t *testing.T) {
	tests := []struct {
		a    Action
		want string
	}{
		{object.ActionCreate, "+"},
		{object.ActionUpdate, "~"},
		{object.ActionDelete, "-"},
		// A conflict is an update apply needs --force-conflicts for.
		{object.ActionConflict, "~"},
		{object.ActionError, "!"},
		{object.ActionNoop, " "},
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
							object.ActionCreate, object.ActionCreate, object.ActionUpdate, object.ActionDelete, object.ActionDelete, object.ActionDelete,
							object.ActionConflict, object.ActionError, object.ActionNoop, object.ActionNoop)},
						{Name: "gone-eu", Mode: "joined", Unreachable: "dial tcp: connection refused"},
					}},
					{Name: "us-west1", Clusters: []Cluster{
						{Name: "new-us", Mode: "managed", GKE: &gke.ClusterChange{Action: object.ActionCreate},
							Objects: objects(object.ActionCreate, object.ActionCreate, object.ActionCreate)},
						{Name: "old-us", Mode: "managed", GKE: &gke.ClusterChange{Action: object.ActionUpdate}},
						{Name: "odd-us", Mode: "managed", GKE: &gke.ClusterChange{Action: object.ActionAttention}},
						{Name: "same-us", Mode: "managed", GKE: &gke.ClusterChange{Action: object.ActionNoop},
							Error: "planning cluster same-us: listing configmaps: forbidden", Objects: objects(object.ActionUpdate)},
					}},
				},
				Orphans: []gke.ClusterChange{{Cluster: "x", Action: object.ActionAttention}, {Cluster: "y", Action: object.ActionAttention}},
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
