// Package prunesafety says what deleting a Namespace or a CRD would take with
// it. Deleting a Namespace deletes everything in it and deleting a CRD deletes
// all its custom resources, so a prune that deletes one geofed applied could
// destroy objects a person or another workload made there. Prune deletes a
// Namespace or a CRD only when this package finds nothing it would take that
// the same prune is not deleting anyway, and otherwise names what it holds.
package prunesafety

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	geofed "github.com/geofed-io/kubectl-geofed/pkg/object"
)

// Held is one object a Namespace or CRD deletion would take with it that
// geofed is not deleting.
type Held struct {
	Group, Version, Kind string
	// Namespace is set where it is not implied: for the namespaced custom
	// resources CRDHoldings lists. NamespaceHoldings leaves it empty, as
	// everything it lists is in the namespace asked about.
	Namespace string
	Name      string
	// Created is when the object was created: apply, looking again right
	// before a deletion, cares only about what arrived since the plan.
	Created time.Time
}

// String names h as a person reads it: "ConfigMap notes",
// "apps/Deployment feature-cache", "geofed.io/Widget ml/spare".
func (h Held) String() string {
	kind := h.Kind
	if h.Group != "" {
		kind = h.Group + "/" + h.Kind
	}
	if h.Namespace != "" {
		return kind + " " + h.Namespace + "/" + h.Name
	}
	return kind + " " + h.Name
}

// Options are what both holdings functions read from a cluster.
type Options struct {
	Client dynamic.Interface
	// Discovery lists the namespaced resources; it must know the cluster's
	// CRDs as they are now, so a cached client should be fresh.
	Discovery discovery.ServerResourcesInterfaceWithContext
	// Deleting holds the UIDs of every object the same prune deletes.
	Deleting map[types.UID]bool
}

// listParallel bounds the LISTs one namespace sends at once: a namespace
// has some fifty resources to list, one round trip each.
const listParallel = 8

// pageSize is the Limit of every LIST; Continue fetches the rest.
const pageSize = 500

// Holdings lists what deleting the named object would take with it that
// the prune is not deleting: what a Namespace holds, or a CRD's custom
// resources; nothing for any other kind. crd reads the CRD whole, nil when
// it is gone (then it holds nothing); it is called for a CRD alone. Plan
// judges a deletion by it, and apply again right before deleting.
func Holdings(ctx context.Context, o Options, group, kind, name string, crd func(context.Context) (*unstructured.Unstructured, error)) ([]Held, error) {
	switch {
	case geofed.IsNamespace(group, kind):
		return NamespaceHoldings(ctx, o, name)
	case geofed.IsCRD(group, kind):
		u, err := crd(ctx)
		if err != nil || u == nil {
			return nil, err
		}
		return CRDHoldings(ctx, o, u)
	}
	return nil, nil
}

