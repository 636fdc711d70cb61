package render

import (
	"cmp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Key identifies an object in a cluster: group/kind/namespace/name, with
// empty segments kept (the core group, cluster-scoped objects), so that two
// objects share a key exactly when they are the same object to the API
// server, whatever their version. Callers use it to find two workloads
// rendering the same object into one cluster.
func Key(obj *unstructured.Unstructured) string {
	gvk := obj.GroupVersionKind()
	return strings.Join([]string{gvk.Group, gvk.Kind, obj.GetNamespace(), obj.GetName()}, "/")
}

// Sort orders objects for applying and printing: Namespaces first, then
// CustomResourceDefinitions (what the rest may live in or be an instance
// of), then everything else by namespace (cluster-scoped first), kind and
// name; group and version break the remaining ties so the order is total.
// Apply waits for Namespaces and CRDs before the rest, so no finer kind
// order is needed: the API server accepts the rest in any order.
func Sort(objs []*unstructured.Unstructured) {
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int {
		ga, gb := a.GroupVersionKind(), b.GroupVersionKind()
		return cmp.Or(
			cmp.Compare(tier(ga.Group, ga.Kind), tier(gb.Group, gb.Kind)),
			cmp.Compare(a.GetNamespace(), b.GetNamespace()),
			cmp.Compare(ga.Kind, gb.Kind),
			cmp.Compare(a.GetName(), b.GetName()),
			cmp.Compare(ga.Group, gb.Group),
			cmp.Compare(ga.Version, gb.Version),
		)
	})
}

func tier(group, kind string) int {
	switch {
	case group == "" && kind == "Namespace":
		return 0
	case group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition":
		return 1
	}
	return 2
}

// Sensitive replaces every Secret value in printed output.
const Sensitive = "(sensitive)"

// lastApplied is kubectl's client-side apply record: on a live Secret it
// holds the values in clear.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// appliedHash is geofed's hash of the manifest as applied. On a Secret it is
// a function of the values, and a guessable value could be found from it
// offline, so printing hides it too.
const appliedHash = "geofed.io/applied-hash"

// Redact returns a deep copy of obj fit for printing: for a Secret, every
// value under data and stringData becomes Sensitive (keys stay, so a diff
// still shows which entries change) and a last-applied-configuration
// annotation, which repeats the values, and geofed's applied-hash, which is
// derived from them, are replaced too. Other objects are
// copied unchanged. Never print a Secret without it.
func Redact(obj *unstructured.Unstructured) *unstructured.Unstructured {
	out := obj.DeepCopy()
	gvk := out.GroupVersionKind()
	if gvk.Group != "" || gvk.Kind != "Secret" {
		return out
	}
	for _, field := range []string{"data", "stringData"} {
		values, ok := out.Object[field].(map[string]any)
		if !ok {
			continue
		}
		for k := range values {
			values[k] = Sensitive
		}
	}
	annotations := out.GetAnnotations()
	for _, key := range []string{lastApplied, appliedHash} {
		if annotations[key] != "" {
			annotations[key] = Sensitive
		}
	}
	if annotations != nil {
		out.SetAnnotations(annotations)
	}
	return out
}
