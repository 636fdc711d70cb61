package plan

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/observe"
	"github.com/geofed-io/kubectl-geofed/pkg/prunesafety"
	"github.com/geofed-io/kubectl-geofed/pkg/readerr"
)

// clusterDiffer plans the objects of one reachable cluster.
type clusterDiffer struct {
	topology string
	// partOf is the topology's ApplySet id.
	partOf string
	// conn is the cluster's connection, which observe reads geofed's
	// objects through; client, mapper and discovery are its, for the
	// dry-runs and what they need.
	conn   *member.Conn
	client dynamic.Interface
	mapper meta.RESTMapper
	// discovery lists what a Namespace holds before it is pruned.
	discovery discovery.ServerResourcesInterfaceWithContext
	// full dry-runs every object, ignoring the inventory (--refresh=full).
	full bool
	// unified adds a unified diff to every changed object (--diff).
	unified bool
	// adopt takes over objects of another topology or ApplySet (--adopt).
	adopt bool
	// owned is set by plan: the objects the inventory records that are
	// live and still carry the ApplySet label (Cluster.Owned).
	owned int
}

// plan compares desired with what the cluster holds. It reads the
// inventory and geofed's objects through observe (one GET, then one LIST
// per kind and namespace), and dry-runs only the objects it cannot prove
// unchanged.
func (d *clusterDiffer) plan(ctx context.Context, desired []desired.Object) (objs []Object, invVersion string, err error) {
	read, err := observe.ReadObjects(ctx, d.conn, observe.ObjectsOptions{Topology: d.topology, Desired: desired, Whole: d.full})
	if err != nil {
		return nil, "", err
	}
	inv, live, mappings, unread := read.Inventory, read.Live, read.Mappings, read.Unread

	for _, e := range inv.Entries {
		if l := live[e.Key()]; l != nil && l.GetLabels()[object.LabelPartOf] == d.partOf {
			d.owned++
		}
	}

	desiredKeys := map[string]bool{}
	// missingNS holds the namespaces the server confirmed absent (the
	// Namespace's own dry-run created it): nothing can exist in them yet.
	missingNS := map[string]bool{}
	for _, o := range desired {
		key := object.KeyOf(o.Object)
		desiredKeys[key] = true
		if err := unread[o.Object.GroupVersionKind().GroupKind()]; err != nil {
			objs = append(objs, unreadObject(o, err))
			continue
		}
		obj, err := d.planObject(ctx, o, live[key], inv, mappings, missingNS)
		if err != nil {
			return nil, inv.ResourceVersion, err
		}
		if obj.Action == object.ActionCreate && object.IsNamespace(obj.Group, obj.Kind) && obj.DryRun {
			missingNS[obj.Name] = true
		}
		objs = append(objs, obj)
	}

	prune, err := d.prunes(ctx, inv, live, desiredKeys, unread)
	if err != nil {
		return nil, inv.ResourceVersion, err
	}
	return append(objs, prune...), inv.ResourceVersion, unreadError(unread)
}

// unreadObject is a desired object of a kind whose read failed: neither
// its live state nor its change is known.
func unreadObject(o desired.Object, err error) Object {
	obj := newObject(o, "")
	obj.Action = object.ActionError
	obj.Reason = "not planned: " + readerr.Brief(err)
	return obj
}

// unreadError joins the failed reads, in kind order, or is nil.
func unreadError(unread map[schema.GroupKind]error) error {
	if len(unread) == 0 {
		return nil
	}
	errs := unreadSorted(unread)
	// On one line, as a cluster's error is shown.
	return fmt.Errorf(strings.TrimSuffix(strings.Repeat("%w; ", len(errs)), "; "), errs...)
}

// unreadBrief names the failed reads without their causes, which the
// cluster's error gives.
func unreadBrief(unread map[schema.GroupKind]error) string {
	var parts []string
	for _, err := range unreadSorted(unread) {
		parts = append(parts, readerr.Brief(err.(error)))
	}
	return strings.Join(parts, "; ")
}

