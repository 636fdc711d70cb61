package inventory

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// Changed says how live differs from the object as geofed applied it,
// by what the entry recorded then, "" when it is as applied: it carries
// the applied-hash the entry records, and geofed's managedFields entry
// still has the recorded digest, so nobody took a field geofed set. It
// needs the object's metadata alone, and no request.
//
// This is the one proof of "as applied": plan takes an object for
// unchanged by it (and by its hash being the one geofed would apply
// now) without a dry-run, and status counts drift by it.
func (e Entry) Changed(live metav1.Object) string {
	hash := live.GetAnnotations()[object.AnnotationAppliedHash]
	switch {
	case recordedHash(e.Group, e.Kind, hash) != e.AppliedHash:
		return "its " + object.AnnotationAppliedHash + " is not the one geofed's inventory records"
	case e.FieldsDigest == "":
		return "geofed's inventory records no managedFields digest for it"
	}
	switch FieldsDigest(live, object.FieldManager) {
	case e.FieldsDigest:
		return ""
	case "":
		return "geofed no longer manages any of its fields"
	}
	return "fields geofed set were changed by another field manager"
}
