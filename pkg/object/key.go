package object

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Key identifies an object in a cluster: group/kind/namespace/name, with
// empty segments kept (the core group, cluster-scoped objects), so that two
// objects share a key exactly when they are the same object to the API
// server, whatever their version.
func Key(group, kind, namespace, name string) string {
	return strings.Join([]string{group, kind, namespace, name}, "/")
}

// KeyOf is Key for an object.
func KeyOf(obj *unstructured.Unstructured) string {
	gvk := obj.GroupVersionKind()
	return Key(gvk.Group, gvk.Kind, obj.GetNamespace(), obj.GetName())
}

// Describe names an object the way errors and progress lines do:
// "Deployment ml/trainer", "Namespace ml".
func Describe(obj *unstructured.Unstructured) string {
	return obj.GetKind() + " " + NamespacedName(obj.GetNamespace(), obj.GetName())
}

// Name names an object the way plans print it: [group/]Kind [ns/]name.
func Name(group, kind, namespace, name string) string {
	if group != "" {
		kind = group + "/" + kind
	}
	return kind + " " + NamespacedName(namespace, name)
}

// NamespacedName is ns/name, or name for a cluster-scoped object.
func NamespacedName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
