package topology

import "testing"

func TestParentPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"spec.regions[0].name", "spec.regions[0]"},
		{"spec.regions[0]", "spec.regions"},
		{"spec", ""},
		{"", ""},
		{"labels[geofed.io/region]", "labels"},
		{"weights[a[b]", "weights[a"},
		{"weights[a[b", "weights[a"},
		{"weights[a", "weights"},
	}
	for _, tt := range tests {
		if got := parentPath(tt.in); got != tt.want {
			t.Errorf("parentPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPositionsLine(t *testing.T) {
	p := positions{"": 1, "spec": 5, "spec.regions[0]": 7, "spec.regions[0].labels[geofed.io/x]": 9}
	tests := []struct {
		path string
		want int
	}{
		{"spec.regions[0]", 7},
		{"spec.regions[0].name", 7},                // missing field: its parent's line
		{"spec.regions[0].labels[geofed.io/x]", 9}, // keys with dots are one element
		{"spec.regions[0].labels[geofed.io/y]", 7}, // nor does a missing key split at its dot
		{"spec.workloads[2].placement.clusterSelector", 5},
		{"metadata.name", 1},
	}
	for _, tt := range tests {
		if got := p.line(tt.path); got != tt.want {
			t.Errorf("line(%q) = %d, want %d", tt.path, got, tt.want)
		}
	}
	if got := (positions{}).line("spec.x"); got != 0 {
		t.Errorf("line in an empty map = %d, want 0", got)
	}
}

func TestClusterPlace(t *testing.T) {
	const src = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: places}
spec:
  regions:
  - name: us-west1
    clusters:
    - name: block
      kubeconfig: {context: block}
    - kubeconfig: {context: name-last}
      labels: {role: serving}
      name: name-last
  - name: europe-west1
    clusters: [{name: flow, kubeconfig: {context: flow}}]
`
	loaded, err := Options{}.Parse("topology.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	built := &Topology{Path: "built.yaml", Spec: loaded.Spec}
	tests := []struct {
		name    string
		top     *Topology
		cluster string
		line    int
		place   string
	}{
		{"block entry", loaded, "block", 8, "topology.yaml:8"},
		{"name written last", loaded, "name-last", 12, "topology.yaml:12"},
		{"flow entry", loaded, "flow", 14, "topology.yaml:14"},
		{"no such cluster", loaded, "nope", 0, "topology.yaml"},
		{"not loaded from a file", built, "block", 0, "built.yaml"},
		{"empty topology", &Topology{}, "block", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.top.ClusterLine(tt.cluster); got != tt.line {
				t.Errorf("ClusterLine(%q) = %d, want %d", tt.cluster, got, tt.line)
			}
			if got := tt.top.ClusterPlace(tt.cluster); got != tt.place {
				t.Errorf("ClusterPlace(%q) = %q, want %q", tt.cluster, got, tt.place)
			}
		})
	}
}
