package gkeemu

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	resourcehelper "k8s.io/component-helpers/resource"
	corev1helper "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"

	"github.com/geofed-io/kubectl-geofed/pkg/gke/nodeshape"
)

// The cluster autoscaler of node pools with autoscaling enabled, as GKE
// runs it beside every control plane. It looks at each cluster twice a
// second and does what GKE's does, in the small:
//
//   - Scale-up: pods the scheduler marked unschedulable (PodScheduled=False,
//     reason Unschedulable) that fit no existing node but would fit an empty
//     node of a pool (requests, GPUs included, and pod slots; nodeSelector and
//     required node affinity against the pool's node labels; tolerations,
//     with the one GKE's admission gives pods that request GPUs, against its
//     taints, GKE's GPU taint among them) are packed first-fit onto new nodes
//     of the first such pool, in pool order, that has room below
//     maxNodeCount. Once the oldest of them has waited Options.ScaleUpDelay,
//     the pool grows by those nodes in one step.
//   - Scale-down: a node of an autoscaled pool that has run no pods but
//     DaemonSet and mirror pods for Options.ScaleDownIdle, and that no
//     unschedulable pod fits on, is removed, down to minNodeCount; not while
//     unschedulable pods would fit the pool. The idle node itself goes, not
//     the pool's last one, so no running pod is evicted.
//
// The pool's record follows, as GKE's does: currentNodeCount and quota
// usage count the new size, initialNodeCount keeps its creation-time value.
// pkg/gke's plan does not compare the size of an autoscaled pool, so a move
// within [min, max] is no change.
//
// Where the lab is simpler than GKE:
//
//   - The emulator keeps every zone of a pool at the same size, so a step
//     adds or removes the same number of nodes in each zone.
//   - Pod affinity and topology spread are not simulated, a new node's
//     ephemeral storage is its boot disk, and no pod is evicted to empty a
//     node for removal.
//   - The autoscaler's resizes are not operations and, like GKE's, refuse
//     none: they are skipped while an operation runs on the cluster, and an
//     operation that begins during one waits for it before its own work.

// Default autoscaler timing: short, so that the lab converges in seconds.
const (
	defaultScaleUpDelay  = 2 * time.Second
	defaultScaleDownIdle = 30 * time.Second
	// autoscalerPeriod is how often the autoscaler looks at each cluster.
	autoscalerPeriod = 500 * time.Millisecond
	// autoscalerLookTimeout bounds reading one cluster's pods and nodes.
	autoscalerLookTimeout = 10 * time.Second
	// autoscalerParallel bounds the clusters looked at together.
	autoscalerParallel = 8
)

// Autoscalable is a Provisioner whose clusters the emulator's cluster
// autoscaler can watch: they run a scheduler that marks pods unschedulable,
// and their nodes of a pool end their names in "-INDEX" (see
// NodePoolNodes.Indexes). The lab's provisioner is one; with another, the
// emulator runs no autoscaler.
type Autoscalable interface {
	Provisioner
	// RESTConfig is how to reach the named cluster's apiserver as an admin.
	RESTConfig(name string) (*rest.Config, error)
}

// autoscaler runs the looks at every cluster with an autoscaled pool.
type autoscaler struct {
	s    *Server
	prov Autoscalable

	mu      sync.Mutex
	watched map[*cluster]*watch // a deleted cluster's watch goes with it
}

// watch is what the autoscaler keeps about one cluster between looks. Only
// the look under way uses it; looking is guarded by autoscaler.mu.
type watch struct {
	looking bool
	client  kubernetes.Interface
	memory  memory
	// said is the last problem logged, so that a cluster that stays dark
	// or out of quota is reported once, not twice a second.
	said string
}

// memory is what decide remembers from one look to the next.
type memory struct {
	// pendingSince is when each unschedulable pod, by UID, was first seen.
	pendingSince map[types.UID]time.Time
	// idleSince is when each node of an autoscaled pool was first seen
	// without workload pods.
	idleSince map[string]time.Time
}

