package placement

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// fleet is a small topology's clusters, deliberately not in region/name
// order, with user labels only: Select must add the implicit ones itself.
func fleet() []Cluster {
	return []Cluster{
		{Name: "training-us", Region: "us-west1", Labels: map[string]string{"role": "training", "gpu": "a100"}},
		{Name: "serving-eu", Region: "europe-west1", Labels: map[string]string{"role": "serving"}},
		{Name: "serving-us", Region: "us-west1", Labels: map[string]string{"role": "serving"}},
		{Name: "training-eu", Region: "europe-west4", Labels: map[string]string{"role": "training"}},
		{Name: "batch-us", Region: "us-central1"},
	}
}

func TestSelect(t *testing.T) {
	tests := []struct {
		name      string
		placement topology.Placement
		clusters  []Cluster
		want      string // selected names in order
		wantErr   string
	}{
		{
			name:      "no selector and no names selects all, by region then name",
			placement: topology.Placement{},
			want:      "serving-eu training-eu batch-us serving-us training-us",
		},
		{
			name:      "empty names list is no list",
			placement: topology.Placement{Clusters: []string{}},
			want:      "serving-eu training-eu batch-us serving-us training-us",
		},
		{
			name:      "matchLabels",
			placement: topology.Placement{ClusterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "training"}}},
			want:      "training-eu training-us",
		},
		{
			name: "matchExpressions",
			placement: topology.Placement{ClusterSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "role", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"training"}},
			}}},
			want: "serving-eu batch-us serving-us",
		},
		{
			name:      "implicit region label",
			placement: topology.Placement{ClusterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{topology.LabelRegion: "us-west1"}}},
			want:      "serving-us training-us",
		},
		{
			name:      "implicit cluster label",
			placement: topology.Placement{ClusterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{topology.LabelCluster: "batch-us"}}},
			want:      "batch-us",
		},
		{
			name: "implicit labels win over a user label of the same key",
			placement: topology.Placement{ClusterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
				topology.LabelRegion: "mars-north1",
			}}},
			clusters: []Cluster{{Name: "liar", Region: "us-west1", Labels: map[string]string{topology.LabelRegion: "mars-north1"}}},
			wantErr:  "placement selects no cluster",
		},
		{
			name:      "empty selector matches everything",
			placement: topology.Placement{ClusterSelector: &metav1.LabelSelector{}},
			want:      "serving-eu training-eu batch-us serving-us training-us",
		},
		{
			name:      "names, returned in region then name order",
			placement: topology.Placement{Clusters: []string{"training-us", "serving-eu"}},
			want:      "serving-eu training-us",
		},
		{
			name:      "selector matching nothing",
			placement: topology.Placement{ClusterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "inference"}}},
			wantErr:   "placement selects no cluster: clusterSelector role=inference matches none of the 5 clusters",
		},
		{
			name:      "unknown name",
			placement: topology.Placement{Clusters: []string{"serving-us", "serving-asia"}},
			wantErr:   `placement.clusters: no cluster named "serving-asia"`,
		},
		{
			name:      "name listed twice",
			placement: topology.Placement{Clusters: []string{"serving-us", "serving-us"}},
			wantErr:   `placement.clusters: "serving-us" listed twice`,
		},
		{
			name: "selector and names together",
			placement: topology.Placement{
				ClusterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "serving"}},
				Clusters:        []string{"serving-us"},
			},
			wantErr: "placement has both clusterSelector and clusters",
		},
		{
			name: "invalid selector",
			placement: topology.Placement{ClusterSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "role", Operator: "Near"},
			}}},
			wantErr: "placement.clusterSelector:",
		},
		{
			name:      "no clusters at all",
			placement: topology.Placement{},
			clusters:  []Cluster{},
			wantErr:   "placement selects no cluster: there are no clusters",
		},
		{
			name:      "a cluster name twice in the input",
			placement: topology.Placement{},
			clusters:  []Cluster{{Name: "a", Region: "us-west1"}, {Name: "a", Region: "us-east1"}},
			wantErr:   `cluster "a" appears twice`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clusters := tt.clusters
			if clusters == nil {
				clusters = fleet()
			}
			got, err := Select(tt.placement, clusters)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Select() error = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Select() error = %v", err)
			}
			var names []string
			for _, c := range got {
				names = append(names, c.Name)
			}
			if g := strings.Join(names, " "); g != tt.want {
				t.Errorf("Select() = %s, want %s", g, tt.want)
			}
		})
	}
}

func TestSelectDoesNotModifyInput(t *testing.T) {
	in := fleet()
	before := fleet()
	if _, err := Select(topology.Placement{}, in); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, before) {
		t.Errorf("Select reordered or changed its input:\n%v\nwant\n%v", in, before)
	}
}

func TestClustersOf(t *testing.T) {
	topo := &topology.Topology{Spec: topology.Spec{Regions: []topology.Region{
		{Name: "us-west1", Clusters: []topology.Cluster{{Name: "training-us", Labels: map[string]string{"role": "training"}}}},
		{Name: "europe-west1", Clusters: []topology.Cluster{{Name: "serving-eu"}}},
	}}}
	want := []Cluster{
		{Name: "training-us", Region: "us-west1", Labels: map[string]string{
			"role": "training", topology.LabelRegion: "us-west1", topology.LabelCluster: "training-us",
		}},
		{Name: "serving-eu", Region: "europe-west1", Labels: map[string]string{
			topology.LabelRegion: "europe-west1", topology.LabelCluster: "serving-eu",
		}},
	}
	if got := ClustersOf(topo); !reflect.DeepEqual(got, want) {
		t.Errorf("ClustersOf() = %#v\nwant %#v", got, want)
	}
}
