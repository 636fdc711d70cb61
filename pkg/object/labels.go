package object

// FieldManager is the server-side apply field manager of everything geofed
// applies, its dry-runs and its inventory.
const FieldManager = "kubectl-geofed"

// Ownership labels geofed puts on every object it renders. Plan lists live
// objects by LabelTopology; prune only ever considers objects recorded in the
// inventory that still carry LabelPartOf with the topology's ApplySet id.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy.
	ManagedByValue = FieldManager
	LabelTopology  = "geofed.io/topology"
	LabelWorkload  = "geofed.io/workload"
	// LabelPartOf marks an ApplySet member (KEP-3659); its value is the
	// ApplySet id of the parent (inventory.ID).
	LabelPartOf = "applyset.kubernetes.io/part-of"
	// LabelApplySetID marks an ApplySet parent.
	LabelApplySetID = "applyset.kubernetes.io/id"
)

// AnnotationAppliedHash carries the hash of the manifest geofed applied.
const AnnotationAppliedHash = "geofed.io/applied-hash"

// AnnotationPrune, set to PruneDisabled on a rendered manifest or by hand
// on a live object, keeps the object through prune and destroy: geofed
// shows it as kept and keeps it in its inventory until the annotation goes.
const (
	AnnotationPrune = "geofed.io/prune"
	PruneDisabled   = "disabled"
)

// PruneDisabledOn reports whether annotations ask geofed never to delete
// the object.
func PruneDisabledOn(annotations map[string]string) bool {
	return annotations[AnnotationPrune] == PruneDisabled
}
