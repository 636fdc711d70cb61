package render

import (
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Sensitive replaces every Secret value in printed output.
const Sensitive = "(sensitive)"

// geofed's applied-hash is, on a Secret, a function of the values, and a
// guessable value could be found from it offline, so printing hides it too.

// lastApplied is kubectl's client-side apply record: on a live Secret it
// holds the values in clear.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

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
	for _, key := range []string{lastApplied, object.AnnotationAppliedHash} {
		if annotations[key] != "" {
			annotations[key] = Sensitive
		}
	}
	if annotations != nil {
		out.SetAnnotations(annotations)
	}
	return out
}
