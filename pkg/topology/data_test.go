package topology

import (
	"testing"
)

func TestDataUses(t *testing.T) {
	src := `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: demo
spec:
  regions:
  - name: europe-west4
    clusters:
    - name: eu
      kubeconfig: {context: eu}
  workloads:
  - name: train
    source: apps/trainer
    placement:
      replicas:
        total: 2
        divideBy: locality
        near: gs://ckpt/run1
      data: [gs://corpus/en]
  - name: web
    source: apps/web
    placement:
      replicas: {total: 1, divideBy: locality, near: europe-west4}
`
	top, err := Options{IsDir: func(string) bool { return true }}.Parse("topo.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := top.DataUses()
	want := []DataUse{
		{Workload: "train", URL: "gs://ckpt/run1", Field: "spec.workloads[0].placement.replicas.near", Place: "topo.yaml:18"},
		{Workload: "train", URL: "gs://corpus/en", Field: "spec.workloads[0].placement.data[0]", Place: "topo.yaml:19"},
	}
	if len(got) != len(want) {
		t.Fatalf("DataUses() = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("DataUses()[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestBucketOf(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"gs://ckpt/run1/shard", "ckpt"},
		{"gs://ckpt", "ckpt"},
		{"gs:///x", ""},
	} {
		if got := BucketOf(tc.url); got != tc.want {
			t.Errorf("BucketOf(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}