func unreadSorted(unread map[schema.GroupKind]error) []any {
	gks := make([]schema.GroupKind, 0, len(unread))
	for gk := range unread {
		gks = append(gks, gk)
	}
	sort.Slice(gks, func(i, j int) bool { return gks[i].String() < gks[j].String() })
	errs := make([]any, len(gks))
	for i, gk := range gks {
		errs[i] = unread[gk]
	}
	return errs
}

// prunes decides what happens to every object the inventory records and
// the topology no longer renders. Only an object that is still geofed's —
// listed live with this ApplySet's part-of label, and the very object geofed
// applied (the UID the inventory recorded) — is deleted. A Namespace or CRD
// whose deletion would take anything else with it is kept. Nothing of a
// kind in unread is deleted (its entries are kept, never forgotten), and
// while any read failed no Namespace or CRD is deleted: what either holds
// is not known.
func (d *clusterDiffer) prunes(ctx context.Context, inv *inventory.Inventory, live map[string]metav1.Object, desiredKeys map[string]bool, unread map[schema.GroupKind]error) ([]Object, error) {
	var out []Object
	deleting := map[types.UID]bool{}
	pruneDisabled := map[string]bool{}
	for _, e := range inv.Entries {
		key := e.Key()
		if desiredKeys[key] {
			continue
		}
		if err := unread[schema.GroupKind{Group: e.Group, Kind: e.Kind}]; err != nil {
			// Whether it is there is not known: kept, and so still
			// recorded (apply forgets what the plan neither deletes nor
			// keeps).
			out = append(out, Object{
				Action: object.ActionKeep, Group: e.Group, Version: e.Version, Kind: e.Kind,
				Namespace: e.Namespace, Name: e.Name, UID: string(e.UID),
				Reason: "kept — " + readerr.Brief(err),
			})
			continue
		}
		l := live[key]
		if l == nil || l.GetLabels()[object.LabelPartOf] != d.partOf {
			// Gone, or no longer carries geofed's labels: nothing to
			// delete, and apply drops it from the inventory.
			continue
		}
		o := Object{
			Group:               e.Group,
			Version:             e.Version,
			Kind:                e.Kind,
			Namespace:           e.Namespace,
			Name:                e.Name,
			Workload:            l.GetLabels()[object.LabelWorkload],
			LiveResourceVersion: l.GetResourceVersion(),
			UID:                 string(l.GetUID()),
		}
		switch {
		case l.GetDeletionTimestamp() != nil:
			o.Action = object.ActionBeingDeleted
			o.Reason = "being deleted"
		case e.UID != "" && e.UID != l.GetUID():
			o.Action = object.ActionAttention
			o.Reason = fmt.Sprintf("not deleted: re-created since geofed applied it (uid %s, now %s); geofed forgets it", e.UID, l.GetUID())
		case object.PruneDisabledOn(l.GetAnnotations()):
			// A person asked, on the manifest or on the live object, that
			// geofed never delete it: recorded until the annotation goes.
			o.Action = object.ActionKeep
			o.Reason = "kept (prune disabled): it carries " + object.AnnotationPrune + ": " + object.PruneDisabled + "; geofed keeps it recorded until the annotation goes"
			pruneDisabled[key] = true
		case e.UID == "" && inventory.FieldsDigest(l, object.FieldManager) == "":
			// Recorded before it was sent, by an apply that never sent it:
			// whoever made this object, it was not geofed.
			o.Action = object.ActionAttention
			o.Reason = "not deleted: geofed never applied it (no kubectl-geofed field manager); geofed forgets it"
		default:
			o.Action = object.ActionDelete
			o.Reason = "applied by geofed, no longer rendered"
			deleting[l.GetUID()] = true
		}
		out = append(out, o)
	}
	safety := prunesafety.Options{Client: d.client, Discovery: d.discovery, Deleting: deleting}
	for i := range out {
		o := &out[i]
		if o.Action != object.ActionDelete {
			continue
		}
		container := object.IsNamespace(o.Group, o.Kind) || object.IsCRD(o.Group, o.Kind)
		if container && len(unread) > 0 {
			o.Action = object.ActionKeep
			o.Reason = "kept — could not tell what else it holds: " + unreadBrief(unread)
			continue
		}
		if !container {
			continue
		}
		held, err := prunesafety.Holdings(ctx, safety, o.Group, o.Kind, o.Name, func(ctx context.Context) (*unstructured.Unstructured, error) {
			return d.fullLive(ctx, live[o.Key()], o.Group, o.Version, o.Kind)
		})
		if err != nil {
			o.Action = object.ActionKeep
			o.Reason = "kept — could not tell what else it holds: " + err.Error()
			continue
		}
		if len(held) > 0 {
			o.Action = object.ActionKeep
			o.Reason = keptReason(held, o.Name, desiredKeys, pruneDisabled)
		}
	}
	sort.Slice(out, func(i, j int) bool { return objectLess(out[i], out[j]) })
	return out, nil
}

