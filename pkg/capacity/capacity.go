// Package capacity counts how many replicas of one workload fit on a
// cluster, node by node, as kube-scheduler's filters would place them: the
// replica's requests in every resource it asks for (pod slots included), its
// nodeSelector, required node affinity and tolerations, on Ready nodes that
// are not cordoned. Summing spare units over the cluster instead would count
// a pod that needs two GPUs as fitting on two nodes with one GPU each.
//
// It is pure: the caller LISTs the nodes and the bound, live pods and hands
// them in, so the same inputs always give the same Fit.
package capacity

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
	corev1helper "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// Template is what one replica of a workload asks of a node: the parts of
// its pod template that the scheduler's filters look at.
type Template struct {
	// Requests is what the scheduler charges a node for one replica, per
	// resource. A replica always takes one pod slot ("pods": 1), listed or
	// not, because a node's pod count is as hard a limit as its GPUs.
	Requests     corev1.ResourceList
	NodeSelector map[string]string
	// Affinity counts only for its required node affinity; preferences and
	// pod (anti-)affinity do not change how many replicas can fit.
	Affinity    *corev1.Affinity
	Tolerations []corev1.Toleration
}

// TemplateOf is the Template of the pods a workload's pod spec makes. Its
// requests are those the pods get when the apiserver creates them (a
// container's limit stands in for a request it does not set, as GPU
// manifests commonly rely on) counted by the scheduler's rule (per resource,
// the larger of the containers' sum and each init container's request,
// sidecar init containers counted as the sidecar KEP says, pod-level
// requests where set, plus the pod overhead), so that a replica is charged
// exactly what the same pod is charged once it runs; they include the pod
// slot.
func TemplateOf(spec corev1.PodSpec) Template {
	reqs := PodRequests(asCreated(spec))
	reqs[corev1.ResourcePods] = *resource.NewQuantity(1, resource.DecimalSI)
	return Template{
		Requests:     reqs,
		NodeSelector: spec.NodeSelector,
		Affinity:     spec.Affinity,
		Tolerations:  spec.Tolerations,
	}
}

// NodeShape is one node of a node pool as it would register, for nodes that
// do not exist yet (a pool that can still scale up, a cluster not created).
type NodeShape struct {
	Allocatable corev1.ResourceList
	Labels      map[string]string
	Taints      []corev1.Taint
}

// Count is how many replicas of t fit on nodes, given the pods already
// bound to them. Pods own reports true for are the workload's own: what
// they hold counts as available to it, so a plan made right after an apply
// counts the same capacity as the plan that was applied. A nil own owns no
// pod.
//
// pods should be the pods bound to a node and not terminated, as one LIST
// with a field selector returns them; pods bound to no listed node, unbound
// pods and pods that Succeeded or Failed are ignored anyway.
func Count(t Template, nodes []corev1.Node, pods []corev1.Pod, own func(*corev1.Pod) bool) Fit {
	m := compile(t)
	var fit Fit
	used := map[string]amounts{} // by node name; present = the node is considered
	for i := range nodes {
		n := &nodes[i]
		if reason := m.leftOut(n); reason != "" {
			fit.leaveOut(reason, 1)
			continue
		}
		used[n.Name] = amounts{}
	}
	for i := range pods {
		p := &pods[i]
		u, ok := used[p.Spec.NodeName]
		if !ok || p.Spec.NodeName == "" || terminated(p) || (own != nil && own(p)) {
			continue
		}
		m.charge(u, p)
	}
	for i := range nodes {
		n := &nodes[i]
		u, ok := used[n.Name]
		if !ok {
			continue
		}
		delete(used, n.Name) // a name listed twice is one node
		fit.addNodes(m.onNode(n.Status.Allocatable, u), 1)
	}
	return fit
}

// CountShape is how many replicas of t fit on that many empty nodes of
// shape, as Count would count them once they registered Ready: what a node
// pool adds when it scales up, or has once its cluster is created.
func CountShape(t Template, shape NodeShape, nodes int) Fit {
	var fit Fit
	if nodes <= 0 {
		return fit
	}
	m := compile(t)
	n := &corev1.Node{}
	n.Labels = shape.Labels
	n.Spec.Taints = shape.Taints
	n.Status.Allocatable = shape.Allocatable
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	if reason := m.leftOut(n); reason != "" {
		fit.leaveOut(reason, nodes)
		return fit
	}
	fit.addNodes(m.onNode(shape.Allocatable, amounts{}), nodes)
	return fit
}

