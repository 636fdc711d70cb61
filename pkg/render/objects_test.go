package render

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func object(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{}
	o.SetAPIVersion(apiVersion)
	o.SetKind(kind)
	o.SetNamespace(namespace)
	o.SetName(name)
	return o
}

func TestKey(t *testing.T) {
	tests := []struct {
		obj  *unstructured.Unstructured
		want string
	}{
		{object("v1", "ConfigMap", "ml", "trainer-config"), "/ConfigMap/ml/trainer-config"},
		{object("v1", "Namespace", "", "ml"), "/Namespace//ml"},
		{object("apps/v1", "Deployment", "ml", "trainer"), "apps/Deployment/ml/trainer"},
		// The version is not part of an object's identity on the server.
		{object("apps/v1beta2", "Deployment", "ml", "trainer"), "apps/Deployment/ml/trainer"},
		{object("example.com/v1", "Deployment", "ml", "trainer"), "example.com/Deployment/ml/trainer"},
		{object("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader"), "rbac.authorization.k8s.io/ClusterRole//reader"},
	}
	for _, tc := range tests {
		if got := Key(tc.obj); got != tc.want {
			t.Errorf("Key(%s %s) = %q, want %q", tc.obj.GetAPIVersion(), tc.obj.GetKind(), got, tc.want)
		}
	}
}

func TestSort(t *testing.T) {
	// In the order Sort must produce.
	want := []*unstructured.Unstructured{
		object("v1", "Namespace", "", "ml"),
		object("v1", "Namespace", "", "serving"),
		object("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "models.acme.io"),
		object("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "runs.acme.io"),
		// Cluster-scoped objects before namespaced ones.
		object("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader"),
		object("storage.k8s.io/v1", "StorageClass", "", "fast"),
		object("v1", "ConfigMap", "ml", "a"),
		object("v1", "ConfigMap", "ml", "b"),
		// Same kind and name: group, then version, break the tie.
		object("apps/v1", "Deployment", "ml", "trainer"),
		object("example.com/v1", "Deployment", "ml", "trainer"),
		object("example.com/v2", "Deployment", "ml", "trainer"),
		object("acme.io/v1", "Model", "ml", "llm"),
		object("v1", "ServiceAccount", "ml", "trainer"),
		object("v1", "ConfigMap", "serving", "a"),
		object("v1", "Secret", "serving", "token"),
		// Namespace decides before kind and name.
		object("v1", "ConfigMap", "zeta", "0"),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		got := slices.Clone(want)
		r.Shuffle(len(got), func(a, b int) { got[a], got[b] = got[b], got[a] })
		if i == 0 {
			slices.Reverse(got)
		}
		Sort(got)
		if diff := cmp.Diff(keysWithVersion(want), keysWithVersion(got)); diff != "" {
			t.Fatalf("Sort() order (-want +got):\n%s", diff)
		}
	}
}

func keysWithVersion(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetAPIVersion()+" "+Key(o))
	}
	return out
}

func TestRedact(t *testing.T) {
	secret := func(annotations map[string]string) *unstructured.Unstructured {
		o := object("v1", "Secret", "serving", "model-server-token")
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
		o := object("v1", "Secret", "serving", "model-server-token")
		o.Object["type"] = "Opaque"
		o.Object["data"] = map[string]any{"token": "(sensitive)", "ca.crt": "(sensitive)"}
		o.Object["stringData"] = map[string]any{"password": "(sensitive)"}
		o.SetLabels(map[string]string{"app": "model-server"})
		if annotations != nil {
			o.SetAnnotations(annotations)
		}
		return o
	}
	configMap := object("v1", "ConfigMap", "serving", "config")
	configMap.Object["data"] = map[string]any{"token": "not-secret"}
	foreignSecret := object("example.com/v1", "Secret", "serving", "x")
	foreignSecret.Object["data"] = map[string]any{"token": "kept"}
	emptySecret := object("v1", "Secret", "serving", "empty")

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