// keptReason names what a kept Namespace or CRD still holds, the first few
// in full: first what geofed did not apply, then what geofed still renders
// there (another workload's objects in a shared Namespace), then what it
// keeps because prune is disabled on it.
func keptReason(held []prunesafety.Held, namespace string, desiredKeys, pruneDisabled map[string]bool) string {
	var foreign, ours, disabled []string
	for _, h := range held {
		ns := h.Namespace
		if ns == "" {
			ns = namespace
		}
		switch key := object.Key(h.Group, h.Kind, ns, h.Name); {
		case desiredKeys[key]:
			ours = append(ours, h.String())
		case pruneDisabled[key]:
			disabled = append(disabled, h.String())
		default:
			foreign = append(foreign, h.String())
		}
	}
	var parts []string
	if len(foreign) > 0 {
		parts = append(parts, fmt.Sprintf("%s geofed did not apply: %s", count(len(foreign), "object"), firstFew(foreign)))
	}
	if len(ours) > 0 {
		parts = append(parts, fmt.Sprintf("%s geofed still applies: %s", count(len(ours), "object"), firstFew(ours)))
	}
	if len(disabled) > 0 {
		parts = append(parts, fmt.Sprintf("%s geofed keeps (prune disabled): %s", count(len(disabled), "object"), firstFew(disabled)))
	}
	return "kept — holds " + strings.Join(parts, "; and ")
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func firstFew(names []string) string {
	const show = 5
	if len(names) > show {
		return strings.Join(names[:show], ", ") + fmt.Sprintf(" and %d more", len(names)-show)
	}
	return strings.Join(names, ", ")
}

// joinReasons joins the non-empty reasons with "; ".
func joinReasons(reasons ...string) string {
	var out []string
	for _, r := range reasons {
		if r != "" {
			out = append(out, r)
		}
	}
	return strings.Join(out, "; ")
}

// planObject decides one desired object's action.
func (d *clusterDiffer) planObject(ctx context.Context, o desired.Object, listed metav1.Object, inv *inventory.Inventory, mappings map[schema.GroupKind]*meta.RESTMapping, missingNS map[string]bool) (Object, error) {
	gvk := o.Object.GroupVersionKind()
	out := Object{
		Group:       gvk.Group,
		Version:     gvk.Version,
		Kind:        gvk.Kind,
		Namespace:   o.Object.GetNamespace(),
		Name:        o.Object.GetName(),
		Workload:    o.Workload,
		DesiredHash: printableHash(o),
	}
	if listed != nil {
		out.LiveResourceVersion = listed.GetResourceVersion()
		out.UID = string(listed.GetUID())
		if listed.GetDeletionTimestamp() != nil {
			out.Action = object.ActionBeingDeleted
			out.Reason = "being deleted: apply leaves it alone; re-run apply once it is gone"
			return out, nil
		}
		if !d.full && unchanged(o, listed, inv) {
			out.Action = object.ActionNoop
			return out, nil
		}
	}

	m := mappings[gvk.GroupKind()]
	if m == nil {
		out.Action = object.ActionCreate
		out.Reason = fmt.Sprintf("kind %s is not served by the cluster yet", gvk.GroupKind())
		return out, nil
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace && missingNS[out.Namespace] {
		// The server cannot dry-run into a namespace that does not exist,
		// and the Namespace's own dry-run just showed it does not: nothing
		// can exist in it yet.
		out.Action = object.ActionCreate
		out.Reason = "namespace " + out.Namespace + " does not exist yet"
		return out, nil
	}

	ri := d.client.Resource(m.Resource)
	var rc dynamic.ResourceInterface = ri
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		rc = ri.Namespace(out.Namespace)
	}
	dry, err := rc.Apply(ctx, out.Name, o.Object, metav1.ApplyOptions{FieldManager: object.FieldManager, DryRun: []string{metav1.DryRunAll}})
	out.DryRun = true
	if apierrors.IsConflict(err) {
		// Another manager took fields geofed set (kubectl scale, say).
		// Apply refuses without --force-conflicts; the plan still shows
		// what forcing would change, from a forced dry-run.
		out.Action = object.ActionConflict
		out.Reason = conflictReason(err)
		dry, err = rc.Apply(ctx, out.Name, o.Object, metav1.ApplyOptions{FieldManager: object.FieldManager, DryRun: []string{metav1.DryRunAll}, Force: true})
	}
	if err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) || apierrors.IsNotFound(err) {
			out.Action = object.ActionError
			out.Reason = "server rejected the dry-run: " + apiMessage(err)
			return out, nil
		}
		return out, fmt.Errorf("dry-running %s: %w", object.Describe(o.Object), err)
	}

	// The diff needs the whole live object; a metadata LIST gave its
	// metadata only.
	live, err := d.fullLive(ctx, listed, gvk.Group, gvk.Version, gvk.Kind)
	if err != nil {
		return out, err
	}
	if live != nil {
		out.LiveResourceVersion = live.GetResourceVersion()
		out.UID = string(live.GetUID())
	}
	if live == nil {
		if dry.GetResourceVersion() == "" {
			out.Action = object.ActionCreate
			return out, nil
		}
		// It exists without geofed's labels: apply adopts it. One GET for
		// the diff; rare, so not worth a LIST of everything.
		live, err = rc.Get(ctx, out.Name, metav1.GetOptions{})
		if err != nil {
			return out, fmt.Errorf("reading %s: %w", object.Describe(o.Object), err)
		}
		out.LiveResourceVersion = live.GetResourceVersion()
		out.UID = string(live.GetUID())
		if live.GetDeletionTimestamp() != nil {
			out.Action = object.ActionBeingDeleted
			out.Reason = "being deleted: apply leaves it alone; re-run apply once it is gone"
			return out, nil
		}
		adopting := "exists, not applied by geofed: apply adopts it"
		if owner := d.ownerElsewhere(live); owner != "" {
			if !d.adopt {
				out.Action = object.ActionForeign
				out.Reason = "belongs to " + owner + ": apply takes it only with --adopt"
				return out, nil
			}
			adopting = "adopted from " + owner + " (--adopt)"
		}
		// A conflict's reason names the other manager; keep it.
		out.Reason = joinReasons(adopting, out.Reason)
	}

	// Compare only what geofed's apply can change: the fields in its
	// managed set, before or after. Everything else (a controller's
	// annotations, defaults, other managers' fields) is not geofed's to show.
	set, err := managedSet(object.FieldManager, live, dry)
	if err != nil {
		return out, err
	}
	before, after := restrict(comparable(live), set), restrict(comparable(dry), set)
	secret := gvk.Group == "" && gvk.Kind == "Secret"
	out.Changes = fieldChanges(before, after, secret)
	if len(out.Changes) == 0 && out.Action != object.ActionConflict {
		out.Action = object.ActionNoop
		return out, nil
	}
	if out.Action != object.ActionConflict {
		out.Action = object.ActionUpdate
	}
	if out.Reason == "" {
		if live.GetAnnotations()[object.AnnotationAppliedHash] == o.Hash {
			out.Reason = "changed outside geofed"
		}
	}
	if d.unified {
		out.Diff, err = unifiedDiff(before, after, secret, object.Describe(o.Object))
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// ownerElsewhere names the other topology or ApplySet a live object
// belongs to, or "" when it is this topology's or nobody's.
func (d *clusterDiffer) ownerElsewhere(live *unstructured.Unstructured) string {
	labels := live.GetLabels()
	if t := labels[object.LabelTopology]; t != "" && t != d.topology {
		return "topology " + t
	}
	if id := labels[object.LabelPartOf]; id != "" && id != d.partOf {
		return "another ApplySet (" + id + ")"
	}
	return ""
}

// printableHash is the desired hash as plans show and save it. A Secret's
// hash is a function of its values, which could be guessed from it offline:
// plans leave it out, and apply checks a Secret against the live object and
// the plan's source digest instead.
func printableHash(o desired.Object) string {
	if gvk := o.Object.GroupVersionKind(); gvk.Group == "" && gvk.Kind == "Secret" {
		return ""
	}
	return o.Hash
}

// unchanged is the inventory shortcut: the live object carries the hash of
// the manifest geofed would apply, and is as geofed applied it
// (inventory.Entry.Changed).
func unchanged(o desired.Object, live metav1.Object, inv *inventory.Inventory) bool {
	if live.GetAnnotations()[object.AnnotationAppliedHash] != o.Hash {
		return false
	}
	e, ok := inv.Lookup(object.KeyOf(o.Object))
	return ok && e.Changed(live) == ""
}

// fullLive returns the whole live object of one listed: itself when the
// LIST gave whole objects, else read with a GET. It returns nil when
// nothing was listed, or the object is gone since.
func (d *clusterDiffer) fullLive(ctx context.Context, listed metav1.Object, group, version, kind string) (*unstructured.Unstructured, error) {
	if listed == nil {
		return nil, nil
	}
	if u, ok := listed.(*unstructured.Unstructured); ok {
		return u, nil
	}
	what := object.Key(group, kind, listed.GetNamespace(), listed.GetName())
	m, err := d.mapper.RESTMapping(schema.GroupKind{Group: group, Kind: kind}, version)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	var rc dynamic.ResourceInterface = d.client.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		rc = d.client.Resource(m.Resource).Namespace(listed.GetNamespace())
	}
	u, err := rc.Get(ctx, listed.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	return u, nil
}

// comparable strips what the server owns, so live and dry-run compare on
// what a user wrote: the same fields kubectl diff leaves out.
func comparable(obj *unstructured.Unstructured) map[string]interface{} {
	c := obj.DeepCopy().Object
	delete(c, "status")
	if md, ok := c["metadata"].(map[string]interface{}); ok {
		for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"} {
			delete(md, f)
		}
	}
	return c
}

// conflictReason names the managers that own the conflicting fields.
func conflictReason(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		if details := se.Status().Details; details != nil {
			// One cause per conflicting field: name each manager once.
			var parts []string
			seen := map[string]bool{}
			for _, c := range details.Causes {
				m := strings.TrimSpace(c.Message)
				if !seen[m] {
					seen[m] = true
					parts = append(parts, m)
				}
			}
			if len(parts) > 0 {
				return strings.Join(parts, "; ") + ": apply needs --force-conflicts to take these fields back"
			}
		}
	}
	return apiMessage(err) + ": apply needs --force-conflicts to take these fields back"
}

func apiMessage(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) && se.Status().Message != "" {
		return se.Status().Message
	}
	return err.Error()
}

// objectLess orders objects as plans list them (object.Compare).
func objectLess(a, b Object) bool {
	return object.Compare(a.Group, a.Kind, a.Namespace, a.Name, b.Group, b.Kind, b.Namespace, b.Name) < 0
}
