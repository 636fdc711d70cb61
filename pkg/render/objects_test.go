package render

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func newObject(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{}
	o.SetAPIVersion(apiVersion)
	o.SetKind(kind)
	o.SetNamespace(namespace)
	o.SetName(name)
	return o
}

func TestRedact(t *testing.T) {
	secret := func(annotations map[string]string) *unstructured.Unstructured {
		o := newObject("v1", "Secret", "serving", "model-server-token")
		o.Object["type"] = "Opaque"
		o.Object["data"] = map[string]any{"token": "cGxhY2Vob2xkZXI=", "ca.crt": "LS0tLS1CRUdJTg=="}
		o.Object["stringData"] = map[string]any{"password": "hunter2"}
		o.SetLabels(map[string]string{"app": "model-server"})
		if annotations != nil {
			o.SetAnnotations(annotations)
		}
		return o
	}
	redacted := func(annotations map[string]string) *unstructured.Unstructured {
		o := newObject("v1", "Secret", "serving", "model-server-token")
		o.Object["type"] = "Opaque"
		o.Object["data"] = map[string]any{"token": "(sensitive)", "ca.crt": "(sensitive)"}
		o.Object["stringData"] = map[string]any{"password": "(sensitive)"}
		o.SetLabels(map[string]string{"app": "model-server"})
		if annotations != nil {
			o.SetAnnotations(annotations)
		}
		return o
	}
	configMap := newObject("v1", "ConfigMap", "serving", "config")
	configMap.Object["data"] = map[string]any{"token": "not-secret"}
	foreignSecret := newObject("example.com/v1", "Secret", "serving", "x")
	foreignSecret.Object["data"] = map[string]any{"token": "kept"}
	emptySecret := newObject("v1", "Secret", "serving", "empty")

	tests := []struct {
		name string
		in   *unstructured.Unstructured
		want *unstructured.Unstructured
	}{
		{"secret values", secret(nil), redacted(nil)},
		{
			"last-applied-configuration repeats the values",
			secret(map[string]string{
				"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"token":"cGxhY2Vob2xkZXI="}}`,
				"note": "kept",
			}),
			redacted(map[string]string{
				"kubectl.kubernetes.io/last-applied-configuration": "(sensitive)",
				"note": "kept",
			}),
		},
		{"secret without data", emptySecret, emptySecret.DeepCopy()},
		{"other kinds are copied unchanged", configMap, configMap.DeepCopy()},
		{"a Secret kind of another group is not a Secret", foreignSecret, foreignSecret.DeepCopy()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.in.DeepCopy()
			got := Redact(tc.in)
			if diff := cmp.Diff(tc.want.Object, got.Object); diff != "" {
				t.Errorf("Redact() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before.Object, tc.in.Object); diff != "" {
				t.Errorf("Redact() changed its input (-before +after):\n%s", diff)
			}
			// A deep copy: changing the result leaves the input alone.
			got.SetName("changed")
			if tc.in.GetName() == "changed" {
				t.Error("Redact() returned its input, not a copy")
			}
		})
	}
}
