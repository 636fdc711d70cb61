package topology

import (
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fleet is two regions with three clusters, for selection cases.
func fleet() *Topology {
	return &Topology{Path: filepath.Join("conf", "topology.yaml"), Spec: Spec{Regions: []Region{
		{Name: "us-west1", Clusters: []Cluster{
			{Name: "train-us", Labels: map[string]string{"role": "training"}},
			{Name: "serve-us", Labels: map[string]string{"role": "serving"}},
		}},
		{Name: "europe-west1", Clusters: []Cluster{
			{Name: "train-eu", Labels: map[string]string{"role": "training", "tier": "spot"}},
		}},
	}}}
}

func TestSelects(t *testing.T) {
	tests := []struct {
		name    string
		p       Placement
		want    []string // selected cluster names, in file order
		wantErr bool
	}{
		{name: "neither selects all", p: Placement{}, want: []string{"train-us", "serve-us", "train-eu"}},
		{name: "empty selector selects all", p: Placement{ClusterSelector: &metav1.LabelSelector{}}, want: []string{"train-us", "serve-us", "train-eu"}},
		{
			name: "matchLabels",
			p:    Placement{ClusterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "training"}}},
			want: []string{"train-us", "train-eu"},
		},
		{
			name: "implicit region label",
			p:    Placement{ClusterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelRegion: "us-west1"}}},
			want: []string{"train-us", "serve-us"},
		},
		{
			name: "implicit cluster label",
			p:    Placement{ClusterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelCluster: "train-eu"}}},
			want: []string{"train-eu"},
		},
		{
			name: "matchExpressions",
			p: Placement{ClusterSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "role", Operator: metav1.LabelSelectorOpIn, Values: []string{"training"}},
				{Key: "tier", Operator: metav1.LabelSelectorOpDoesNotExist},
			}}},
			want: []string{"train-us"},
		},
		{name: "explicit list", p: Placement{Clusters: []string{"train-eu", "serve-us"}}, want: []string{"serve-us", "train-eu"}},
		{name: "list naming nothing known", p: Placement{Clusters: []string{"elsewhere"}}, want: nil},
		{
			name:    "both is an error",
			p:       Placement{Clusters: []string{"train-us"}, ClusterSelector: &metav1.LabelSelector{}},
			wantErr: true,
		},
		{
			name: "invalid selector is an error",
			p: Placement{ClusterSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "role", Operator: "in", Values: []string{"training"}},
			}}},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, ref := range fleet().Clusters() {
				ok, err := tt.p.Selects(ref)
				if tt.wantErr {
					if err == nil {
						t.Fatalf("Selects(%s) succeeded, want an error", ref.Cluster.Name)
					}
					return
				}
				if err != nil {
					t.Fatalf("Selects(%s): %v", ref.Cluster.Name, err)
				}
				if ok {
					got = append(got, ref.Cluster.Name)
				}
			}
			if tt.wantErr {
				t.Fatal("no cluster to select")
			}
			if len(got) != len(tt.want) {
				t.Fatalf("selected %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("selected %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestCluster(t *testing.T) {
	top := fleet()
	ref, ok := top.Cluster("train-eu")
	if !ok || ref.Region != "europe-west1" || ref.Cluster.Name != "train-eu" {
		t.Fatalf("Cluster(train-eu) = %+v, %v", ref, ok)
	}
	// The ref points into the topology, so callers see (and make) changes.
	if ref.Cluster != &top.Spec.Regions[1].Clusters[0] {
		t.Error("Cluster returned a copy, not the topology's cluster")
	}
	if _, ok := top.Cluster("nope"); ok {
		t.Error("Cluster(nope) found something")
	}
}

func TestDirAndSourceDir(t *testing.T) {
	top := fleet()
	if got := top.Dir(); got != "conf" {
		t.Errorf("Dir() = %q, want conf", got)
	}
	abs := filepath.Join(string(filepath.Separator), "srv", "apps", "web")
	tests := []struct{ source, want string }{
		{"apps/trainer", filepath.Join("conf", "apps", "trainer")},
		{"./apps/trainer/", filepath.Join("conf", "apps", "trainer")},
		{"../shared/app", filepath.Join("shared", "app")},
		{abs, abs},
	}
	for _, tt := range tests {
		if got := top.SourceDir(&Workload{Source: tt.source}); got != tt.want {
			t.Errorf("SourceDir(%q) = %q, want %q", tt.source, got, tt.want)
		}
	}
}