// Why a node is left out. Untolerated taints name the taint (see
// TaintReason), so that the explanation says which one to tolerate.
const (
	ReasonNotReady     = "not Ready"
	ReasonCordoned     = "cordoned"
	ReasonNodeSelector = "nodeSelector not matched"
	ReasonNodeAffinity = "node affinity not matched"
)

// TaintReason is why a node whose taint the template does not tolerate is
// left out, e.g. "taint nvidia.com/gpu=present:NoSchedule not tolerated".
func TaintReason(t corev1.Taint) string {
	return "taint " + t.ToString() + " not tolerated"
}

// matcher is a Template prepared for many nodes.
type matcher struct {
	t        Template
	requests amounts // resources with a positive request, pods always among them
	selector nodeaffinity.RequiredNodeAffinity
	affinity nodeaffinity.RequiredNodeAffinity
}

func compile(t Template) *matcher {
	m := &matcher{
		t:        t,
		requests: amounts{},
		selector: nodeaffinity.NewRequiredNodeAffinity(t.NodeSelector, nil),
		affinity: nodeaffinity.NewRequiredNodeAffinity(nil, t.Affinity),
	}
	for name, q := range t.Requests {
		if a := amount(name, q); a > 0 {
			m.requests[name] = a
		}
	}
	m.requests[corev1.ResourcePods] = 1
	return m
}

// quiet is where the toleration helpers log values they cannot parse: a
// pure count has nowhere to log, and the answer (not tolerated) is the same.
var quiet = klog.Logger{}

// comparisonOperators: Gt and Lt tolerations are alpha in Kubernetes 1.37
// and off by default, so the scheduler treats them as tolerating nothing.
const comparisonOperators = false

// leftOut is why the template's replicas cannot go to n at all, in the order
// the scheduler's filters run, or "" when they can.
func (m *matcher) leftOut(n *corev1.Node) string {
	if !ready(n) {
		return ReasonNotReady
	}
	// As the scheduler's NodeUnschedulable filter: a pod that tolerates the
	// unschedulable taint also goes to a cordoned node.
	if n.Spec.Unschedulable && !corev1helper.TolerationsTolerateTaint(quiet, m.t.Tolerations,
		&corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}, comparisonOperators) {
		return ReasonCordoned
	}
	if taint, untolerated := corev1helper.FindMatchingUntoleratedTaint(quiet, n.Spec.Taints, m.t.Tolerations, preventsScheduling, comparisonOperators); untolerated {
		return TaintReason(taint)
	}
	// Like the scheduler, a term that does not parse matches nothing.
	if ok, _ := m.selector.Match(n); !ok {
		return ReasonNodeSelector
	}
	if ok, _ := m.affinity.Match(n); !ok {
		return ReasonNodeAffinity
	}
	return ""
}

