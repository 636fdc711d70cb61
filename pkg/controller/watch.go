package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// Reasons a member watch asks for a reconcile, the label of
// geofed_reconcile_triggers_total.
const (
	TriggerDrift    = "drift"
	TriggerCapacity = "capacity"
	// TriggerHealth: a member's health probe found it dark, or back.
	TriggerHealth = "health"
)

// Default coalescing of member events: a hand edit is corrected about
// DefaultDriftDelay after it (long enough to gather the events of one
// `kubectl apply` of many objects into one pass over their member, short
// against a correction's budget), and capacity changes (pods starting and
// ending all day long) re-plan a topology at most every
// DefaultCapacityDelay.
const (
	DefaultDriftDelay    = 300 * time.Millisecond
	DefaultCapacityDelay = 15 * time.Second
)

// digestAnnotation holds, on the stripped copies the member informers
// keep, the digest the event filter compares: the informers keep only
// names and this, never the objects.
const digestAnnotation = "geofed.io/watch-digest"

// MemberWatch is what to watch on one member for one Topology.
type MemberWatch struct {
	Cluster string
	// Config reaches the member; Key changes when it does (a new Secret),
	// and the watch is then started again.
	Config *rest.Config
	Key    string
	// Resources are the kinds geofed applies there, watched filtered by
	// geofed.io/topology=<topology>.
	Resources []schema.GroupVersionResource
	// Capacity watches nodes and pods too: some workload divides its
	// replicas by what fits.
	Capacity bool
}

func (m MemberWatch) same(o MemberWatch) bool {
	return m.Key == o.Key && m.Capacity == o.Capacity && slices.Equal(m.Resources, o.Resources)
}

// Watches keeps informers on the members of every Topology and turns
// what they see into reconciles: a change to an object geofed applied made
// by anyone but geofed (a hand edit, a deletion), and — for topologies
// that divide by capacity — a node or a pod coming, going or changing
// what it offers or takes. The reconcile decides what, if anything, to
// do: a capacity change that moves no placement plans to no changes.
type Watches struct {
	// DriftDelay and CapacityDelay coalesce events (defaults above).
	DriftDelay, CapacityDelay time.Duration
	// Triggered counts the reconciles asked for, by reason; may be nil.
	Triggered func(topo types.NamespacedName, reason string)

	events chan event.TypedGenericEvent[*v1alpha1.Topology]
	mu     sync.Mutex
	// topologies holds, per Topology, its running member watches.
	topologies map[types.NamespacedName]map[string]*runningWatch
	// pending says a reconcile is already scheduled for a Topology for a
	// reason: each reason keeps its own delay, so a hand edit is not held
	// behind a capacity change's longer one.
	pending map[pendingKey]bool
	// dirty is, per Topology, what the events that fired since its last
	// reconcile touched (see Take).
	dirty map[types.NamespacedName]*Dirty
	ctx   context.Context
}

type pendingKey struct {
	topo   types.NamespacedName
	reason string
}

// Dirty is what changed on the members of one Topology since its last
// reconcile: objects geofed applied on Members (hand edits, deletions),
// or an input of placement (Fleet: capacity, a member's health).
type Dirty struct {
	Members map[string]bool
	Fleet   bool
}

type runningWatch struct {
	spec   MemberWatch
	cancel context.CancelFunc
}

// NewWatches makes an empty set; Start runs it within the manager.
func NewWatches() *Watches {
	return &Watches{
		events:     make(chan event.TypedGenericEvent[*v1alpha1.Topology], 64),
		topologies: map[types.NamespacedName]map[string]*runningWatch{},
		pending:    map[pendingKey]bool{},
		dirty:      map[types.NamespacedName]*Dirty{},
	}
}

// Source is the reconcile trigger for the Topology controller.
func (w *Watches) Source() source.Source {
	return source.Channel(w.events, &handler.TypedEnqueueRequestForObject[*v1alpha1.Topology]{})
}

// Start keeps the watches until ctx ends (a manager Runnable: it runs only
// on the leader, as the reconciles do).
func (w *Watches) Start(ctx context.Context) error {
	w.mu.Lock()
	w.ctx = ctx
	w.mu.Unlock()
	<-ctx.Done()
	w.mu.Lock()
	defer w.mu.Unlock()
	for topo := range w.topologies {
		w.stopLocked(topo)
	}
	return nil
}

// NeedLeaderElection: only the leader reconciles, so only it watches.
func (w *Watches) NeedLeaderElection() bool { return true }

