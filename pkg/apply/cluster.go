// Package apply executes plans: for every member cluster it server-side
// applies the rendered objects in order (Namespaces and CRDs first), keeps
// the ApplySet inventory up to date, and deletes exactly the objects the
// plan listed for deletion, in reverse apply order.
package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/prunesafety"
	"github.com/geofed-io/kubectl-geofed/pkg/readerr"
)

// How long a prune tier may take to be gone before the next is deleted.
const pruneTierTimeout = 2 * time.Minute

// ErrInventoryMoved says the cluster's inventory changed between the plan
// and the apply: another apply ran in between, so the plan is stale.
var ErrInventoryMoved = errors.New("geofed's inventory changed since the plan was made (another apply ran): plan again")

// errKept says a planned deletion was not made because the Namespace or CRD
// holds something new since the plan; it stays in the inventory.
var errKept = errors.New("kept: it holds objects that arrived since the plan")

// ErrInterrupted says an interrupt stopped the apply between two steps;
// what was done is recorded, and a re-run converges.
var ErrInterrupted = errors.New("interrupted: stopped before the next step; what was done is recorded, re-run apply to finish")

// ClusterOptions says what to apply to one cluster.
type ClusterOptions struct {
	Topology string
	Cluster  string
	Client   dynamic.Interface
	// Mapper is reset after CRDs are applied, so their kinds resolve.
	Mapper meta.ResettableRESTMapper
	// Objects are the desired objects in apply order.
	Objects []desired.Object
	// Skip holds the keys (object.Key) of desired objects not to send: the
	// plan proved them unchanged from the inventory, or they are being
	// deleted. They stay desired and in the inventory.
	Skip map[string]bool
	// Deletes is the plan's "-" list, each with the UID planned: exactly
	// what is deleted, nothing else.
	Deletes []plan.Object
	// Retain holds the keys of objects geofed no longer renders but keeps
	// recording: Namespaces and CRDs kept because they hold other objects,
	// objects still being deleted. Every other entry not desired is
	// dropped from the inventory once prune ran.
	Retain map[string]bool
	// InventoryVersion is the inventory's resourceVersion when planned ("":
	// none). Apply refuses when it moved, and every inventory write carries
	// the last resourceVersion as a precondition.
	InventoryVersion string
	// ForceConflicts takes fields other managers own.
	ForceConflicts bool
	// Prune deletes Deletes; false leaves them, and the inventory, alone.
	Prune bool
	// Discovery lists what a Namespace holds, checked again right before
	// it is deleted, for objects created at PlannedAt or later (the plan
	// saw what was there before).
	Discovery discovery.ServerResourcesInterfaceWithContext
	PlannedAt time.Time
	// RemoveInventory (destroy) deletes the inventory once pruning leaves
	// nothing in it, instead of writing it empty.
	RemoveInventory bool
	// Progress hears one line per step; nil discards.
	Progress func(string)
	// Stop closing is an interrupt: Cluster sends nothing more, records
	// what it did in the inventory and returns ErrInterrupted.
	Stop <-chan struct{}
	// Concurrency bounds the objects of one tier sent at once (default
	// DefaultConcurrency); the client's QPS bounds the rate.
	Concurrency int
	// Metadata, when set, sends the applies whose response is read for
	// nothing but metadata, and has the server answer them with metadata
	// only, in protobuf (lightApply): the inventory records an object's
	// UID and geofed's managedFields, both metadata. Without it every
	// response is the whole object, as JSON.
	Metadata metadata.Interface
	// NoReadiness says nothing judges readiness after this apply (apply
	// --wait=false): with Metadata, every response is metadata only, and
	// Live stays empty.
	NoReadiness bool
}

// DefaultConcurrency is how many objects of a tier are applied to one
// cluster at once. A server-side apply is a round trip of a few
// milliseconds, most of it the server's: one at a time, a cluster of a
// thousand objects takes seconds that the apiserver spends mostly idle.
const DefaultConcurrency = 8

// ObjectsResult is what Cluster did to one cluster's objects; Outcome is
// the whole of what apply did there (GKE, objects, readiness).
type ObjectsResult struct {
	Applied int
	Pruned  int
	// Live holds the objects applied, as the server returned them less
	// what readiness never reads (forReadiness); none with NoReadiness.
	Live []*unstructured.Unstructured
	// Kept counts the objects still recorded after a destroy's prune
	// (kept because they hold what geofed did not apply);
	// InventoryRemoved says the inventory was deleted, empty.
	Kept             int
	InventoryRemoved bool
}

