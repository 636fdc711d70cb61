package object

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func mk(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
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
		{mk("v1", "ConfigMap", "ml", "trainer-config"), "/ConfigMap/ml/trainer-config"},
		{mk("v1", "Namespace", "", "ml"), "/Namespace//ml"},
		{mk("apps/v1", "Deployment", "ml", "trainer"), "apps/Deployment/ml/trainer"},
		// The version is not part of an object's identity on the server.
		{mk("apps/v1beta2", "Deployment", "ml", "trainer"), "apps/Deployment/ml/trainer"},
		{mk("example.com/v1", "Deployment", "ml", "trainer"), "example.com/Deployment/ml/trainer"},
		{mk("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader"), "rbac.authorization.k8s.io/ClusterRole//reader"},
	}
	for _, tc := range tests {
		if got := KeyOf(tc.obj); got != tc.want {
			t.Errorf("Key(%s %s) = %q, want %q", tc.obj.GetAPIVersion(), tc.obj.GetKind(), got, tc.want)
		}
	}
}

func TestSort(t *testing.T) {
	// In the order Sort must produce.
	want := []*unstructured.Unstructured{
		mk("v1", "Namespace", "", "ml"),
		mk("v1", "Namespace", "", "serving"),
		mk("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "models.acme.io"),
		mk("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "runs.acme.io"),
		// Cluster-scoped objects before namespaced ones.
		mk("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader"),
		mk("storage.k8s.io/v1", "StorageClass", "", "fast"),
		mk("v1", "ConfigMap", "ml", "a"),
		mk("v1", "ConfigMap", "ml", "b"),
		// Same kind and name: group, then version, break the tie.
		mk("apps/v1", "Deployment", "ml", "trainer"),
		mk("example.com/v1", "Deployment", "ml", "trainer"),
		mk("example.com/v2", "Deployment", "ml", "trainer"),
		mk("acme.io/v1", "Model", "ml", "llm"),
		mk("v1", "ServiceAccount", "ml", "trainer"),
		mk("v1", "ConfigMap", "serving", "a"),
		mk("v1", "Secret", "serving", "token"),
		// Namespace decides before kind and name.
		mk("v1", "ConfigMap", "zeta", "0"),
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
		out = append(out, o.GetAPIVersion()+" "+KeyOf(o))
	}
	return out
}
