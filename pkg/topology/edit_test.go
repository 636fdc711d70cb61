package topology

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
)

// anyDir accepts every workload source: these tests are about the file's
// text, not the apps it names.
var anyDir = Options{IsDir: func(string) bool { return true }}

// onlyAdded fails unless after is before with lines inserted in one place,
// and — when the edit replaced a `key: []` — that one line changed. It
// returns the inserted lines.
func onlyAdded(t *testing.T, before, after string, changedLines int) []string {
	t.Helper()
	// Lines without their breaks: a last line that had none gets one
	// before the new lines, and its text is unchanged.
	a := strings.Split(before, "\n")
	b := strings.Split(after, "\n")
	var added []string
	changed := 0
	for _, op := range difflib.NewMatcher(a, b).GetOpCodes() {
		switch op.Tag {
		case 'e':
		case 'i':
			added = append(added, b[op.J1:op.J2]...)
		case 'r':
			// A line that lost its `[]` is a replacement of one line by
			// itself shortened plus the new lines.
			changed += op.I2 - op.I1
			added = append(added, b[op.J1+op.I2-op.I1:op.J2]...)
		default:
			t.Errorf("the edit removed lines %d-%d: %q", op.I1+1, op.I2, a[op.I1:op.I2])
		}
	}
	if changed != changedLines {
		t.Errorf("the edit changed %d existing lines, want %d:\n%s", changed, changedLines, after)
	}
	return added
}

func TestAddJoinedClusterGolden(t *testing.T) {
	seed := filepath.Join("..", "..", "manifests", "topology.yaml")
	tests := []struct {
		name    string
		file    string
		cluster JoinedCluster
		// changed is how many existing lines the edit may change: one
		// where `clusters: []` becomes `clusters:`.
		changed   int
		newRegion bool
	}{
		{name: "seed-existing-region", file: seed, cluster: JoinedCluster{Region: "us-east1", Name: "serving-us-2", Context: "lab-east", Labels: map[string]string{"role": "serving", "tier": "spare"}}},
		{name: "seed-new-region", file: seed, cluster: JoinedCluster{Region: "us-central1", Name: "lab-gpu", Context: "lab-gpu", Labels: map[string]string{"role": "training"}}, newRegion: true},
		{name: "seed-no-labels", file: seed, cluster: JoinedCluster{Region: "europe-west1", Name: "eu-spare", Context: "kind-eu"}},
		{name: "wide", file: "wide.yaml", cluster: JoinedCluster{Region: "us-east1", Name: "east-b", Context: "east-b", Labels: map[string]string{"role": "serving"}}},
		{name: "wide-new-region", file: "wide.yaml", cluster: JoinedCluster{Region: "asia-east1", Name: "asia-a", Context: "asia-a"}, newRegion: true},
		{name: "flow", file: "flow.yaml", cluster: JoinedCluster{Region: "us-east1", Name: "serving-us-2", Context: "serving-us-2", Labels: map[string]string{"role": "serving"}}},
		// Values YAML would read as another type are quoted.
		{name: "flow-quoted", file: "flow.yaml", cluster: JoinedCluster{Region: "us-east1", Name: "true", Context: "0755", Labels: map[string]string{"gpu": "yes", "example.com/n": "1"}}},
		{name: "empty-list", file: "empty-list.yaml", cluster: JoinedCluster{Region: "us-east1", Name: "east-a", Context: "east-a"}, changed: 1},
		{name: "no-clusters", file: "no-clusters.yaml", cluster: JoinedCluster{Region: "us-east1", Name: "east-a", Context: "east-a", Labels: map[string]string{"role": "serving"}}},
		{name: "no-clusters-last", file: "no-clusters.yaml", cluster: JoinedCluster{Region: "europe-west1", Name: "eu-a", Context: "eu-a"}},
		{name: "no-regions", file: "no-regions.yaml", cluster: JoinedCluster{Region: "us-east1", Name: "east-a", Context: "east-a"}, newRegion: true},
		{name: "no-final-newline", file: "no-final-newline.yaml", cluster: JoinedCluster{Region: "us-east1", Name: "b", Context: "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.file
			if !filepath.IsAbs(path) && !strings.Contains(path, string(filepath.Separator)) {
				path = filepath.Join("testdata", "edit", path)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ed, err := anyDir.AddJoinedCluster(path, data, tt.cluster)
			if err != nil {
				t.Fatalf("AddJoinedCluster: %v", err)
			}
			golden(t, filepath.Join("testdata", "edit", tt.name+".golden"), string(ed.Data))
			added := onlyAdded(t, string(data), string(ed.Data), tt.changed)
			if len(added) == 0 {
				t.Error("no lines were added")
			}
			if ed.NewRegion != tt.newRegion {
				t.Errorf("NewRegion = %v, want %v", ed.NewRegion, tt.newRegion)
			}
			// The edit is what was asked for, read back through Load.
			ref, ok := ed.Topology.Cluster(tt.cluster.Name)
			switch {
			case !ok:
				t.Fatalf("cluster %s is not in the new topology", tt.cluster.Name)
			case ref.Region != tt.cluster.Region:
				t.Errorf("cluster %s is in region %s, want %s", tt.cluster.Name, ref.Region, tt.cluster.Region)
			case ref.Cluster.Kubeconfig == nil || ref.Cluster.Kubeconfig.Context != tt.cluster.Context || ref.Cluster.Kubeconfig.Path != "":
				t.Errorf("cluster %s has kubeconfig %+v, want context %s", tt.cluster.Name, ref.Cluster.Kubeconfig, tt.cluster.Context)
			case len(ref.Cluster.Labels) != len(tt.cluster.Labels):
				t.Errorf("cluster %s has labels %v, want %v", tt.cluster.Name, ref.Cluster.Labels, tt.cluster.Labels)
			}
			for k, v := range tt.cluster.Labels {
				if ref.Cluster.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, ref.Cluster.Labels[k], v)
				}
			}
			// Every cluster that was there still is, in the same region.
			old, err := anyDir.Parse(path, data)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range old.Clusters() {
				if now, ok := ed.Topology.Cluster(r.Cluster.Name); !ok || now.Region != r.Region {
					t.Errorf("cluster %s moved or went missing", r.Cluster.Name)
				}
			}
			if got, want := len(ed.Topology.Clusters()), len(old.Clusters())+1; got != want {
				t.Errorf("%d clusters after the edit, want %d", got, want)
			}
			// The new entry's line is known, for messages.
			if ed.Topology.ClusterLine(tt.cluster.Name) == 0 {
				t.Error("the new cluster has no line")
			}
		})
	}
}