func (s *Server) startAutoscaler() {
	prov, ok := s.opts.Provisioner.(Autoscalable)
	if !ok {
		return
	}
	a := &autoscaler{s: s, prov: prov, watched: map[*cluster]*watch{}}
	s.ops.Add(1)
	go func() {
		defer s.ops.Done()
		a.run(s.ctx)
	}()
}

// run looks at the clusters until ctx ends, then waits for the looks.
func (a *autoscaler) run(ctx context.Context) {
	var g errgroup.Group
	g.SetLimit(autoscalerParallel)
	defer g.Wait()
	tick := time.NewTicker(autoscalerPeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for c, w := range a.due() {
			started := g.TryGo(func() error {
				defer a.done(w)
				a.look(ctx, c, w)
				return nil
			})
			if !started {
				a.done(w) // every slot is busy; next tick
			}
		}
	}
}

// due lists the clusters to look at now: RUNNING, no operation running, an
// autoscaled pool, and no look at them still under way. It forgets the
// clusters that were deleted.
func (a *autoscaler) due() map[*cluster]*watch {
	a.s.mu.Lock()
	live := make(map[*cluster]bool, len(a.s.clusters))
	var ready []*cluster
	for _, c := range a.s.clusters {
		live[c] = true
		if c.scalable() && slices.ContainsFunc(c.pools, (*nodePool).autoscaled) {
			ready = append(ready, c)
		}
	}
	a.s.mu.Unlock()

	a.mu.Lock()
	defer a.mu.Unlock()
	for c := range a.watched {
		if !live[c] {
			delete(a.watched, c)
		}
	}
	out := map[*cluster]*watch{}
	for _, c := range ready {
		w := a.watched[c]
		if w == nil {
			w = &watch{memory: memory{pendingSince: map[types.UID]time.Time{}, idleSince: map[string]time.Time{}}}
			a.watched[c] = w
		}
		if !w.looking {
			w.looking = true
			out[c] = w
		}
	}
	return out
}

func (a *autoscaler) done(w *watch) {
	a.mu.Lock()
	defer a.mu.Unlock()
	w.looking = false
}

// scalable reports whether the autoscaler may resize c now. The caller
// holds the server lock.
func (c *cluster) scalable() bool {
	return c.cp != nil && c.busy == "" && c.pb.Status == containerpb.Cluster_RUNNING
}

func (p *nodePool) autoscaled() bool { return p.pb.Autoscaling.GetEnabled() }

// look reads the cluster's nodes and pods, decides and takes the step.
func (a *autoscaler) look(ctx context.Context, c *cluster, w *watch) {
	a.s.mu.Lock()
	ok := c.scalable() && !a.s.stopped
	pools := scaledPools(c)
	a.s.mu.Unlock()
	if !ok {
		return
	}
	nodes, pods, err := a.read(ctx, c, w)
	if err != nil {
		if ctx.Err() == nil {
			a.say(c, w, "reading the cluster's nodes and pods: "+err.Error())
		}
		return
	}
	st := decide(pools, nodes, pods, &w.memory, time.Now(), a.s.opts.ScaleUpDelay, a.s.opts.ScaleDownIdle)
	if len(st.grow) == 0 && len(st.remove) == 0 {
		return
	}
	a.take(ctx, c, w, pools, st)
}