// preventsScheduling: PreferNoSchedule taints only lower a node's score.
func preventsScheduling(t *corev1.Taint) bool {
	return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func terminated(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// charge adds to used what pod takes of the resources the template asks
// for; other resources cannot limit the count.
func (m *matcher) charge(used amounts, pod *corev1.Pod) {
	reqs := PodRequests(pod)
	for name := range m.requests {
		if name == corev1.ResourcePods {
			used[name]++
			continue
		}
		used[name] += amount(name, reqs[name])
	}
}

// nodeFit is what one node holds for the template.
type nodeFit struct {
	replicas int64
	short    []corev1.ResourceName // when replicas is 0: every resource that lacks room for one
}

// onNode is how many replicas fit in alloc with used already taken: the
// fewest over the requested resources, each resource's free amount divided
// by the request and rounded down. A resource the node does not have, or
// has less of than is used (an overcommitted node), holds none.
func (m *matcher) onNode(alloc corev1.ResourceList, used amounts) nodeFit {
	var f nodeFit
	first := true
	for name, req := range m.requests {
		free := amount(name, alloc[name]) - used[name]
		var k int64
		if free > 0 {
			k = free / req
		}
		if k == 0 {
			f.short = append(f.short, name)
		}
		if first || k < f.replicas {
			f.replicas, first = k, false
		}
	}
	return f
}

// asCreated is a pod made from spec with its requests defaulted as the
// apiserver defaults a Pod's, and not a pod template's: a container's or init
// container's limit becomes its request where it sets none; pod-level cpu
// and memory limits without a pod-level request get the containers'
// aggregate request or, where the containers request none, the limit.
// (Pod-level hugepage limits defaulted from the containers' are left out:
// pod-level hugepages are too rare to be worth the rule.)
func asCreated(spec corev1.PodSpec) *corev1.Pod {
	pod := &corev1.Pod{Spec: *spec.DeepCopy()}
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range cs {
			r := &cs[i].Resources
			for name, q := range r.Limits {
				if _, ok := r.Requests[name]; !ok {
					if r.Requests == nil {
						r.Requests = corev1.ResourceList{}
					}
					r.Requests[name] = q.DeepCopy()
				}
			}
		}
	}
	if r := pod.Spec.Resources; r != nil && len(r.Limits) > 0 {
		reqs := maps.Clone(r.Requests)
		if reqs == nil {
			reqs = corev1.ResourceList{}
		}
		for name, q := range resourcehelper.AggregateContainerRequests(pod, resourcehelper.PodResourcesOptions{}) {
			if _, ok := reqs[name]; !ok && (name == corev1.ResourceCPU || name == corev1.ResourceMemory) {
				reqs[name] = q
			}
		}
		for name, q := range r.Limits {
			if _, ok := reqs[name]; !ok && resourcehelper.IsSupportedPodLevelResource(name) {
				reqs[name] = q.DeepCopy()
			}
		}
		r.Requests = reqs
	}
	return pod
}

// podRequests is what the scheduler charges a node for pod, with the options
// kube-scheduler runs with under the default feature gates: resized requests
// while a resize is in flight, pod-level requests where set, overhead added.
func PodRequests(pod *corev1.Pod) corev1.ResourceList {
	return resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{
		UseStatusResources: true,
		InPlacePodLevelResourcesVerticalScalingEnabled: true,
	})
}

// amounts are resource quantities in the scheduler's integer units.
type amounts map[corev1.ResourceName]int64

// amount is q in the unit the scheduler compares name in: millicores for
// cpu, so that fractional cores count; whole units, rounded up, for the
// rest (bytes, pod slots, devices such as nvidia.com/gpu).
func amount(name corev1.ResourceName, q resource.Quantity) int64 {
	if name == corev1.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}

// Fit is how many replicas of a workload fit on a set of nodes, and why the
// other nodes take none, for the plan's explanation and its fit warnings.
type Fit struct {
	Replicas int64 `json:"replicas"`
	// Considered counts the nodes the replicas may go to (Ready, not
	// cordoned, taints tolerated, selector and affinity matched), whether
	// or not any fits there.
	Considered int `json:"considered"`
	// LeftOut counts the other nodes by the first reason the scheduler
	// would reject them for: counted, not listed, for big clusters.
	LeftOut map[string]int `json:"leftOut,omitempty"`
	// NoRoom counts the considered nodes on which not one replica fits;
	// Insufficient counts them by the resource short there, as the
	// scheduler's "Insufficient nvidia.com/gpu" does (a node short of two
	// resources counts under both).
	NoRoom       int                         `json:"noRoom,omitempty"`
	Insufficient map[corev1.ResourceName]int `json:"insufficient,omitempty"`
}

func (f *Fit) leaveOut(reason string, nodes int) {
	if f.LeftOut == nil {
		f.LeftOut = map[string]int{}
	}
	f.LeftOut[reason] += nodes
}

// addNodes counts nodes considered nodes, each holding n.
func (f *Fit) addNodes(n nodeFit, nodes int) {
	f.Considered += nodes
	f.Replicas += n.replicas * int64(nodes)
	if n.replicas > 0 {
		return
	}
	f.NoRoom += nodes
	if f.Insufficient == nil {
		f.Insufficient = map[corev1.ResourceName]int{}
	}
	for _, name := range n.short {
		f.Insufficient[name] += nodes
	}
}

// Nodes is how many nodes the Fit was counted over, left out ones included.
func (f Fit) Nodes() int {
	n := f.Considered
	for v := range maps.Values(f.LeftOut) {
		n += v
	}
	return n
}
