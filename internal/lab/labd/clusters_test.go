package labd

import (
	"strings"
	"testing"
)

func TestParseCluster(t *testing.T) {
	tests := []struct {
		flag        string
		name        string
		region      string
		nodes, gpus int
		err         string
	}{
		{flag: "serving-us@us-east1", name: "serving-us", region: "us-east1", nodes: 2},
		{flag: "serving-us", name: "serving-us", region: "us-east1", nodes: 2},
		{flag: "train@us-west1:4", name: "train", region: "us-west1", nodes: 6, gpus: 4},
		{flag: "train:2", name: "train", region: "us-east1", nodes: 4, gpus: 2},
		{flag: "train:0", name: "train", region: "us-east1", nodes: 2},
		{flag: "train:x", err: `GPU count "x"`},
		{flag: "train:-1", err: `GPU count "-1"`},
		{flag: "@us-east1", err: "want NAME[@REGION][:GPUS]"},
		{flag: "train@", err: "want NAME[@REGION][:GPUS]"},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			spec, err := ParseCluster(tt.flag)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if spec.Name != tt.name {
				t.Errorf("name %q, want %q", spec.Name, tt.name)
			}
			nodes, gpus := 0, 0
			for _, n := range spec.Nodes {
				nodes += n.Count
				gpus += n.Count * int(n.GPUs)
				if r := n.Labels["topology.kubernetes.io/region"]; r != tt.region {
					t.Errorf("pool %s region %q, want %q", n.Name, r, tt.region)
				}
				if z := n.Labels["topology.kubernetes.io/zone"]; z != tt.region+"-b" {
					t.Errorf("pool %s zone %q, want %q", n.Name, z, tt.region+"-b")
				}
			}
			if nodes != tt.nodes || gpus != tt.gpus {
				t.Errorf("%d nodes with %d GPUs, want %d with %d", nodes, gpus, tt.nodes, tt.gpus)
			}
		})
	}
}