func (a *autoscaler) read(ctx context.Context, c *cluster, w *watch) ([]corev1.Node, []corev1.Pod, error) {
	if w.client == nil {
		cfg, err := a.prov.RESTConfig(c.ref.cluster)
		if err != nil {
			return nil, nil, err
		}
		// Two LISTs a look, two looks a second: above client-go's default.
		cfg = rest.CopyConfig(cfg)
		cfg.QPS, cfg.Burst = 20, 40
		if w.client, err = kubernetes.NewForConfig(cfg); err != nil {
			return nil, nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, autoscalerLookTimeout)
	defer cancel()
	nodes, err := w.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	pods, err := w.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	return nodes.Items, pods.Items, nil
}

// say logs a problem unless it is the one logged last.
func (a *autoscaler) say(c *cluster, w *watch, problem string) {
	if problem != w.said {
		w.said = problem
		a.s.logf("autoscaler %s: %s", c.ref, problem)
	}
}

// take records st in the cluster's pools and resizes the nodes to match.
// It gives up, to decide again at the next look, when an operation's work
// holds the provisioner or the pools changed since the look began; a
// failed resize is undone unless an operation began meanwhile, which then
// resizes from the record.
func (a *autoscaler) take(ctx context.Context, c *cluster, w *watch, seen []scaledPool, st step) {
	if !c.provisioning.TryLock() {
		return
	}
	defer c.provisioning.Unlock()
	s := a.s
	s.mu.Lock()
	if s.stopped || !c.scalable() || !slices.EqualFunc(seen, scaledPools(c), sameRecord) {
		s.mu.Unlock()
		return
	}
	type undo struct {
		perZone int32
		kept    map[string][]int
	}
	undos := map[*nodePool]undo{}
	var did, refused []string
	for _, p := range c.pools {
		name := p.pb.Name
		if add := st.grow[name]; add > 0 {
			next := p.clone()
			next.perZone += add
			var err error
			for ; next.perZone > p.perZone; next.perZone-- {
				if err = s.checkQuotaLocked(c.ref.project, c.place.region, growth(next, p)); err == nil {
					break
				}
			}
			if next.perZone == p.perZone {
				refused = append(refused, fmt.Sprintf("node pool %s: not scaled up for %d unschedulable pods: %s",
					name, st.pods[name], status.Convert(err).Message()))
				continue
			}
			undos[p] = undo{p.perZone, p.kept}
			did = append(did, fmt.Sprintf("node pool %s: %d → %d nodes per zone for %d unschedulable pods",
				name, p.perZone, next.perZone, st.pods[name]))
			p.perZone = next.perZone
		}
		if rm := st.remove[name]; len(rm) > 0 {
			undos[p] = undo{p.perZone, p.kept}
			kept := maps.Clone(p.kept)
			if kept == nil {
				kept = map[string][]int{}
			}
			for _, z := range p.zones {
				kept[z] = slices.DeleteFunc(allIndexes(p, z), func(i int) bool { return slices.Contains(rm[z], i) })
			}
			did = append(did, fmt.Sprintf("node pool %s: %d → %d nodes per zone, removed idle %s",
				name, p.perZone, len(kept[p.zones[0]]), strings.Join(st.removed[name], ", ")))
			p.kept = kept
			p.perZone = int32(len(kept[p.zones[0]]))
		}
	}
	if len(refused) > 0 {
		a.say(c, w, strings.Join(refused, "; "))
		// Wait ScaleUpDelay again before asking for the quota again.
		clear(w.memory.pendingSince)
	}
	if len(undos) == 0 {
		s.mu.Unlock()
		return
	}
	nodes := c.nodes()
	s.mu.Unlock()
	for _, line := range did {
		s.logf("autoscaler %s: %s", c.ref, line)
	}

	err := s.opts.Provisioner.Resize(ctx, c.ref.cluster, nodes)
	if err == nil {
		w.said = ""
		if len(st.grow) > 0 {
			// The pods it was for are placed now, or wait afresh.
			clear(w.memory.pendingSince)
		}
		return
	}
	s.mu.Lock()
	if c.busy == "" {
		for p, u := range undos {
			p.perZone, p.kept = u.perZone, u.kept
		}
	}
	s.mu.Unlock()
	if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
		a.say(c, w, "resizing node pools: "+err.Error())
	}
}