// A file with Windows line breaks gets them on the new lines too.
func TestAddJoinedClusterCRLF(t *testing.T) {
	data := strings.ReplaceAll(`apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: crlf
spec:
  regions:
  - name: us-east1
    clusters:
    - name: a
      kubeconfig:
        context: a
`, "\n", "\r\n")
	ed, err := anyDir.AddJoinedCluster("crlf.yaml", []byte(data), JoinedCluster{Region: "us-east1", Name: "b", Context: "b"})
	if err != nil {
		t.Fatal(err)
	}
	want := data + "    - name: b\r\n      kubeconfig:\r\n        context: b\r\n"
	if string(ed.Data) != want {
		t.Errorf("got %q\nwant %q", ed.Data, want)
	}
}

func TestAddJoinedClusterRefusals(t *testing.T) {
	seed := filepath.Join("..", "..", "manifests", "topology.yaml")
	const header = "apiVersion: geofed.io/v1alpha1\nkind: Topology\nmetadata: {name: x}\n"
	tests := []struct {
		name    string
		file    string // a path, or the file's text after header
		cluster JoinedCluster
		want    string
		dupName bool
	}{
		{
			name:    "unknown region",
			file:    seed,
			cluster: JoinedCluster{Region: "us-est1", Name: "n", Context: "c"},
			want:    `unknown region "us-est1" (did you mean "us-east1"?)`,
		},
		{
			name:    "unknown region without a suggestion",
			file:    seed,
			cluster: JoinedCluster{Region: "mars-north1", Name: "n", Context: "c"},
			want:    `unknown region "mars-north1"`,
		},
		{
			name:    "duplicate name",
			file:    seed,
			cluster: JoinedCluster{Region: "us-east1", Name: "serving-us", Context: "other"},
			want:    `cluster "serving-us" is already in the topology (../../manifests/topology.yaml:82)`,
			dupName: true,
		},
		{
			name:    "duplicate name of a managed cluster",
			file:    seed,
			cluster: JoinedCluster{Region: "europe-west1", Name: "training-us", Context: "other"},
			want:    `cluster "training-us" is already in the topology (../../manifests/topology.yaml:30)`,
			dupName: true,
		},
		{
			name:    "duplicate context and name",
			file:    seed,
			cluster: JoinedCluster{Region: "us-east1", Name: "serving-us", Context: "serving-us"},
			want:    `context "serving-us" is already joined as cluster serving-us (../../manifests/topology.yaml:82)`,
		},
		{
			name:    "duplicate context",
			file:    seed,
			cluster: JoinedCluster{Region: "us-east1", Name: "serving-us-2", Context: "serving-us"},
			want:    `context "serving-us" is already joined as cluster serving-us (../../manifests/topology.yaml:82)`,
		},
		{
			name:    "invalid name",
			file:    seed,
			cluster: JoinedCluster{Region: "us-east1", Name: "Serving_US", Context: "c"},
			want:    `invalid cluster name "Serving_US": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
		},
		{
			name:    "invalid label",
			file:    seed,
			cluster: JoinedCluster{Region: "us-east1", Name: "n", Context: "c", Labels: map[string]string{"role": "a b", LabelRegion: "x"}},
			want: `labels[geofed.io/region]: reserved: geofed sets it to the cluster's region
labels[role]: invalid label value "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
		},
		{
			name:    "invalid file",
			file:    "spec:\n  regions:\n  - name: us-east1\n    clusters:\n    - name: a\n",
			cluster: JoinedCluster{Region: "us-east1", Name: "n", Context: "c"},
			want:    "t.yaml must be a valid topology before a cluster is joined to it:\nt.yaml:8: spec.regions[0].clusters[0]: set one of gke (a managed cluster) or kubeconfig (a joined cluster)",
		},
		{
			name:    "flow list of clusters",
			file:    "spec:\n  regions:\n  - name: us-east1\n    clusters: [{name: a, kubeconfig: {context: a}}]\n",
			cluster: JoinedCluster{Region: "us-east1", Name: "n", Context: "c"},
			want:    "t.yaml:7: spec.regions[0].clusters is written in flow style ([...]); join adds to block lists only: write it as a block list, or add the cluster by hand",
		},
		{
			name:    "flow region",
			file:    "spec:\n  regions:\n  - {name: us-east1, clusters: [{name: a, kubeconfig: {context: a}}]}\n",
			cluster: JoinedCluster{Region: "us-east1", Name: "n", Context: "c"},
			want:    "t.yaml:6: spec.regions[0] is written in flow style ({...}); join adds to block style only: write it as a block, or add the cluster by hand",
		},
		{
			name:    "flow spec",
			file:    "spec: {regions: [{name: us-east1}]}\n",
			cluster: JoinedCluster{Region: "us-west1", Name: "n", Context: "c"},
			want:    "t.yaml:4: spec is written in flow style ({...}); join adds to block style only: write it as a block, or add the cluster by hand",
		},
		{
			name:    "anchored list",
			file:    "spec:\n  regions:\n  - name: us-east1\n    clusters: &shared\n    - name: a\n      kubeconfig: {context: a}\n",
			cluster: JoinedCluster{Region: "us-east1", Name: "n", Context: "c"},
			want:    "t.yaml:7: spec.regions[0].clusters is a YAML anchor or alias: join would change every place it is used; add the cluster by hand",
		},
		{
			name:    "anchored region",
			file:    "spec:\n  regions:\n  - &base\n    name: us-west1\n  - <<: *base\n    name: us-east1\n",
			cluster: JoinedCluster{Region: "us-west1", Name: "n", Context: "c"},
			want:    "t.yaml:6: spec.regions[0] is a YAML anchor or alias: join would change every place it is used; add the cluster by hand",
		},
		{
			name:    "merge key",
			file:    "spec:\n  regions:\n  - &base\n    name: us-west1\n  - <<: *base\n    name: us-east1\n",
			cluster: JoinedCluster{Region: "us-east1", Name: "n", Context: "c"},
			want:    "t.yaml:8: spec.regions[1] takes keys from a YAML merge key (<<): join cannot tell what it holds; add the cluster by hand",
		},
		{
			name:    "no context",
			file:    seed,
			cluster: JoinedCluster{Region: "us-east1", Name: "n"},
			want:    "a kubeconfig context is required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, data := tt.file, []byte(nil)
			if strings.HasSuffix(path, ".yaml") {
				var err error
				if data, err = os.ReadFile(path); err != nil {
					t.Fatal(err)
				}
			} else {
				path, data = "t.yaml", []byte(header+tt.file)
			}
			ed, err := anyDir.AddJoinedCluster(path, data, tt.cluster)
			if err == nil {
				t.Fatalf("AddJoinedCluster succeeded, want %q:\n%s", tt.want, ed.Data)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", err, tt.want)
			}
			var dup *DuplicateNameError
			if got := errors.As(err, &dup); got != tt.dupName {
				t.Errorf("errors.As(err, *DuplicateNameError) = %v, want %v", got, tt.dupName)
			}
		})
	}
}