// clusterRun carries one cluster's apply: its options and the inventory as
// last written.
type clusterRun struct {
	ClusterOptions
	// mu guards entries while a tier's objects are applied at once.
	mu      sync.Mutex
	entries map[string]inventory.Entry
	// version is the inventory's resourceVersion as last read or written.
	version string
	// rediscover resets the mapper once, the first time a kind does not
	// resolve (a CRD created since the cluster was connected to).
	rediscover sync.Once
}

// Cluster applies one cluster's part of a plan. The inventory is widened
// before the first object is sent (so an interrupted apply still knows what
// it may own), updated with each object's UID after applying, and narrowed
// after pruning.
func Cluster(ctx context.Context, o ClusterOptions) (ObjectsResult, error) {
	var res ObjectsResult
	inv, err := inventory.Read(ctx, o.Client, o.Topology)
	if err != nil {
		return res, fmt.Errorf("cluster %s: %w", o.Cluster, err)
	}
	if inv.ResourceVersion != o.InventoryVersion {
		return res, fmt.Errorf("cluster %s: %w (inventory resourceVersion %s when planned, %s now)", o.Cluster, ErrInventoryMoved, orNone(o.InventoryVersion), orNone(inv.ResourceVersion))
	}
	r := &clusterRun{ClusterOptions: o, entries: map[string]inventory.Entry{}, version: inv.ResourceVersion}
	for _, e := range inv.Entries {
		r.entries[e.Key()] = e
	}
	desiredKeys := map[string]bool{}
	for _, d := range o.Objects {
		key := object.KeyOf(d.Object)
		desiredKeys[key] = true
		if _, ok := r.entries[key]; !ok {
			gvk := d.Object.GroupVersionKind()
			r.entries[key] = inventory.Entry{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: d.Object.GetNamespace(), Name: d.Object.GetName()}
		}
	}
	if err := r.writeInventory(ctx); err != nil {
		return res, err
	}

	if err := r.applyTiers(ctx, &res); err != nil {
		return res, err
	}
	if !o.Prune {
		return res, r.writeInventory(ctx)
	}
	// What the plan did not list for deletion and does not retain is gone
	// already, or no longer geofed's: forget it.
	deletes := make(map[string]bool, len(o.Deletes))
	for _, d := range o.Deletes {
		deletes[d.Key()] = true
	}
	for key := range r.entries {
		if !desiredKeys[key] && !o.Retain[key] && !deletes[key] {
			delete(r.entries, key)
		}
	}
	pruned, err := r.prune(ctx)
	res.Pruned = pruned
	if err != nil {
		return res, errors.Join(err, r.writeInventory(ctx))
	}
	if o.RemoveInventory && len(r.entries) == 0 && len(o.Objects) == 0 {
		if err := r.removeInventory(ctx); err != nil {
			return res, err
		}
		res.InventoryRemoved = true
		return res, nil
	}
	res.Kept = len(r.entries)
	return res, r.writeInventory(ctx)
}

// applyTiers sends the objects not skipped, tier by tier (Namespaces, then
// CRDs, then the rest), each tier's objects up to Concurrency at once: an
// object never needs another of its own tier to exist first (a Deployment
// accepts a ServiceAccount that is not there yet), but a namespaced object
// needs its Namespace and a custom resource its CRD, Established. Each
// object's UID and digest are recorded as it is applied; on a failure or
// an interrupt the objects in flight finish, nothing more is sent, and
// what was applied is written to the inventory.
func (r *clusterRun) applyTiers(ctx context.Context, res *ObjectsResult) error {
	concurrency := r.Concurrency
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	for _, tier := range splitTiers(r.Objects) {
		// Kinds of the CRDs this apply created resolve once each is
		// Established (waitEstablished resets the mapper); others created
		// since the cluster was connected to, at their first miss
		// (resourceFor). Discovery is not run again for every apply.
		lives := make([]*unstructured.Unstructured, len(tier))
		done := make([]bool, len(tier))
		errs := make([]error, len(tier))
		var failed atomic.Bool
		var g errgroup.Group
		g.SetLimit(concurrency)
		interrupted := false
		for i, t := range tier {
			if r.Skip[object.KeyOf(t.d.Object)] {
				continue
			}
			if failed.Load() {
				break
			}
			if r.stopped() {
				interrupted = true
				break
			}
			g.Go(func() error {
				a, err := r.applyObject(ctx, t.d.Object)
				if err != nil {
					errs[i] = err
					failed.Store(true)
					return nil
				}
				r.record(t.d.Object, t.d.Hash, a)
				done[i], lives[i] = true, a.live
				return nil
			})
		}
		_ = g.Wait()
		var crds []string
		for i, live := range lives {
			if !done[i] {
				continue
			}
			res.Applied++
			if live != nil {
				res.Live = append(res.Live, live)
			}
			if obj := tier[i].d.Object; object.IsCRD(obj.GroupVersionKind().Group, obj.GetKind()) {
				crds = append(crds, obj.GetName())
			}
		}
		// Failures in apply order: the first is the one a re-run meets first.
		if err := errors.Join(errs...); err != nil {
			return errors.Join(err, r.writeInventory(ctx))
		}
		if interrupted {
			return r.interrupted(ctx)
		}
		for _, name := range crds {
			if err := r.waitEstablished(ctx, name); err != nil {
				return errors.Join(err, r.writeInventory(ctx))
			}
		}
	}
	return nil
}