// Ensure makes the watches of one Topology be specs: new members are
// watched, gone ones stopped, changed ones started again.
func (w *Watches) Ensure(topo types.NamespacedName, specs []MemberWatch) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx == nil || w.ctx.Err() != nil {
		return
	}
	running := w.topologies[topo]
	if running == nil {
		running = map[string]*runningWatch{}
		w.topologies[topo] = running
	}
	want := map[string]bool{}
	for _, s := range specs {
		want[s.Cluster] = true
		if r, ok := running[s.Cluster]; ok && r.spec.same(s) {
			continue
		} else if ok {
			r.cancel()
		}
		ctx, cancel := context.WithCancel(w.ctx)
		running[s.Cluster] = &runningWatch{spec: s, cancel: cancel}
		w.start(ctx, topo, s)
	}
	for name, r := range running {
		if !want[name] {
			r.cancel()
			delete(running, name)
		}
	}
}

// Forget stops the watches of a deleted Topology.
func (w *Watches) Forget(topo types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopLocked(topo)
}

func (w *Watches) stopLocked(topo types.NamespacedName) {
	for _, r := range w.topologies[topo] {
		r.cancel()
	}
	delete(w.topologies, topo)
	delete(w.dirty, topo)
}

// Take is what changed on topo's members since the last Take, and clears
// it: the reconcile that calls it handles all of it.
func (w *Watches) Take(topo types.NamespacedName) Dirty {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.dirty[topo]
	delete(w.dirty, topo)
	if d == nil {
		return Dirty{}
	}
	return *d
}

// Watching lists the members watched for a Topology, with their kinds, for
// tests and the log.
func (w *Watches) Watching(topo types.NamespacedName) map[string]MemberWatch {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]MemberWatch{}
	for name, r := range w.topologies[topo] {
		out[name] = r.spec
	}
	return out
}

// trigger asks for a reconcile of topo after delay, once however many
// events of the same reason arrive meanwhile. An object's drift marks its
// cluster dirty; any other reason marks the fleet. The mark is made when
// the delay ends, so the reconcile it starts sees it.
func (w *Watches) trigger(topo types.NamespacedName, cluster, reason string, delay time.Duration) {
	key := pendingKey{topo, reason}
	w.mu.Lock()
	if w.pending[key] {
		// Coalesced, but its cluster must still be marked.
		w.markLocked(topo, cluster, reason)
		w.mu.Unlock()
		return
	}
	w.pending[key] = true
	ctx := w.ctx
	w.mu.Unlock()
	if w.Triggered != nil {
		w.Triggered(topo, reason)
	}
	time.AfterFunc(delay, func() {
		w.mu.Lock()
		delete(w.pending, key)
		w.markLocked(topo, cluster, reason)
		w.mu.Unlock()
		obj := &v1alpha1.Topology{ObjectMeta: metav1.ObjectMeta{Namespace: topo.Namespace, Name: topo.Name}}
		select {
		case w.events <- event.TypedGenericEvent[*v1alpha1.Topology]{Object: obj}:
		case <-ctx.Done():
		}
	})
}

func (w *Watches) markLocked(topo types.NamespacedName, cluster, reason string) {
	d := w.dirty[topo]
	if d == nil {
		d = &Dirty{Members: map[string]bool{}}
		w.dirty[topo] = d
	}
	if reason == TriggerDrift && cluster != "" {
		d.Members[cluster] = true
	} else {
		d.Fleet = true
	}
}

func (w *Watches) driftDelay() time.Duration {
	if w.DriftDelay > 0 {
		return w.DriftDelay
	}
	return DefaultDriftDelay
}

func (w *Watches) capacityDelay() time.Duration {
	if w.CapacityDelay > 0 {
		return w.CapacityDelay
	}
	return DefaultCapacityDelay
}

