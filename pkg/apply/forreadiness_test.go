package apply

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/readiness"
)

// TestForReadiness checks that stripping a server's response keeps every
// readiness verdict and drops the bulk: managedFields, annotations, data
// and pod templates.
func TestForReadiness(t *testing.T) {
	const managed = `  managedFields:
  - manager: kubectl-geofed
    operation: Apply
    fieldsType: FieldsV1
    fieldsV1: {"f:data": {}}
  annotations: {geofed.io/applied-hash: "sha256:0"}
`
	for _, tt := range []struct {
		name, yaml string
		ready      bool
	}{
		{"configmap", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: n\n" + managed + "data: {k: v}\n", true},
		{"deployment available", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
  namespace: n
  generation: 2
` + managed + `spec:
  replicas: 2
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec: {containers: [{name: app, image: x}]}
status:
  observedGeneration: 2
  replicas: 2
  updatedReplicas: 2
  readyReplicas: 2
  availableReplicas: 2
  conditions:
  - {type: Available, status: "True"}
  - {type: Progressing, status: "True", reason: NewReplicaSetAvailable}
`, true},
		{"deployment rolling", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
  namespace: n
  generation: 3
` + managed + `spec:
  replicas: 2
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec: {containers: [{name: app, image: x}]}
status:
  observedGeneration: 2
  replicas: 2
`, false},
		{"statefulset partitioned", `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: s
  namespace: n
  generation: 1
` + managed + `spec:
  replicas: 3
  selector: {matchLabels: {app: s}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}
  template:
    metadata: {labels: {app: s}}
    spec: {containers: [{name: app, image: x}]}
status:
  observedGeneration: 1
  replicas: 3
  readyReplicas: 3
  currentReplicas: 3
  updatedReplicas: 2
`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// As the server's JSON decodes: integers as int64.
			j, err := yaml.YAMLToJSON([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			obj := &unstructured.Unstructured{}
			if err := obj.UnmarshalJSON(j); err != nil {
				t.Fatal(err)
			}
			before := readiness.Of(obj.DeepCopy(), nil)
			if before.Ready != tt.ready {
				t.Fatalf("whole: %+v, want ready %v (a bad case)", before, tt.ready)
			}
			got := forReadiness(obj)
			if after := readiness.Of(got, nil); after != before {
				t.Errorf("stripped: %+v, whole: %+v", after, before)
			}
			if got.GetManagedFields() != nil || got.GetAnnotations() != nil || got.Object["data"] != nil {
				t.Errorf("kept managedFields, annotations or data: %v", got.Object)
			}
			if _, found, _ := unstructured.NestedMap(got.Object, "spec", "template", "spec"); found {
				t.Errorf("kept the pod template's spec")
			}
			if sel, found, _ := unstructured.NestedMap(got.Object, "spec", "selector"); obj.GetKind() != "ConfigMap" && (!found || len(sel) == 0) {
				t.Errorf("dropped the selector that pods are listed by")
			}
		})
	}
}