// scaledPool is an autoscaled node pool as one look sees it.
type scaledPool struct {
	// rec, pb, perZone and kept tell whether the record changed since: an
	// operation that changes the pool replaces pb.
	rec               *nodePool
	pb                *containerpb.NodePool
	kept              map[string][]int
	name              string
	perZone, min, max int32
	zones             []string
	indexes           map[string][]int // by zone: the indexes of its nodes
	templates         []*corev1.Node   // by zone, in zones' order: a node it would add
}

// sameRecord reports whether a pool's record is as a look saw it.
func sameRecord(a, b scaledPool) bool {
	return a.rec == b.rec && a.pb == b.pb && a.perZone == b.perZone && maps.EqualFunc(a.kept, b.kept, slices.Equal)
}

// scaledPools are c's autoscaled pools, in pool order. The caller holds the
// server lock.
func scaledPools(c *cluster) []scaledPool {
	var out []scaledPool
	for _, p := range c.pools {
		if p.autoscaled() {
			out = append(out, scaledPoolOf(p))
		}
	}
	return out
}

func scaledPoolOf(p *nodePool) scaledPool {
	sp := scaledPool{
		rec: p, pb: p.pb, kept: p.kept, name: p.pb.Name, perZone: p.perZone,
		min: p.pb.Autoscaling.GetMinNodeCount(), max: p.pb.Autoscaling.GetMaxNodeCount(),
		zones: p.zones, indexes: map[string][]int{},
	}
	for _, np := range p.nodes() {
		sp.indexes[np.Zone] = allIndexes(p, np.Zone)
		sp.templates = append(sp.templates, template(np))
	}
	return sp
}

// allIndexes are the indexes of the pool's nodes in zone.
func allIndexes(p *nodePool, zone string) []int {
	if idx := p.zoneIndexes(zone); idx != nil {
		return idx
	}
	out := make([]int, p.perZone)
	for i := range out {
		out[i] = i
	}
	return out
}

// template is a node the pool would add in np's zone, as the scheduler
// would see it: the lab makes its nodes alike (see NodePoolNodes.Node).
func template(np NodePoolNodes) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Labels: np.Node.Labels},
		Spec:       corev1.NodeSpec{Taints: np.Node.Taints},
		Status:     corev1.NodeStatus{Allocatable: np.Node.Allocatable},
	}
}

// step is what one look decided.
type step struct {
	// grow is, by pool, how many nodes to add in each of its zones; pods
	// how many unschedulable pods they are for.
	grow map[string]int32
	pods map[string]int
	// remove is, by pool and zone, the indexes of the idle nodes to remove;
	// removed their names.
	remove  map[string]map[string][]int
	removed map[string][]string
}