// record notes what geofed knows of an object right after applying it.
func (r *clusterRun) record(obj *unstructured.Unstructured, hash string, a applied) {
	key := object.KeyOf(obj)
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[key]
	e.AppliedHash = inventory.RecordedHash(obj, hash)
	e.FieldsDigest = a.digest
	e.Version = obj.GroupVersionKind().Version
	e.UID = a.uid
	r.entries[key] = e
}

// applied is what geofed keeps of an object right after applying it: what
// the inventory records, and, unless NoReadiness, what readiness reads
// (forReadiness, or metadataLive of a response of metadata only).
type applied struct {
	uid    types.UID
	digest string
	live   *unstructured.Unstructured
}

// appliedFrom reads the inventory's part of a response first: what
// readiness does not read is stripped from live in place after.
func appliedFrom(m metav1.Object, live func() *unstructured.Unstructured) applied {
	a := applied{uid: m.GetUID(), digest: inventory.FieldsDigest(m, object.FieldManager)}
	if live != nil {
		a.live = live()
	}
	return a
}

// tiered is a desired object with its apply tier.
type tiered struct {
	d    desired.Object
	tier int
}

// splitTiers cuts objects, in apply order, into runs of one tier.
func splitTiers(objs []desired.Object) [][]tiered {
	var out [][]tiered
	for _, d := range objs {
		t := tiered{d: d, tier: object.Tier(d.Object.GroupVersionKind().Group, d.Object.GetKind())}
		if n := len(out); n > 0 && out[n-1][0].tier == t.tier {
			out[n-1] = append(out[n-1], t)
			continue
		}
		out = append(out, []tiered{t})
	}
	return out
}

// removeInventory deletes the inventory ConfigMap (the ApplySet's parent)
// as last written: a resourceVersion that moved since means another apply
// recorded something, and the inventory stays.
func (r *clusterRun) removeInventory(ctx context.Context) error {
	name := inventory.ParentName(r.Topology)
	rc := r.Client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(inventory.ParentNamespace)
	err := rc.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &r.version}})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		return fmt.Errorf("removing inventory ConfigMap %s/%s from cluster %s: %w", inventory.ParentNamespace, name, r.Cluster, ErrInventoryMoved)
	case err != nil:
		return fmt.Errorf("removing inventory ConfigMap %s/%s from cluster %s: %w", inventory.ParentNamespace, name, r.Cluster, err)
	}
	r.say("removed the inventory ConfigMap %s/%s", inventory.ParentNamespace, name)
	return nil
}

// stopped reports whether an interrupt asked to stop.
func (r *clusterRun) stopped() bool {
	select {
	case <-r.Stop:
		return true
	default:
		return false
	}
}

// interrupted records what was done and says why it stopped.
func (r *clusterRun) interrupted(ctx context.Context) error {
	return fmt.Errorf("cluster %s: %w", r.Cluster, errors.Join(ErrInterrupted, r.writeInventory(ctx)))
}

// prune deletes the plan's "-" list tier by tier, in reverse apply order
// (workloads, then the rest, Namespaces and CRDs last), each tier gone
// before the next is deleted. Every delete carries the UID the plan saw: an
// object re-created since by someone else is never deleted.
func (r *clusterRun) prune(ctx context.Context) (int, error) {
	tiers := map[int][]plan.Object{}
	for _, d := range r.Deletes {
		t := object.PruneTier(d.Group, d.Kind)
		tiers[t] = append(tiers[t], d)
	}
	pruned := 0
	for _, t := range []int{object.PruneWorkloads, object.PruneRest, object.PruneContainers} {
		var sent []plan.Object
		for _, d := range tiers[t] {
			if r.stopped() {
				return pruned, ErrInterrupted
			}
			gone, err := r.deleteObject(ctx, d)
			if errors.Is(err, errKept) {
				continue // still geofed's, still recorded
			}
			if err != nil {
				return pruned, err
			}
			delete(r.entries, d.Key())
			if gone {
				pruned++
				sent = append(sent, d)
			}
		}
		if t == object.PruneContainers {
			// The last tier: a Namespace is finalized by its controller in
			// its own time; nothing waits on it.
			break
		}
		if err := r.waitGone(ctx, sent); err != nil {
			return pruned, err
		}
	}
	return pruned, nil
}

