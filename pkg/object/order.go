package object

import (
	"cmp"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Apply tiers: Namespaces, then CRDs (what the rest may live in or be an
// instance of), then everything else. Apply waits for each of the first two
// before the next; the API server accepts the rest in any order.
const (
	TierNamespace = iota
	TierCRD
	TierRest
)

// Tier is the apply tier of a kind.
func Tier(group, kind string) int {
	switch {
	case IsNamespace(group, kind):
		return TierNamespace
	case IsCRD(group, kind):
		return TierCRD
	}
	return TierRest
}

// IsNamespace reports whether group/kind is a core Namespace.
func IsNamespace(group, kind string) bool { return group == "" && kind == "Namespace" }

// IsCRD reports whether group/kind is a CustomResourceDefinition.
func IsCRD(group, kind string) bool {
	return group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition"
}

// Prune tiers: the reverse of apply order. Workloads go first (so nothing
// keeps running on config that is about to vanish), then config, services
// and the rest, and Namespaces and CRDs last; each tier is gone before the
// next is deleted.
const (
	PruneWorkloads = iota
	PruneRest
	PruneContainers
)

// PruneTier is the prune tier of a kind.
func PruneTier(group, kind string) int {
	if Tier(group, kind) != TierRest {
		return PruneContainers
	}
	switch group + "/" + kind {
	case "apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "apps/ReplicaSet",
		"batch/Job", "batch/CronJob", "/Pod", "/ReplicationController":
		return PruneWorkloads
	}
	return PruneRest
}

// Compare orders objects for applying and printing: by apply tier, then
// namespace (cluster-scoped first), kind and name; group breaks the
// remaining ties, so two distinct objects never compare equal.
func Compare(groupA, kindA, nsA, nameA, groupB, kindB, nsB, nameB string) int {
	return cmp.Or(
		cmp.Compare(Tier(groupA, kindA), Tier(groupB, kindB)),
		cmp.Compare(nsA, nsB),
		cmp.Compare(kindA, kindB),
		cmp.Compare(nameA, nameB),
		cmp.Compare(groupA, groupB),
	)
}

// Sort orders objects by Compare, then version.
func Sort(objs []*unstructured.Unstructured) {
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int {
		ga, gb := a.GroupVersionKind(), b.GroupVersionKind()
		return cmp.Or(
			Compare(ga.Group, ga.Kind, a.GetNamespace(), a.GetName(), gb.Group, gb.Kind, b.GetNamespace(), b.GetName()),
			cmp.Compare(ga.Version, gb.Version),
		)
	})
}