// decide is the autoscaler's policy (see the top of this file): from the
// pools, the cluster's nodes and pods and what it remembers from earlier
// looks, which it updates, the step to take at now.
func decide(pools []scaledPool, nodes []corev1.Node, pods []corev1.Pod, m *memory, now time.Time, delay, idle time.Duration) step {
	st := step{grow: map[string]int32{}, pods: map[string]int{}, remove: map[string]map[string][]int{}, removed: map[string][]string{}}
	busy := map[string]bool{} // nodes running workload pods, or about to
	free := freeSlots(nodes, pods)
	for i := range pods {
		if p := &pods[i]; p.Spec.NodeName != "" && !terminal(p) && !daemon(p) {
			busy[p.Spec.NodeName] = true
		}
	}

	// Scale-up.
	bins := make([][]corev1.ResourceList, len(pools))
	oldest := make([]time.Time, len(pools))
	wanted := make([]bool, len(pools)) // an unschedulable pod fits the pool
	waiting := map[types.UID]bool{}
	for _, pod := range unschedulable(pods) {
		waiting[pod.UID] = true
		since, ok := m.pendingSince[pod.UID]
		if !ok {
			since = now
			m.pendingSince[pod.UID] = now
		}
		req := podRequests(pod)
		tolerations := gkeTolerations(pod, req)
		if n := placeOnExisting(pod, req, tolerations, free); n != "" {
			busy[n] = true // the scheduler will place it there
			continue
		}
		for i, p := range pools {
			t := p.templateFor(pod, tolerations)
			if t == nil || !fitsIn(req, t.Status.Allocatable) {
				continue
			}
			wanted[i] = true
			room := int(p.max-p.perZone) * len(p.zones)
			if !pack(&bins[i], req, t.Status.Allocatable, room) {
				continue
			}
			if oldest[i].IsZero() || since.Before(oldest[i]) {
				oldest[i] = since
			}
			st.pods[p.name]++
			break
		}
	}
	for uid := range m.pendingSince {
		if !waiting[uid] {
			delete(m.pendingSince, uid)
		}
	}
	for i, p := range pools {
		if n := len(bins[i]); n > 0 && now.Sub(oldest[i]) >= delay {
			st.grow[p.name] = min(int32((n+len(p.zones)-1)/len(p.zones)), p.max-p.perZone)
		} else {
			delete(st.pods, p.name)
		}
	}

	// Scale-down.
	present := map[string]bool{}
	for i, p := range pools {
		idleIn := map[string][]int{} // by zone: the long-idle nodes' indexes
		names := map[string]map[int]string{}
		for j := range nodes {
			n := &nodes[j]
			zone := n.Labels[corev1.LabelTopologyZone]
			idx, ok := nodeIndex(n.Name)
			if n.Labels[nodeshape.LabelNodePool] != p.name || !ok || !slices.Contains(p.indexes[zone], idx) || n.DeletionTimestamp != nil {
				continue
			}
			present[n.Name] = true
			if busy[n.Name] {
				delete(m.idleSince, n.Name)
				continue
			}
			since, ok := m.idleSince[n.Name]
			if !ok {
				since = now
				m.idleSince[n.Name] = now
			}
			if now.Sub(since) >= idle {
				idleIn[zone] = append(idleIn[zone], idx)
				if names[zone] == nil {
					names[zone] = map[int]string{}
				}
				names[zone][idx] = n.Name
			}
		}
		if wanted[i] || st.grow[p.name] > 0 || p.perZone <= p.min {
			continue
		}
		k := int(p.perZone - p.min)
		for _, z := range p.zones {
			k = min(k, len(idleIn[z]))
		}
		if k == 0 {
			continue
		}
		st.remove[p.name] = map[string][]int{}
		for _, z := range p.zones {
			idx := slices.Sorted(slices.Values(idleIn[z]))
			idx = idx[len(idx)-k:] // the highest: the pool keeps its first nodes
			st.remove[p.name][z] = idx
			for _, x := range idx {
				st.removed[p.name] = append(st.removed[p.name], names[z][x])
			}
		}
	}
	for name := range m.idleSince {
		if !present[name] {
			delete(m.idleSince, name)
		}
	}
	return st
}

// slot is an existing node's room for more pods.
type slot struct {
	node *corev1.Node
	free corev1.ResourceList
}

