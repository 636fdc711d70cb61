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
	"k8s.io/client-go/dynamic"

	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/render"
)

// clusterDiffer plans the objects of one reachable cluster.
type clusterDiffer struct {
	topology string
	client   dynamic.Interface
	mapper   meta.RESTMapper
	// full dry-runs every object, ignoring the inventory (--refresh=full).
	full bool
	// unified adds a unified diff to every changed object (--diff).
	unified bool
}

// listKey is one LIST the differ makes: a resource in a namespace ("" for
// cluster-scoped kinds or all of them).
type listKey struct {
	gvr       schema.GroupVersionResource
	namespace string
}

// plan compares desired with what the cluster holds. It reads the inventory
// (one GET), lists geofed's objects once per kind and namespace, and
// dry-runs only the objects it cannot prove unchanged.
func (d *clusterDiffer) plan(ctx context.Context, desired []DesiredObject) (objs []Object, invVersion string, err error) {
	inv, err := inventory.Read(ctx, d.client, d.topology)
	if err != nil {
		return nil, "", err
	}
	partOf := inventory.ID(d.topology)

	// What to list: every kind and namespace geofed renders now or applied
	// before, so leftovers of removed workloads are found too.
	type want struct {
		gk        schema.GroupKind
		version   string
		namespace string
	}
	var wants []want
	for _, o := range desired {
		gvk := o.Object.GroupVersionKind()
		wants = append(wants, want{gvk.GroupKind(), gvk.Version, o.Object.GetNamespace()})
	}
	for _, e := range inv.Entries {
		wants = append(wants, want{schema.GroupKind{Group: e.Group, Kind: e.Kind}, e.Version, e.Namespace})
	}
	mappings := map[schema.GroupKind]*meta.RESTMapping{}
	lists := map[listKey]bool{}
	for _, w := range wants {
		m, ok := mappings[w.gk]
		if !ok {
			m, err = d.mapper.RESTMapping(w.gk, w.version)
			if err != nil {
				// A kind the cluster does not serve yet (its CRD is part of
				// this plan, say): nothing of it can be live.
				mappings[w.gk] = nil
				continue
			}
			mappings[w.gk] = m
		}
		if m == nil {
			continue
		}
		ns := w.namespace
		if m.Scope.Name() != meta.RESTScopeNameNamespace {
			ns = ""
		}
		lists[listKey{m.Resource, ns}] = true
	}

	live := map[string]*unstructured.Unstructured{}
	for _, lk := range sortedListKeys(lists) {
		list, err := d.client.Resource(lk.gvr).Namespace(lk.namespace).List(ctx, metav1.ListOptions{
			LabelSelector: render.LabelTopology + "=" + d.topology,
		})
		if err != nil {
			where := lk.gvr.String()
			if lk.namespace != "" {
				where += " in namespace " + lk.namespace
			}
			return nil, inv.ResourceVersion, fmt.Errorf("listing %s: %w", where, err)
		}
		for i := range list.Items {
			item := &list.Items[i]
			live[inventory.ObjectKey(item)] = item
		}
	}

	creatingNS := map[string]bool{}
	desiredKeys := map[string]bool{}
	for _, o := range desired {
		if o.Object.GetKind() == "Namespace" && o.Object.GroupVersionKind().Group == "" {
			if _, exists := live[inventory.ObjectKey(o.Object)]; !exists {
				creatingNS[o.Object.GetName()] = true
			}
		}
	}

	for _, o := range desired {
		key := inventory.ObjectKey(o.Object)
		desiredKeys[key] = true
		obj, err := d.planObject(ctx, o, live[key], inv, mappings, creatingNS)
		if err != nil {
			return nil, inv.ResourceVersion, err
		}
		objs = append(objs, obj)
	}

	// Prune: what geofed applied here (it carries this ApplySet's part-of
	// label) and no longer renders. Objects labelled for the topology but
	// not part of its ApplySet were not applied by geofed: never touched.
	var prune []Object
	for key, l := range live {
		if desiredKeys[key] || l.GetLabels()[inventory.LabelPartOf] != partOf {
			continue
		}
		gvk := l.GroupVersionKind()
		prune = append(prune, Object{
			Action:              ActionDelete,
			Group:               gvk.Group,
			Version:             gvk.Version,
			Kind:                gvk.Kind,
			Namespace:           l.GetNamespace(),
			Name:                l.GetName(),
			Workload:            l.GetLabels()[render.LabelWorkload],
			LiveResourceVersion: l.GetResourceVersion(),
			Reason:              "applied by geofed, no longer rendered",
		})
	}
	sort.Slice(prune, func(i, j int) bool { return objectLess(prune[i], prune[j]) })
	return append(objs, prune...), inv.ResourceVersion, nil
}