// start runs the informers of one member until ctx ends. Errors reaching
// the member are the reconcile's to report (and failover's to act on): the
// informers retry quietly.
func (w *Watches) start(ctx context.Context, topo types.NamespacedName, s MemberWatch) {
	cfg := rest.CopyConfig(s.Config)
	// Watches are long requests: the engine's per-request timeout would
	// cut them.
	cfg.Timeout = 0
	quiet := func(*cache.Reflector, error) {}

	if len(s.Resources) > 0 {
		if mc, err := metadata.NewForConfig(cfg); err == nil {
			f := metadatainformer.NewFilteredSharedInformerFactory(mc, 0, metav1.NamespaceAll, func(o *metav1.ListOptions) {
				o.LabelSelector = object.LabelTopology + "=" + topo.Name
			})
			for _, gvr := range s.Resources {
				inf := f.ForResource(gvr).Informer()
				_ = inf.SetTransform(stripOwned)
				_ = inf.SetWatchErrorHandler(quiet)
				_, _ = inf.AddEventHandler(digestHandler(func() { w.trigger(topo, s.Cluster, TriggerDrift, w.driftDelay()) }, true))
			}
			f.Start(ctx.Done())
		}
	}
	if s.Capacity {
		if kc, err := kubernetes.NewForConfig(cfg); err == nil {
			f := informers.NewSharedInformerFactory(kc, 0)
			capacity := func() { w.trigger(topo, s.Cluster, TriggerCapacity, w.capacityDelay()) }
			nodes := f.Core().V1().Nodes().Informer()
			_ = nodes.SetTransform(stripNode)
			_ = nodes.SetWatchErrorHandler(quiet)
			_, _ = nodes.AddEventHandler(digestHandler(capacity, false))
			pods := f.Core().V1().Pods().Informer()
			_ = pods.SetTransform(stripPod)
			_ = pods.SetWatchErrorHandler(quiet)
			_, _ = pods.AddEventHandler(digestHandler(capacity, false))
			f.Start(ctx.Done())
		}
	}
}

// digestHandler calls fire when an object's digest moves, or when it
// goes; an added object fires only when it already differs from an empty
// digest's meaning (owned: someone else holds fields of it; capacity:
// always, after the initial list). An owned object in the initial list
// fires too when someone else holds fields of it: the reconcile that
// started the watch read the member before the watch began, and an edit
// made in between would otherwise stand until the resync. Capacity's
// initial list never fires: that reconcile has just counted it.
func digestHandler(fire func(), owned bool) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if initial && !owned {
				return
			}
			if !owned || digestOf(obj) != "" {
				fire()
			}
		},
		UpdateFunc: func(old, new any) {
			if changed(old, new, owned) {
				fire()
			}
		},
		DeleteFunc: func(any) { fire() },
	}
}

// changed says whether an update asks for a reconcile: the digest moved
// and, for an object geofed applied, someone but geofed still holds fields
// of it. An owned object whose digest became empty is one geofed just took
// back (its apply removed the editor's fields): its own correction, which
// must not ask for one more reconcile that would find nothing to do.
func changed(old, new any, owned bool) bool {
	d := digestOf(new)
	return d != digestOf(old) && (!owned || d != "")
}

func digestOf(obj any) string {
	if m, ok := obj.(metav1.Object); ok {
		return m.GetAnnotations()[digestAnnotation]
	}
	return ""
}

// stripOwned keeps of an object geofed applied its name and the digest of
// what others did to it: every managedFields entry but geofed's own and
// status writers', with their times (a second `kubectl edit` of the same
// field changes only its entry's time), and the deletion mark. So geofed's
// own applies and controllers writing status never trigger a reconcile;
// any edit, scale, label or annotation by anyone else does.
func stripOwned(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	var others []metav1.ManagedFieldsEntry
	for _, e := range m.ManagedFields {
		if e.Manager == object.FieldManager || e.Subresource == "status" {
			continue
		}
		others = append(others, e)
	}
	var d string
	if len(others) > 0 || m.DeletionTimestamp != nil {
		d = hash(others, m.DeletionTimestamp)
	}
	return stripped(m.ObjectMeta, d), nil
}

// stripNode keeps what counting replicas on a node reads.
func stripNode(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	var ready corev1.ConditionStatus
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status
		}
	}
	d := hash(n.Labels, n.Spec.Taints, n.Spec.Unschedulable, n.Status.Allocatable, ready)
	return stripped(n.ObjectMeta, d), nil
}

// stripPod keeps what a pod takes from a node: where it is bound, whether
// it still runs, and its containers' requests.
func stripPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	done := p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	var requests []corev1.ResourceList
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			requests = append(requests, c.Resources.Requests)
		}
	}
	d := hash(p.Spec.NodeName, done, requests, p.Spec.Overhead)
	return stripped(p.ObjectMeta, d), nil
}

func stripped(m metav1.ObjectMeta, digest string) *metav1.PartialObjectMetadata {
	out := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
	}}
	if digest != "" {
		out.Annotations = map[string]string{digestAnnotation: digest}
	}
	return out
}

func hash(parts ...any) string {
	data, err := json.Marshal(parts)
	if err != nil {
		// Plain API types always marshal; an impossible failure fires
		// rather than hides a change.
		return "unhashable:" + err.Error()
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// sortResources orders watched kinds without duplicates, so equal sets
// compare equal.
func sortResources(rs []schema.GroupVersionResource) []schema.GroupVersionResource {
	slices.SortFunc(rs, func(a, b schema.GroupVersionResource) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(rs)
}