func TestClusterNameFromContext(t *testing.T) {
	tests := []struct {
		context, want, wantErr string
	}{
		{context: "serving-us", want: "serving-us"},
		{context: "gke_acme-ml_us-west1-b_training-us", want: "gke-acme-ml-us-west1-b-training-us"},
		{context: "arn:aws:eks:us-east-1:123456789012:cluster/Prod", want: "arn-aws-eks-us-east-1-123456789012-cluster-prod"},
		{context: "kind-kind", want: "kind-kind"},
		{context: "admin@Lab.Local", want: "admin-lab-local"},
		{context: "--edge--", want: "edge"},
		{context: "a__b..c", want: "a-b-c"},
		{context: "Ünïcode-ctx", want: "n-code-ctx"},
		{context: "123", want: "123"},
		{context: "___", wantErr: `context "___" has no letters or digits to name a cluster after`},
		{context: "", wantErr: `context "" has no letters or digits to name a cluster after`},
		{context: strings.Repeat("a", 63), want: strings.Repeat("a", 63)},
		{context: strings.Repeat("a", 64), wantErr: `context "` + strings.Repeat("a", 64) + `" makes a cluster name of 64 characters, more than the 63 of a DNS-1123 label`},
	}
	for _, tt := range tests {
		t.Run(tt.context, func(t *testing.T) {
			got, err := ClusterNameFromContext(tt.context)
			switch {
			case tt.wantErr != "":
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("ClusterNameFromContext(%q) = %q, %v; want error %q", tt.context, got, err, tt.wantErr)
				}
			case err != nil || got != tt.want:
				t.Errorf("ClusterNameFromContext(%q) = %q, %v; want %q", tt.context, got, err, tt.want)
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.yaml")
	if err := os.WriteFile(real, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "topology.yaml")
	if err := os.Symlink("real.yaml", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(link, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(real); err != nil || string(b) != "new" {
		t.Errorf("the file the link points at holds %q (%v), want %q", b, err, "new")
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced (%v)", err)
	}
	if fi, err := os.Stat(real); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v (%v), want 0640 kept", fi.Mode().Perm(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("the directory holds %d entries, want the file and the link: no temporary file left", len(entries))
	}
	if err := WriteFile(filepath.Join(dir, "missing.yaml"), []byte("x")); err == nil || !strings.Contains(err.Error(), "writing "+filepath.Join(dir, "missing.yaml")) {
		t.Errorf("WriteFile of a missing file = %v, want an error naming it", err)
	}
}