// deleteObject deletes one planned deletion with its UID as precondition.
// It reports false when there was nothing of geofed's to delete: already
// gone, or re-created under the same name (the UID no longer matches).
func (r *clusterRun) deleteObject(ctx context.Context, d plan.Object) (bool, error) {
	what := fmt.Sprintf("pruning %s from cluster %s", d, r.Cluster)
	if d.UID == "" {
		return false, fmt.Errorf("%s: the plan recorded no UID for it", what)
	}
	gvk := schema.GroupVersionKind{Group: d.Group, Version: d.Version, Kind: d.Kind}
	// A kind no longer served has nothing left to delete; a kind whose
	// discovery failed may have everything left, and stays recorded.
	if _, served, err := readerr.Mapping(ctx, r.Mapper, r.Discovery, gvk); err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	} else if !served {
		return false, nil
	}
	rc, err := r.resourceFor(gvk, d.Namespace)
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	if held, err := r.stillHolds(ctx, rc, d); err != nil || len(held) > 0 {
		// Something arrived since the plan: deleting now would take it.
		// Kept, and still recorded; a later plan shows it as kept.
		if err != nil {
			return false, fmt.Errorf("%s: checking what it holds: %w", what, err)
		}
		r.say("%s: not deleting %s: it holds %s since the plan", r.Cluster, d, strings.Join(held, ", "))
		return false, errKept
	}
	uid := types.UID(d.UID)
	policy := metav1.DeletePropagationBackground
	err = rc.Delete(ctx, d.Name, metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &uid},
		PropagationPolicy: &policy,
	})
	switch {
	case err == nil:
		r.say("%s: deleted %s", r.Cluster, d)
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	case apierrors.IsConflict(err):
		// The precondition failed: someone else's object by that name now.
		r.say("%s: not deleting %s: re-created since the plan (another UID)", r.Cluster, d)
		return false, nil
	}
	return false, fmt.Errorf("%s: %w", what, err)
}

// stillHolds looks again, right before deleting a Namespace or a CRD, at
// what the deletion would take with it: the plan checked, but a person may
// have created something there since. Other kinds hold nothing.
func (r *clusterRun) stillHolds(ctx context.Context, rc dynamic.ResourceInterface, d plan.Object) ([]string, error) {
	if !object.IsNamespace(d.Group, d.Kind) && !object.IsCRD(d.Group, d.Kind) {
		return nil, nil
	}
	if r.Discovery == nil {
		return nil, errors.New("no discovery client to list what it holds")
	}
	deleting := map[types.UID]bool{}
	for _, o := range r.Deletes {
		deleting[types.UID(o.UID)] = true
	}
	safety := prunesafety.Options{Client: r.Client, Discovery: r.Discovery, Deleting: deleting}
	held, err := prunesafety.Holdings(ctx, safety, d.Group, d.Kind, d.Name, func(ctx context.Context) (*unstructured.Unstructured, error) {
		crd, err := rc.Get(ctx, d.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return crd, err
	})
	// The plan judged what was there when it was made; what is new since
	// is what this look is for. (Controllers keep creating and removing
	// Pods and ReplicaSets of the workloads just pruned; those were
	// there, or are owned by what was.)
	var names []string
	for _, h := range held {
		if !h.Created.Before(r.PlannedAt) {
			names = append(names, h.String())
		}
	}
	return names, err
}

// waitGone waits until every deleted object is gone (or replaced by an
// object with another UID).
func (r *clusterRun) waitGone(ctx context.Context, objs []plan.Object) error {
	for _, d := range objs {
		rc, err := r.resourceFor(schema.GroupVersionKind{Group: d.Group, Version: d.Version, Kind: d.Kind}, d.Namespace)
		if err != nil {
			continue
		}
		err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, pruneTierTimeout, true, func(ctx context.Context) (bool, error) {
			live, err := rc.Get(ctx, d.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			if err != nil {
				return false, nil
			}
			return string(live.GetUID()) != d.UID, nil
		})
		if err != nil {
			return fmt.Errorf("waiting for %s to be gone from cluster %s before pruning the next tier: %w", d, r.Cluster, err)
		}
	}
	return nil
}

func (r *clusterRun) say(format string, args ...any) {
	if r.Progress != nil {
		r.Progress(fmt.Sprintf(format, args...))
	}
}

func (r *clusterRun) resourceFor(gvk schema.GroupVersionKind, namespace string) (dynamic.ResourceInterface, error) {
	m, err := r.mapping(gvk)
	if err != nil {
		return nil, err
	}
	ri := r.Client.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return ri.Namespace(namespace), nil
	}
	return ri, nil
}

