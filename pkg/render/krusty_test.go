package render

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// wantRendered is the test's own account of what Workload must return:
// kustomize's YAML output for overlay, decoded with apimachinery's YAML
// reader (not the RNode conversion Workload uses), plus only the documented
// changes: the three ownership labels and, when replicas is set, the replica
// field of the scalable kinds. Order is left to the caller.
func wantRendered(t *testing.T, fs filesys.FileSystem, overlay, topology, workload string, replicas *int32) []*unstructured.Unstructured {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, overlay)
	if err != nil {
		t.Fatalf("kustomize %s: %v", overlay, err)
	}
	y, err := m.AsYaml()
	if err != nil {
		t.Fatalf("kustomize %s: %v", overlay, err)
	}
	var out []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(y)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading kustomize output of %s: %v", overlay, err)
		}
		j, err := utilyaml.ToJSON(doc)
		if err != nil {
			t.Fatalf("converting kustomize output of %s: %v", overlay, err)
		}
		if string(bytes.TrimSpace(j)) == "null" {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(j); err != nil {
			t.Fatalf("decoding kustomize output of %s: %v", overlay, err)
		}

		meta := obj.Object["metadata"].(map[string]any)
		labels, _ := meta["labels"].(map[string]any)
		if labels == nil {
			labels = map[string]any{}
			meta["labels"] = labels
		}
		labels["app.kubernetes.io/managed-by"] = "kubectl-geofed"
		labels["geofed.io/topology"] = topology
		labels["geofed.io/workload"] = workload

		if replicas != nil {
			field := ""
			switch obj.GetAPIVersion() + " " + obj.GetKind() {
			case "apps/v1 Deployment", "apps/v1 StatefulSet", "apps/v1 ReplicaSet":
				field = "replicas"
			case "batch/v1 Job":
				field = "parallelism"
			}
			if field != "" {
				spec, _ := obj.Object["spec"].(map[string]any)
				if spec == nil {
					spec = map[string]any{}
					obj.Object["spec"] = spec
				}
				spec[field] = int64(*replicas)
			}
		}
		out = append(out, obj)
	}
	return out
}