// NamespaceHoldings lists what namespace ns holds that deleting it would
// lose: every object of every namespaced resource the namespace controller
// deletes, except
//   - objects in Deleting, and objects whose every owner (ownerReferences,
//     followed through objects in ns: Pod, ReplicaSet, Deployment) is in
//     Deleting, which the garbage collector deletes with them;
//   - what Kubernetes makes in every namespace by itself: ServiceAccount
//     "default" and ConfigMap "kube-root-ca.crt";
//   - Events;
//   - the Endpoints of a Service the prune deletes, which the endpoints
//     controller makes without an ownerReference (the EndpointSlices have
//     one).
//
// Objects owned by a held object (the Pods of a hand-made Deployment, the
// Endpoints of a hand-made Service) are not listed apart from it: the
// result names what a person made, sorted by kind and name.
//
// A read that fails — discovery that misses a group (an aggregated API
// server down), a LIST that errs, times out, is throttled or forbidden — is
// an error, never "holds nothing": the namespace cannot be judged, so it
// is not deleted.
func NamespaceHoldings(ctx context.Context, o Options, ns string) ([]Held, error) {
	resources, err := namespacedResources(ctx, o.Discovery)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", ns, err)
	}
	lists := make([][]unstructured.Unstructured, len(resources))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(listParallel)
	for i, gvr := range resources {
		g.Go(func() error {
			items, err := list(gctx, o.Client.Resource(gvr).Namespace(ns))
			if err != nil {
				return fmt.Errorf("listing %s %s in namespace %s: %w", gvr.GroupVersion(), gvr.Resource, ns, err)
			}
			lists[i] = items
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	var objs []object
	seen := map[types.UID]bool{}
	for _, items := range lists {
		for i := range items {
			u := &items[i]
			// A kind served by two groups lists the same object twice.
			if uid := u.GetUID(); uid != "" && seen[uid] {
				continue
			}
			seen[u.GetUID()] = true
			objs = append(objs, newObject(u, false))
		}
	}
	// The endpoints controller makes a Service's Endpoints without an
	// ownerReference; they go with the Service all the same.
	services := map[string]types.UID{}
	for _, obj := range objs {
		if obj.Group == "" && obj.Kind == "Service" {
			services[obj.Name] = obj.uid
		}
	}
	for i, obj := range objs {
		if uid, ok := services[obj.Name]; ok && obj.Group == "" && obj.Kind == "Endpoints" && len(obj.owners) == 0 {
			objs[i].owners = []types.UID{uid}
		}
	}
	return newSet(objs, o.Deleting).held(), nil
}

// CRDHoldings lists the custom resources of crd, an apiextensions.k8s.io/v1
// CustomResourceDefinition, in every namespace that deleting crd would lose:
// those neither in Deleting nor owned only by objects the prune deletes,
// with what a held custom resource owns left out as in NamespaceHoldings.
func CRDHoldings(ctx context.Context, o Options, crd *unstructured.Unstructured) ([]Held, error) {
	gvr, namespaced, err := crdResource(crd)
	if err != nil {
		return nil, fmt.Errorf("CRD %s: %w", crd.GetName(), err)
	}
	items, err := list(ctx, o.Client.Resource(gvr))
	if err != nil {
		return nil, fmt.Errorf("listing %s %s in every namespace: %w", gvr.GroupVersion(), gvr.Resource, err)
	}
	objs := make([]object, len(items))
	for i := range items {
		objs[i] = newObject(&items[i], namespaced)
	}
	return newSet(objs, o.Deleting).held(), nil
}

// namespacedResources are the preferred versions of the namespaced resources
// that namespace deletion removes, in a stable order.
func namespacedResources(ctx context.Context, d discovery.ServerResourcesInterfaceWithContext) ([]schema.GroupVersionResource, error) {
	lists, err := d.ServerPreferredNamespacedResourcesWithContext(ctx)
	if err != nil {
		// A group discovery could not read may hold anything.
		return nil, fmt.Errorf("discovering namespaced resources: %w", err)
	}
	// The namespace controller deletes only resources with the delete verb;
	// the others (metrics.k8s.io's PodMetrics, say) are views of other
	// objects, not objects a deletion could lose.
	lists = discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"list", "delete"}}, lists)
	var gvrs []schema.GroupVersionResource
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			return nil, fmt.Errorf("discovering namespaced resources: %w", err)
		}
		for _, r := range l.APIResources {
			if r.Name == "events" && (gv.Group == "" || gv.Group == "events.k8s.io") {
				continue
			}
			gvrs = append(gvrs, gv.WithResource(r.Name))
		}
	}
	slices.SortFunc(gvrs, func(a, b schema.GroupVersionResource) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Version, b.Version))
	})
	return gvrs, nil
}

// crdResource is the resource crd serves its custom resources as, in its
// storage version when that is served, and whether they are namespaced.
func crdResource(crd *unstructured.Unstructured) (schema.GroupVersionResource, bool, error) {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	scope, _, _ := unstructured.NestedString(crd.Object, "spec", "scope")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if group == "" || plural == "" {
		return schema.GroupVersionResource{}, false, fmt.Errorf("no spec.group or spec.names.plural")
	}
	var served, storage string
	for _, v := range versions {
		v, _ := v.(map[string]any)
		name, _ := v["name"].(string)
		if ok, _ := v["served"].(bool); !ok || name == "" {
			continue
		}
		if served == "" {
			served = name
		}
		if ok, _ := v["storage"].(bool); ok {
			storage = name
		}
	}
	version := cmp.Or(storage, served)
	if version == "" {
		// Its custom resources are in etcd still, out of reach.
		return schema.GroupVersionResource{}, false, fmt.Errorf("no served version to list its custom resources with")
	}
	return schema.GroupVersionResource{Group: group, Version: version, Resource: plural}, scope != "Cluster", nil
}

