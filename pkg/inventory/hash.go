package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// AppliedHash hashes a rendered manifest as it will be applied, leaving out
// the applied-hash annotation itself. encoding/json sorts map keys, so equal
// objects hash equally whatever their construction order.
func AppliedHash(obj *unstructured.Unstructured) (string, error) {
	b, err := json.Marshal(withoutAppliedHash(obj.Object))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:16]), nil
}

// withoutAppliedHash is obj without the applied-hash annotation, sharing
// everything else with it: only the maps on the way to the annotation are
// copied (a deep copy of every object, only to hash it, was a fifth of a
// large plan's allocations). An annotations map left empty goes, as
// SetAnnotations(nil) would remove it.
func withoutAppliedHash(obj map[string]interface{}) map[string]interface{} {
	md, _ := obj["metadata"].(map[string]interface{})
	ann, _ := md["annotations"].(map[string]interface{})
	if _, ok := ann[object.AnnotationAppliedHash]; !ok {
		return obj
	}
	annCopy := make(map[string]interface{}, len(ann))
	for k, v := range ann {
		if k != object.AnnotationAppliedHash {
			annCopy[k] = v
		}
	}
	mdCopy := make(map[string]interface{}, len(md))
	for k, v := range md {
		mdCopy[k] = v
	}
	if len(annCopy) == 0 {
		delete(mdCopy, "annotations")
	} else {
		mdCopy["annotations"] = annCopy
	}
	out := make(map[string]interface{}, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	out["metadata"] = mdCopy
	return out
}

// FieldsDigest is the digest of manager's Apply entry in the object's
// managedFields, or "" when the manager has none. Another writer that
// changes a field geofed set takes that field out of this entry, so the
// digest moves; writes to fields geofed never set leave it alone. The
// entry is hashed in one canonical form (JSON, keys sorted), so an object
// read whole (JSON) and as metadata (protobuf, the server's own bytes)
// digest alike.
func FieldsDigest(obj metav1.Object, manager string) string {
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager != manager || mf.Operation != metav1.ManagedFieldsOperationApply || mf.FieldsV1 == nil {
			continue
		}
		raw := mf.FieldsV1.Raw
		var v interface{}
		if err := json.Unmarshal(raw, &v); err == nil {
			if canonical, err := json.Marshal(v); err == nil {
				raw = canonical
			}
		}
		sum := sha256.Sum256(raw)
		return "sha256:" + hex.EncodeToString(sum[:16])
	}
	return ""
}

// RecordedHash is the applied-hash the inventory records for obj. A
// Secret's hash is a function of its values, and the inventory is a
// ConfigMap that more people may read than may read Secrets, so it records
// none for Secrets: the hash on the Secret itself (readable only by those
// who may read the values anyway) and geofed's managedFields digest (field
// names, never values) prove a Secret unchanged.
func RecordedHash(obj *unstructured.Unstructured, hash string) string {
	gvk := obj.GroupVersionKind()
	return recordedHash(gvk.Group, gvk.Kind, hash)
}

func recordedHash(group, kind, hash string) string {
	if group == "" && kind == "Secret" {
		return ""
	}
	return hash
}
