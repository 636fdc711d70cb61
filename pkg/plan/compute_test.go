package plan

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/geofed-io/kubectl-geofed/internal/memfs"
	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// TestActionSymbol pins the marks the plan's views print for every action
// a plan holds.
func TestActionSymbol(t *testing.T) {
	tests := []struct {
		a    object.Action
		want string
	}{
		{object.ActionCreate, "+"},
		{object.ActionUpdate, "~"},
		// A conflict is an update apply needs --force-conflicts for.
		{object.ActionConflict, "~"},
		{object.ActionReplace, "-/+"},
		{object.ActionDelete, "-"},
		{object.ActionError, "!"},
		{object.ActionAttention, "!"},
		{object.ActionKeep, "!"},
		{object.ActionBeingDeleted, "!"},
		{object.ActionForeign, "!"},
		// No mark: the views pad it to a blank column.
		{object.ActionNoop, ""},
		{object.Action("something-new"), ""},
	}
	for _, tt := range tests {
		if got := tt.a.Symbol(); got != tt.want {
			t.Errorf("%q.Symbol() = %q, want %q", tt.a, got, tt.want)
		}
	}
}

func objects(actions ...object.Action) []Object {
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
						// What apply leaves alone needs a person, and is no change.
						{Name: "cleanup-eu", Mode: "joined", Objects: objects(
							object.ActionKeep, object.ActionBeingDeleted, object.ActionForeign, object.ActionAttention, object.ActionDelete)},
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
				ObjectsToDelete:  4,
				Conflicts:        1,
				Errors:           2, // the rejected object and same-us
				Unreachable:      1,
				Attention:        7, // odd-us, the two orphans and cleanup-eu's four
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

var digestFormat = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// trainerApp is a kustomize app under dir/apps/trainer: a Namespace, a
// ConfigMap and a Deployment.
func trainerApp(dir string) map[string]string {
	return map[string]string{
		dir + "/apps/trainer/kustomization.yaml": "resources:\n- namespace.yaml\n- configmap.yaml\n- deployment.yaml\n",
		dir + "/apps/trainer/namespace.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ml\n",
		dir + "/apps/trainer/configmap.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: trainer-config\n  namespace: ml\ndata:\n  level: info\n",
		dir + "/apps/trainer/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: trainer
  namespace: ml
spec:
  replicas: 2
  selector:
    matchLabels: {app: trainer}
  template:
    metadata:
      labels: {app: trainer}
    spec:
      containers:
      - name: trainer
        image: trainer:1
`,
	}
}

// trainerTopology puts the trainer on two joined clusters.
const trainerTopology = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: ai-platform
spec:
  regions:
  - name: us-west1
    clusters:
    - name: training-us
      kubeconfig: {context: training-us}
  - name: europe-west1
    clusters:
    - name: training-eu
      kubeconfig: {context: training-eu}
  workloads:
  - name: trainer
    source: apps/trainer
`

func TestSourceDigest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(path, []byte(trainerTopology), 0o644); err != nil {
		t.Fatal(err)
	}
	files := trainerApp(dir)
	fs := memfs.New(t, files)
	topo := memfs.Topology(t, fs, path, trainerTopology)

	digest := func(t *testing.T) string {
		t.Helper()
		d, err := desired.Compute(desired.Options{Topology: topo, FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		got, err := sourceDigest(nil, topo, d)
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
	dep := dir + "/apps/trainer/deployment.yaml"
	if err := fs.WriteFile(dep, []byte(strings.Replace(files[dep], "image: trainer:1", "image: trainer:2", 1))); err != nil {
		t.Fatal(err)
	}
	afterManifest := digest(t)
	if afterManifest == first {
		t.Error("digest unchanged after a manifest changed")
	}

	// Only the topology file changes (a comment): the digest moves too.
	if err := os.WriteFile(path, []byte(trainerTopology+"# a comment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := digest(t); got == afterManifest {
		t.Error("digest unchanged after the topology file changed")
	}

	// The file is gone: an error naming it.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	d, err := desired.Compute(desired.Options{Topology: topo, FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sourceDigest(nil, topo, d); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("sourceDigest with the file gone: err = %v, want one naming %s", err, path)
	}
}

func TestSourceDigestHashesObjectsInOrder(t *testing.T) {
	topo := &topology.Topology{}
	fs := memfs.New(t, trainerApp("/work"))
	parsed := memfs.Topology(t, fs, "/work/topology.yaml", trainerTopology)
	d, err := desired.Compute(desired.Options{Topology: parsed, FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	// No file to read (Path ""): the digest covers the objects alone.
	base, err := sourceDigest(nil, topo, d)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := d.Cluster("training-us")
	c.Objects[1], c.Objects[2] = c.Objects[2], c.Objects[1]
	swapped, err := sourceDigest(nil, topo, d)
	if err != nil {
		t.Fatal(err)
	}
	if swapped == base {
		t.Error("digest ignores object order")
	}
	c.Objects[1], c.Objects[2] = c.Objects[2], c.Objects[1]
	c.Objects[0].Hash = "sha256:00000000000000000000000000000000"
	if got, _ := sourceDigest(nil, topo, d); got == base {
		t.Error("digest ignores an object's hash")
	}
}
