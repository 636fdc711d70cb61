package status

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// driftInput is what counting one cluster's drift looks at.
type driftInput struct {
	// entries are the cluster's inventory.
	entries []inventory.Entry
	// live holds geofed's live objects by object.KeyOf.
	live map[string]*unstructured.Unstructured
	// desired are the objects geofed renders for the cluster now;
	// desiredKnown is false when placement could not be computed.
	desired      []desired.Object
	desiredKnown bool
	// planned is plan's full dry-run of the cluster, nil without
	// --refresh=full.
	planned *plan.Cluster
}

// driftOf lists the objects geofed applied (the inventory recorded their
// UID) that changed outside geofed since:
//
//   - gone, while geofed still renders them (one geofed no longer renders
//     is pruned anyway);
//   - re-created under the same name (another UID);
//   - carrying another applied-hash than the inventory records, or a
//     managedFields entry of geofed's whose digest moved (another writer
//     took fields geofed set: kubectl scale, kubectl set image).
//
// That needs no dry-run. With plan's full dry-run it is exact: an object
// the dry-run finds unchanged is not drifted, one whose fields another
// manager owns is, and so is one that differs from the manifest geofed
// applied and still renders. (Where the topology changed since the apply,
// the dry-run mixes drift with the new manifest; the inventory decides.)
func driftOf(in driftInput) Drift {
	rendered := map[string]desired.Object{}
	for _, d := range in.desired {
		rendered[object.KeyOf(d.Object)] = d
	}
	planned := map[string]plan.Object{}
	if in.planned != nil {
		for _, o := range in.planned.Objects {
			planned[o.Key()] = o
		}
	}
	var out []DriftedObject
	for _, e := range in.entries {
		if e.UID == "" {
			// Recorded before it was sent, by an apply that never sent it.
			continue
		}
		key := e.Key()
		live := in.live[key]
		d, stillRendered := rendered[key]
		reason := ""
		if po, ok := planned[key]; ok && live != nil && po.DryRun {
			switch {
			case po.Action == object.ActionNoop:
				continue
			case po.Action == object.ActionConflict:
				reason = po.Reason
			case po.Action == object.ActionUpdate && stillRendered && live.GetAnnotations()[object.AnnotationAppliedHash] == d.Hash:
				reason = changedFields(po.Changes)
			}
		}
		if reason == "" {
			reason = sinceApplied(e, live, stillRendered)
		}
		if reason == "" {
			continue
		}
		workload := ""
		if live != nil {
			workload = live.GetLabels()[object.LabelWorkload]
		}
		out = append(out, DriftedObject{Group: e.Group, Version: e.Version, Kind: e.Kind, Namespace: e.Namespace, Name: e.Name, Workload: workload, Reason: reason})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return object.Compare(a.Group, a.Kind, a.Namespace, a.Name, b.Group, b.Kind, b.Namespace, b.Name) < 0
	})
	return Drift{Count: len(out), Objects: out}
}

// sinceApplied says how the live object differs from what the inventory
// recorded when geofed applied it, "" when it does not: the same object
// (its UID), and as applied by the proof plan takes an object as unchanged
// by without a dry-run (inventory.Entry.Changed), without plan's
// comparison with what geofed would apply now. Gone counts only when
// geofed still renders the object.
func sinceApplied(e inventory.Entry, live *unstructured.Unstructured, stillRendered bool) string {
	switch {
	case live == nil:
		if stillRendered {
			return "deleted since geofed applied it, or no longer labelled " + object.LabelTopology
		}
		return ""
	case live.GetDeletionTimestamp() != nil:
		// Neither drifted nor as applied: readiness says "being deleted".
		return ""
	case live.GetUID() != e.UID:
		return "re-created since geofed applied it (another UID)"
	}
	return e.Changed(live)
}

// changedFields names the fields a dry-run found changed, never their
// values.
func changedFields(changes []plan.FieldChange) string {
	paths := make([]string, len(changes))
	for i, c := range changes {
		paths[i] = c.Path
	}
	return "changed outside geofed: " + strings.Join(paths, ", ")
}
