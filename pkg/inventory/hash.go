package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// AppliedHash hashes a rendered manifest as it will be applied, leaving out
// the applied-hash annotation itself. encoding/json sorts map keys, so equal
// objects hash equally whatever their construction order.
func AppliedHash(obj *unstructured.Unstructured) (string, error) {
	c := obj.DeepCopy()
	ann := c.GetAnnotations()
	if _, ok := ann[object.AnnotationAppliedHash]; ok {
		delete(ann, object.AnnotationAppliedHash)
		if len(ann) == 0 {
			ann = nil
		}
		c.SetAnnotations(ann)
	}
	b, err := json.Marshal(c.Object)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:16]), nil
}

// FieldsDigest is the digest of manager's Apply entry in the object's
// managedFields, or "" when the manager has none. Another writer that
// changes a field geofed set takes that field out of this entry, so the
// digest moves; writes to fields geofed never set leave it alone.
func FieldsDigest(obj *unstructured.Unstructured, manager string) string {
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager != manager || mf.Operation != "Apply" || mf.FieldsV1 == nil {
			continue
		}
		sum := sha256.Sum256(mf.FieldsV1.Raw)
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
	if gvk := obj.GroupVersionKind(); gvk.Group == "" && gvk.Kind == "Secret" {
		return ""
	}
	return hash
}
