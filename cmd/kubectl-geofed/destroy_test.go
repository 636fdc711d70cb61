package main

import (
	"strings"
	"testing"

	"github.com/geofed-io/kubectl-geofed/internal/memfs"
)

func TestDestroyValidate(t *testing.T) {
	tests := []struct {
		name string
		o    DestroyOptions
		want string
	}{
		{"no file", DestroyOptions{}, "a topology file is required"},
		{"--yes without --clusters", DestroyOptions{Filename: "t.yaml", Yes: true}, ""},
		{"--yes with --clusters", DestroyOptions{Filename: "t.yaml", Yes: true, Clusters: []string{"a"}}, ""},
		{"no --yes", DestroyOptions{Filename: "t.yaml"}, ""},
		{"-o json", DestroyOptions{Filename: "t.yaml", printFlags: printFlags{Output: "json"}}, ""},
		{"-o wide", DestroyOptions{Filename: "t.yaml", printFlags: printFlags{Output: "wide"}}, `--output must be json or yaml, not "wide"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.LockTTL = 30e9
			tt.o.fleetFlags = fleetFlags{Refresh: "inventory", RequestTimeout: 1e9, Parallel: 1}
			err := tt.o.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCheckDeletable(t *testing.T) {
	fs := memfs.New(t, map[string]string{"/w/apps/a/kustomization.yaml": "resources: []\n"})
	topo := memfs.Topology(t, fs, "/w/topology.yaml", `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: t}
spec:
  gke: {project: p}
  regions:
  - name: us-west1
    clusters:
    - name: managed
      gke: {location: us-west1-b, nodePools: [{name: cpu, machineType: e2-standard-4}]}
    - name: joined
      kubeconfig: {context: joined}
`)
	tests := []struct {
		names []string
		want  string
	}{
		{[]string{"managed"}, ""},
		{[]string{"joined"}, "--clusters names joined, a joined cluster (/w/topology.yaml:"},
		{[]string{"nope"}, `--clusters names "nope", which is not a cluster of topology.yaml`},
		{[]string{"managed", "managed"}, "--clusters names managed twice"},
	}
	for _, tt := range tests {
		err := checkDeletable(topo, "topology.yaml", tt.names)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v: %v, want nil", tt.names, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%v: %v, want %q", tt.names, err, tt.want)
		}
	}
}