// freeSlots is the room on the Ready, schedulable nodes, by node name order.
func freeSlots(nodes []corev1.Node, pods []corev1.Pod) []*slot {
	byName := map[string]*slot{}
	var out []*slot
	for i := range nodes {
		n := &nodes[i]
		if n.Spec.Unschedulable || n.DeletionTimestamp != nil || !ready(n) {
			continue
		}
		s := &slot{node: n, free: n.Status.Allocatable.DeepCopy()}
		byName[n.Name] = s
		out = append(out, s)
	}
	for i := range pods {
		p := &pods[i]
		if s := byName[p.Spec.NodeName]; s != nil && !terminal(p) {
			subtract(s.free, podRequests(p))
		}
	}
	slices.SortFunc(out, func(a, b *slot) int { return strings.Compare(a.node.Name, b.node.Name) })
	return out
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// unschedulable are the pods the scheduler could not place, oldest first.
func unschedulable(pods []corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range pods {
		p := &pods[i]
		if p.Spec.NodeName != "" || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				out = append(out, p)
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return out
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// daemon reports whether p runs on every node anyway, which does not keep a
// node from being removed: a DaemonSet's pod or a mirror pod.
func daemon(p *corev1.Pod) bool {
	if _, ok := p.Annotations[corev1.MirrorPodAnnotationKey]; ok {
		return true
	}
	owner := metav1.GetControllerOf(p)
	return owner != nil && owner.Kind == "DaemonSet"
}

// podRequests is what the scheduler charges a node for p (init containers
// and overhead included), plus its pod slot.
func podRequests(p *corev1.Pod) corev1.ResourceList {
	req := resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{})
	req[corev1.ResourcePods] = *resource.NewQuantity(1, resource.DecimalSI)
	return req
}

// gkeTolerations are p's tolerations plus the one GKE's admission adds to
// pods that request GPUs (ExtendedResourceToleration).
func gkeTolerations(p *corev1.Pod, req corev1.ResourceList) []corev1.Toleration {
	t := p.Spec.Tolerations
	if q, ok := req[nodeshape.GPUResource]; ok && q.Sign() > 0 {
		t = append(slices.Clip(t), corev1.Toleration{Key: nodeshape.GPUTaintKey, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	return t
}

// quiet is where the toleration helpers would log values they cannot
// parse; the answer, not tolerated, is what matters here.
var quiet = klog.Logger{}

// admits reports whether n's taints and labels let p on, as the scheduler's
// TaintToleration and NodeAffinity filters do.
func admits(n *corev1.Node, p *corev1.Pod, tolerations []corev1.Toleration) bool {
	_, untolerated := corev1helper.FindMatchingUntoleratedTaint(quiet, n.Spec.Taints, tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	}, false)
	if untolerated {
		return false
	}
	ok, err := nodeaffinity.GetRequiredNodeAffinity(p).Match(n)
	return ok && err == nil
}

// placeOnExisting takes room for p on the first existing node it fits and
// names it, or returns "".
func placeOnExisting(p *corev1.Pod, req corev1.ResourceList, tolerations []corev1.Toleration, slots []*slot) string {
	for _, s := range slots {
		if admits(s.node, p, tolerations) && fitsIn(req, s.free) {
			subtract(s.free, req)
			return s.node.Name
		}
	}
	return ""
}

// templateFor is the first of the pool's zones' nodes that admits p.
func (sp scaledPool) templateFor(p *corev1.Pod, tolerations []corev1.Toleration) *corev1.Node {
	for _, t := range sp.templates {
		if admits(t, p, tolerations) {
			return t
		}
	}
	return nil
}

// pack puts req on the first new node with room, or on another new node of
// allocatable alloc when there are fewer than room.
func pack(bins *[]corev1.ResourceList, req, alloc corev1.ResourceList, room int) bool {
	for _, b := range *bins {
		if fitsIn(req, b) {
			subtract(b, req)
			return true
		}
	}
	if len(*bins) >= room {
		return false
	}
	b := alloc.DeepCopy()
	subtract(b, req)
	*bins = append(*bins, b)
	return true
}

// fitsIn reports whether every resource req asks for is there in free.
func fitsIn(req, free corev1.ResourceList) bool {
	for name, q := range req {
		if q.Sign() <= 0 {
			continue
		}
		have, ok := free[name]
		if !ok || have.Cmp(q) < 0 {
			return false
		}
	}
	return true
}

func subtract(free, req corev1.ResourceList) {
	for name, q := range req {
		if have, ok := free[name]; ok {
			have.Sub(q)
			free[name] = have
		}
	}
}

// nodeIndex is the index a node's name ends in ("gke-c-pool-a-2": 2).
func nodeIndex(name string) (int, bool) {
	i, err := strconv.Atoi(name[strings.LastIndex(name, "-")+1:])
	return i, err == nil && i >= 0
}