// list fetches every object of r, a page at a time. A resource that cannot be
// listed after all (gone since discovery, or not served) has none.
func list(ctx context.Context, r dynamic.ResourceInterface) ([]unstructured.Unstructured, error) {
	var items []unstructured.Unstructured
	opts := metav1.ListOptions{Limit: pageSize}
	for {
		page, err := r.List(ctx, opts)
		if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		items = append(items, page.Items...)
		if opts.Continue = page.GetContinue(); opts.Continue == "" {
			return items, nil
		}
	}
}

// kubernetesMade reports whether Kubernetes makes h in every namespace by
// itself, so that losing it loses nothing a person made.
func kubernetesMade(h Held) bool {
	return h.Group == "" && (h.Kind == "ServiceAccount" && h.Name == "default" ||
		h.Kind == "ConfigMap" && h.Name == "kube-root-ca.crt")
}

// object is what deciding about one live object needs.
type object struct {
	Held
	uid    types.UID
	owners []types.UID
	// terminating objects are on their way out whatever the prune does:
	// deleting the namespace loses nothing of them.
	terminating bool
}

func newObject(u *unstructured.Unstructured, keepNamespace bool) object {
	gvk := u.GroupVersionKind()
	obj := object{
		Held:        Held{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Name: u.GetName(), Created: u.GetCreationTimestamp().Time},
		uid:         u.GetUID(),
		terminating: u.GetDeletionTimestamp() != nil,
	}
	if keepNamespace {
		obj.Namespace = u.GetNamespace()
	}
	for _, ref := range u.GetOwnerReferences() {
		obj.owners = append(obj.owners, ref.UID)
	}
	return obj
}

// set decides, for objects that are deleted together, which of them a
// prune deleting the UIDs in deleting would take down and which it would
// lose.
type set struct {
	objs     []object
	byUID    map[types.UID]int
	deleting map[types.UID]bool
	going    map[types.UID]bool
}

func newSet(objs []object, deleting map[types.UID]bool) *set {
	s := &set{objs: objs, byUID: make(map[types.UID]int, len(objs)), deleting: deleting, going: map[types.UID]bool{}}
	for i, obj := range objs {
		if obj.uid != "" {
			s.byUID[obj.uid] = i
		}
	}
	return s
}

// goes reports whether the prune deletes uid: it is in deleting, or the
// garbage collector deletes it because every owner it names goes. An owner
// not among the objects (cluster-scoped, or of another CRD) goes only when
// it is in deleting.
func (s *set) goes(uid types.UID) bool {
	if s.deleting[uid] {
		return true
	}
	if going, ok := s.going[uid]; ok {
		return going
	}
	i, ok := s.byUID[uid]
	if ok && s.objs[i].terminating {
		return true
	}
	if !ok || len(s.objs[i].owners) == 0 {
		return false
	}
	// An ownership cycle never reaches deleting; stop it here.
	s.going[uid] = false
	going := true
	for _, owner := range s.objs[i].owners {
		if !s.goes(owner) {
			going = false
			break
		}
	}
	s.going[uid] = going
	return going
}

// isHeld reports whether deleting objs[i] along with everything else loses it.
func (s *set) isHeld(i int) bool {
	return !kubernetesMade(s.objs[i].Held) && !s.goes(s.objs[i].uid)
}

// heldOwners are the indexes of the held objects that own objs[i].
func (s *set) heldOwners(i int) []int {
	var owners []int
	for _, uid := range s.objs[i].owners {
		if j, ok := s.byUID[uid]; ok && s.isHeld(j) {
			owners = append(owners, j)
		}
	}
	return owners
}

// rooted reports whether following held owners up from objs[i] reaches a
// held object that no held object owns. Only an ownership cycle stops it.
func (s *set) rooted(i int, seen map[int]bool) bool {
	if seen[i] {
		return false
	}
	seen[i] = true
	owners := s.heldOwners(i)
	if len(owners) == 0 {
		return true
	}
	for _, j := range owners {
		if s.rooted(j, seen) {
			return true
		}
	}
	return false
}

// held lists the held objects, each folded into a held owner when it has
// one, sorted. What hangs from an ownership cycle is listed whole, so that
// a namespace holding only a cycle never looks empty.
func (s *set) held() []Held {
	var out []Held
	for i, obj := range s.objs {
		if !s.isHeld(i) {
			continue
		}
		if len(s.heldOwners(i)) > 0 && s.rooted(i, map[int]bool{}) {
			continue // named by what owns it
		}
		out = append(out, obj.Held)
	}
	slices.SortFunc(out, func(a, b Held) int {
		return cmp.Or(
			cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Group, b.Group),
			cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Version, b.Version),
		)
	})
	return out
}
