// Package apply executes plans: for every member cluster it server-side
// applies the rendered objects in order (Namespaces and CRDs first), keeps
// the ApplySet inventory up to date, and prunes what geofed applied and no
// longer renders.
package apply

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// ClusterOptions says what to apply to one cluster.
type ClusterOptions struct {
	Topology string
	Cluster  string
	Client   dynamic.Interface
	// Mapper is reset after CRDs are applied, so their kinds resolve.
	Mapper meta.ResettableRESTMapper
	// Objects are the desired objects in apply order.
	Objects []plan.DesiredObject
	// ForceConflicts takes fields other managers own.
	ForceConflicts bool
	// Prune deletes inventory members no longer desired.
	Prune bool
	// Unchanged holds the keys (inventory.ObjectKey) of objects the plan
	// proved unchanged from the inventory: they stay desired and in the
	// inventory, but are not sent again, so apply sends only what changed.
	Unchanged map[string]bool
}

// ClusterResult is what happened on one cluster.
type ClusterResult struct {
	Applied int
	Pruned  int
	// Live holds the objects applied, as the server returned them.
	Live []*unstructured.Unstructured
}

// Cluster applies objects to one cluster. The inventory is widened before
// the first object is sent (so an interrupted apply still knows what it
// owns) and narrowed after pruning.
func Cluster(ctx context.Context, o ClusterOptions) (ClusterResult, error) {
	var res ClusterResult
	inv, err := inventory.Read(ctx, o.Client, o.Topology)
	if err != nil {
		return res, fmt.Errorf("cluster %s: %w", o.Cluster, err)
	}
	entries := map[string]inventory.Entry{}
	for _, e := range inv.Entries {
		entries[e.Key()] = e
	}
	desired := map[string]bool{}
	for _, d := range o.Objects {
		key := inventory.ObjectKey(d.Object)
		desired[key] = true
		if _, ok := entries[key]; !ok {
			gvk := d.Object.GroupVersionKind()
			entries[key] = inventory.Entry{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: d.Object.GetNamespace(), Name: d.Object.GetName()}
		}
	}
	if err := writeInventory(ctx, o, entries); err != nil {
		return res, err
	}

	reset := false
	for _, d := range o.Objects {
		if !reset && !isFirstTier(d.Object) {
			// Kinds defined by the CRDs just applied resolve from here on.
			o.Mapper.Reset()
			reset = true
		}
		if o.Unchanged[inventory.ObjectKey(d.Object)] {
			continue
		}
		live, err := applyObject(ctx, o, d.Object)
		if err != nil {
			// Record what was applied so far; the failure is the error.
			_ = writeInventory(ctx, o, entries)
			return res, err
		}
		key := inventory.ObjectKey(d.Object)
		e := entries[key]
		e.AppliedHash = d.Hash
		e.FieldsDigest = inventory.FieldsDigest(live, inventory.FieldManager)
		e.Version = d.Object.GroupVersionKind().Version
		entries[key] = e
		res.Applied++
		res.Live = append(res.Live, live)
		if isCRD(d.Object) {
			if err := waitEstablished(ctx, o, d.Object.GetName()); err != nil {
				_ = writeInventory(ctx, o, entries)
				return res, err
			}
		}
	}

	if o.Prune {
		for key, e := range entries {
			if desired[key] {
				continue
			}
			if err := deleteEntry(ctx, o, e); err != nil {
				_ = writeInventory(ctx, o, entries)
				return res, err
			}
			delete(entries, key)
			res.Pruned++
		}
	}
	if err := writeInventory(ctx, o, entries); err != nil {
		return res, err
	}
	return res, nil
}

func isFirstTier(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	return (gvk.Group == "" && gvk.Kind == "Namespace") || isCRD(obj)
}

func isCRD(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	return gvk.Group == "apiextensions.k8s.io" && gvk.Kind == "CustomResourceDefinition"
}

func resourceFor(o ClusterOptions, gvk schema.GroupVersionKind, namespace string) (dynamic.ResourceInterface, error) {
	m, err := o.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	ri := o.Client.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return ri.Namespace(namespace), nil
	}
	return ri, nil
}

// applyObject server-side applies one object and returns the live result.
func applyObject(ctx context.Context, o ClusterOptions, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	what := fmt.Sprintf("applying %s to cluster %s", describe(obj), o.Cluster)
	rc, err := resourceFor(o, obj.GroupVersionKind(), obj.GetNamespace())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	live, err := rc.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: inventory.FieldManager, Force: o.ForceConflicts})
	if err != nil {
		if apierrors.IsConflict(err) {
			return nil, fmt.Errorf("%s: %w (re-run with --force-conflicts to take these fields)", what, err)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return live, nil
}

// waitEstablished waits until a CRD is Established, so objects of its kind
// can be applied right after.
func waitEstablished(ctx context.Context, o ClusterOptions, name string) error {
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		crd, err := o.Client.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]interface{})
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for CustomResourceDefinition %s to be established in cluster %s: %w", name, o.Cluster, err)
	}
	o.Mapper.Reset()
	return nil
}

// deleteEntry prunes one inventory member. An object already gone is fine;
// one that no longer carries this ApplySet's label was taken over by
// someone else and is left alone.
func deleteEntry(ctx context.Context, o ClusterOptions, e inventory.Entry) error {
	gvk := schema.GroupVersionKind{Group: e.Group, Version: e.Version, Kind: e.Kind}
	what := fmt.Sprintf("pruning %s %s from cluster %s", e.Kind, nsName(e.Namespace, e.Name), o.Cluster)
	rc, err := resourceFor(o, gvk, e.Namespace)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	live, err := rc.Get(ctx, e.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if live.GetLabels()[inventory.LabelPartOf] != inventory.ID(o.Topology) {
		return nil
	}
	uid := live.GetUID()
	policy := metav1.DeletePropagationBackground
	err = rc.Delete(ctx, e.Name, metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &uid},
		PropagationPolicy: &policy,
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func writeInventory(ctx context.Context, o ClusterOptions, entries map[string]inventory.Entry) error {
	list := make([]inventory.Entry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	parent, err := inventory.Parent(o.Topology, list)
	if err != nil {
		return err
	}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	_, err = o.Client.Resource(gvr).Namespace(parent.GetNamespace()).Apply(ctx, parent.GetName(), parent, metav1.ApplyOptions{FieldManager: inventory.FieldManager, Force: true})
	if err != nil {
		return fmt.Errorf("writing inventory ConfigMap %s/%s to cluster %s: %w", parent.GetNamespace(), parent.GetName(), o.Cluster, err)
	}
	return nil
}

func describe(obj *unstructured.Unstructured) string {
	return obj.GetKind() + " " + nsName(obj.GetNamespace(), obj.GetName())
}

func nsName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}
