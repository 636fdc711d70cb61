package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Flags naming clusters complete from the topology given with -f, the
// region as the description; destroy --clusters offers only GKE clusters
// and completes the last element of a list.
func TestClusterNameCompletion(t *testing.T) {
	file := filepath.Join(t.TempDir(), "topology.yaml")
	if err := os.WriteFile(file, []byte(`apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: t}
spec:
  gke: {project: p}
  regions:
  - name: us-west1
    clusters:
    - name: training-us
      gke: {location: us-west1-b, nodePools: [{name: cpu, machineType: e2-standard-4}]}
  - name: us-east1
    clusters:
    - {name: serving-us, kubeconfig: {context: serving-us}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"render", "-f", file, "--cluster", ""}, []string{"training-us\tus-west1", "serving-us\tus-east1"}},
		{[]string{"destroy", "-f", file, "--clusters", ""}, []string{"training-us\tus-west1"}},
		{[]string{"destroy", "-f", file, "--clusters", "a,"}, []string{"a,training-us\tus-west1"}},
	}
	for _, tt := range tests {
		out, _, err := executeRoot(t, append([]string{"__complete"}, tt.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		got := lines[:len(lines)-1] // the last line is the directive
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%v completes %q, want %q", tt.args, got, tt.want)
		}
	}
}