// planObject decides one desired object's action.
func (d *clusterDiffer) planObject(ctx context.Context, o DesiredObject, live *unstructured.Unstructured, inv *inventory.Inventory, mappings map[schema.GroupKind]*meta.RESTMapping, creatingNS map[string]bool) (Object, error) {
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
	if live != nil {
		out.LiveResourceVersion = live.GetResourceVersion()
		if !d.full && unchanged(o, live, inv) {
			out.Action = ActionNoop
			return out, nil
		}
	}

	m := mappings[gvk.GroupKind()]
	if m == nil {
		out.Action = ActionCreate
		out.Reason = fmt.Sprintf("kind %s is not served by the cluster yet", gvk.GroupKind())
		return out, nil
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace && creatingNS[out.Namespace] {
		// The server cannot dry-run into a namespace that does not exist;
		// everything in it is new.
		out.Action = ActionCreate
		out.Reason = "namespace " + out.Namespace + " is created by this plan"
		return out, nil
	}

	ri := d.client.Resource(m.Resource)
	var rc dynamic.ResourceInterface = ri
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		rc = ri.Namespace(out.Namespace)
	}
	dry, err := rc.Apply(ctx, out.Name, o.Object, metav1.ApplyOptions{FieldManager: inventory.FieldManager, DryRun: []string{metav1.DryRunAll}})
	out.DryRun = true
	if apierrors.IsConflict(err) {
		// Another manager took fields geofed set (kubectl scale, say).
		// Apply refuses without --force-conflicts; the plan still shows
		// what forcing would change, from a forced dry-run.
		out.Action = ActionConflict
		out.Reason = conflictReason(err)
		dry, err = rc.Apply(ctx, out.Name, o.Object, metav1.ApplyOptions{FieldManager: inventory.FieldManager, DryRun: []string{metav1.DryRunAll}, Force: true})
	}
	if err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) || apierrors.IsNotFound(err) {
			out.Action = ActionError
			out.Reason = "server rejected the dry-run: " + apiMessage(err)
			return out, nil
		}
		return out, fmt.Errorf("dry-running %s: %w", describe(o.Object), err)
	}

	if live == nil {
		if dry.GetResourceVersion() == "" {
			out.Action = ActionCreate
			return out, nil
		}
		// It exists without geofed's labels: apply adopts it. One GET for
		// the diff; rare, so not worth a LIST of everything.
		live, err = rc.Get(ctx, out.Name, metav1.GetOptions{})
		if err != nil {
			return out, fmt.Errorf("reading %s: %w", describe(o.Object), err)
		}
		out.LiveResourceVersion = live.GetResourceVersion()
		out.Reason = "exists, not applied by geofed: apply adopts it"
	}

	before, after := comparable(live), comparable(dry)
	secret := gvk.Group == "" && gvk.Kind == "Secret"
	out.Changes = fieldChanges(before, after, secret)
	if len(out.Changes) == 0 && out.Action != ActionConflict {
		out.Action = ActionNoop
		return out, nil
	}
	if out.Action != ActionConflict {
		out.Action = ActionUpdate
	}
	if out.Reason == "" {
		if live.GetAnnotations()[inventory.AnnotationAppliedHash] == o.Hash {
			out.Reason = "changed outside geofed"
		}
	}
	if d.unified {
		out.Diff, err = unifiedDiff(before, after, secret, describe(o.Object))
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// printableHash is the desired hash as plans show and save it. A Secret's
// hash is a function of its values, which could be guessed from it offline:
// plans leave it out, and apply checks a Secret against the live object and
// the plan's source digest instead.
func printableHash(o DesiredObject) string {
	if gvk := o.Object.GroupVersionKind(); gvk.Group == "" && gvk.Kind == "Secret" {
		return ""
	}
	return o.Hash
}

// unchanged is the inventory shortcut: the live object carries the hash of
// the manifest geofed would apply, and geofed's managedFields entry is as
// geofed left it, so nobody took a field geofed set.
func unchanged(o DesiredObject, live *unstructured.Unstructured, inv *inventory.Inventory) bool {
	if live.GetAnnotations()[inventory.AnnotationAppliedHash] != o.Hash {
		return false
	}
	e, ok := inv.Lookup(inventory.ObjectKey(live))
	if !ok || e.FieldsDigest == "" || e.AppliedHash != o.Hash {
		return false
	}
	return inventory.FieldsDigest(live, inventory.FieldManager) == e.FieldsDigest
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

func sortedListKeys(m map[listKey]bool) []listKey {
	out := make([]listKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].gvr.String() != out[j].gvr.String() {
			return out[i].gvr.String() < out[j].gvr.String()
		}
		return out[i].namespace < out[j].namespace
	})
	return out
}

// objectLess orders objects as plans list them: Namespaces, then CRDs, then
// by namespace, kind and name.
func objectLess(a, b Object) bool {
	if ta, tb := tier(a), tier(b); ta != tb {
		return ta < tb
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.Group < b.Group
}

func tier(o Object) int {
	switch {
	case o.Group == "" && o.Kind == "Namespace":
		return 0
	case o.Group == "apiextensions.k8s.io" && o.Kind == "CustomResourceDefinition":
		return 1
	}
	return 2
}