// mapping resolves a kind; the first kind that does not resolve has the
// mapper run discovery again, once, for a CRD created since the cluster
// was connected to.
func (r *clusterRun) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := r.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		// Those that missed meanwhile look again too; after the one
		// reset, a miss costs no request (the cache is fresh).
		r.rediscover.Do(r.Mapper.Reset)
		m, err = r.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	return m, err
}

// applyObject server-side applies one object and returns what geofed keeps
// of the result.
func (r *clusterRun) applyObject(ctx context.Context, obj *unstructured.Unstructured) (applied, error) {
	gvk := obj.GroupVersionKind()
	m, err := r.mapping(gvk)
	if err != nil {
		return applied{}, r.applyError(obj, err)
	}
	if r.Metadata != nil && (r.NoReadiness || readsOnlyMetadata(gvk.GroupKind())) {
		return r.lightApply(ctx, m, obj)
	}
	var rc dynamic.ResourceInterface = r.Client.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		rc = r.Client.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	live, err := rc.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: object.FieldManager, Force: r.ForceConflicts})
	if err != nil {
		return applied{}, r.applyError(obj, err)
	}
	if r.NoReadiness {
		return appliedFrom(live, nil), nil
	}
	return appliedFrom(live, func() *unstructured.Unstructured { return forReadiness(live) }), nil
}

// lightApply server-side applies one object, as the dynamic client's Apply
// does (the same body, field manager and force), with the server asked to
// answer with the object's metadata only, in protobuf: the server encodes,
// and geofed decodes, a few hundred bytes of metadata instead of the whole
// object as JSON. Readiness, when it is judged, reads metadata alone of
// such an object (readsOnlyMetadata).
func (r *clusterRun) lightApply(ctx context.Context, m *meta.RESTMapping, obj *unstructured.Unstructured) (applied, error) {
	body, err := obj.MarshalJSON()
	if err != nil {
		return applied{}, r.applyError(obj, err)
	}
	var rc metadata.ResourceInterface = r.Metadata.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		rc = r.Metadata.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	force := r.ForceConflicts
	live, err := rc.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: object.FieldManager, Force: &force})
	if err != nil {
		return applied{}, r.applyError(obj, err)
	}
	if r.NoReadiness {
		return appliedFrom(live, nil), nil
	}
	return appliedFrom(live, func() *unstructured.Unstructured { return metadataLive(obj, live) }), nil
}

func (r *clusterRun) applyError(obj *unstructured.Unstructured, err error) error {
	what := fmt.Sprintf("applying %s to cluster %s", object.Describe(obj), r.Cluster)
	if apierrors.IsConflict(err) {
		return fmt.Errorf("%s: %w (re-run with --force-conflicts to take these fields)", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// waitEstablished waits until a CRD is Established, so objects of its kind
// can be applied right after.
func (r *clusterRun) waitEstablished(ctx context.Context, name string) error {
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		crd, err := r.Client.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
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
		return fmt.Errorf("waiting for CustomResourceDefinition %s to be established in cluster %s: %w", name, r.Cluster, err)
	}
	r.Mapper.Reset()
	return nil
}

// writeInventory writes the entries with the last resourceVersion as a
// precondition, so two writers can never silently overwrite each other.
func (r *clusterRun) writeInventory(ctx context.Context) error {
	list := make([]inventory.Entry, 0, len(r.entries))
	for _, e := range r.entries {
		list = append(list, e)
	}
	parent, err := inventory.Parent(r.Topology, list)
	if err != nil {
		return err
	}
	if r.version != "" {
		parent.SetResourceVersion(r.version)
	}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	rc := r.Client.Resource(gvr).Namespace(parent.GetNamespace())
	var live *unstructured.Unstructured
	if r.version == "" {
		live, err = rc.Create(ctx, parent, metav1.CreateOptions{FieldManager: object.FieldManager})
	} else {
		live, err = rc.Apply(ctx, parent.GetName(), parent, metav1.ApplyOptions{FieldManager: object.FieldManager, Force: true})
	}
	if err != nil {
		what := fmt.Sprintf("writing inventory ConfigMap %s/%s to cluster %s", parent.GetNamespace(), parent.GetName(), r.Cluster)
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s: %w", what, ErrInventoryMoved)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	r.version = live.GetResourceVersion()
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
