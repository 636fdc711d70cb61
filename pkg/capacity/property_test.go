package capacity

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// TestCountProperties counts many random clusters and checks what must hold
// for every one of them:
//   - the count equals a reference that filters nodes by hand and places
//     replicas one at a time with exact quantity arithmetic, as a scheduler
//     binding them one by one would;
//   - every node is counted once, considered or left out;
//   - adding a node never lowers the count, nor does removing a pod that is
//     not the workload's own;
//   - the workload's own pods change nothing;
//   - the order of nodes and pods changes nothing;
//   - CountShape over k nodes of a shape equals Count over k such nodes.
func TestCountProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(20250117, 13))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := range n {
		if !checkRandomCount(t, rng) {
			t.Fatalf("case %d failed", i)
		}
	}
}

// FuzzCount explores the same properties from fuzzer-chosen seeds, for
// longer runs: go test -fuzz FuzzCount ./pkg/capacity/
func FuzzCount(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(20250117), uint64(13))
	f.Fuzz(func(t *testing.T, seed1, seed2 uint64) {
		checkRandomCount(t, rand.New(rand.NewPCG(seed1, seed2)))
	})
}

func checkRandomCount(t *testing.T, rng *rand.Rand) bool {
	t.Helper()
	c := randomCluster(rng)
	tmpl := TemplateOf(c.spec)
	fit := Count(tmpl, c.nodes, c.pods, own)
	fail := func(format string, args ...any) bool {
		t.Errorf("%s\n%s", fmt.Sprintf(format, args...), c.describe())
		return false
	}

	if want := referenceCount(c); fit.Replicas != want {
		return fail("Count = %d replicas, reference %d (%s)", fit.Replicas, want, fit)
	}
	if fit.Nodes() != len(c.nodes) {
		return fail("Nodes() = %d over %d nodes", fit.Nodes(), len(c.nodes))
	}
	if fit.NoRoom > fit.Considered || (fit.NoRoom == fit.Considered && fit.Replicas != 0) {
		return fail("NoRoom %d of %d considered, %d replicas", fit.NoRoom, fit.Considered, fit.Replicas)
	}

	more := append(append([]corev1.Node(nil), c.nodes...), randomNode(rng, fmt.Sprintf("added-%d", len(c.nodes))))
	if got := Count(tmpl, more, c.pods, own); got.Replicas < fit.Replicas {
		return fail("adding node %s lowered the count from %d to %d", describeNode(&more[len(more)-1]), fit.Replicas, got.Replicas)
	}

	var others, notOwn []corev1.Pod
	for i, p := range c.pods {
		if own(&c.pods[i]) {
			continue
		}
		notOwn = append(notOwn, p)
		others = append(others[:0], c.pods[:i]...)
		others = append(others, c.pods[i+1:]...)
		if got := Count(tmpl, c.nodes, others, own); got.Replicas < fit.Replicas {
			return fail("removing pod %d (%s) lowered the count from %d to %d", i, describePod(&p), fit.Replicas, got.Replicas)
		}
	}
	if got := Count(tmpl, c.nodes, notOwn, own); !reflect.DeepEqual(got, fit) {
		return fail("the workload's own pods changed the Fit: with them %s, without %s", fit, got)
	}

	nodes := append([]corev1.Node(nil), c.nodes...)
	pods := append([]corev1.Pod(nil), c.pods...)
	rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	rng.Shuffle(len(pods), func(i, j int) { pods[i], pods[j] = pods[j], pods[i] })
	if got := Count(tmpl, nodes, pods, own); !reflect.DeepEqual(got, fit) {
		return fail("order changed the Fit: %s, shuffled %s", fit, got)
	}

	shapeNode := randomNode(rng, "shape")
	shapeNode.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	shapeNode.Spec.Unschedulable = false
	k := rng.IntN(5)
	copies := make([]corev1.Node, k)
	for i := range copies {
		copies[i] = *shapeNode.DeepCopy()
		copies[i].Name = fmt.Sprintf("pool-%d", i)
	}
	shape := NodeShape{Allocatable: shapeNode.Status.Allocatable, Labels: shapeNode.Labels, Taints: shapeNode.Spec.Taints}
	if got, want := CountShape(tmpl, shape, k), Count(tmpl, copies, nil, own); !reflect.DeepEqual(got, want) {
		return fail("CountShape over %d nodes of %s = %s, Count over them = %s", k, describeNode(&shapeNode), got, want)
	}
	return true
}

// cluster is one random input. Its templates and pods only use the forms
// the reference understands: containers and overhead (no init containers,
// whose rule the table tests pin), selector pool=..., affinity zone In
// (...), and tolerations of the gpu and spot taints.
type cluster struct {
	spec  corev1.PodSpec
	nodes []corev1.Node
	pods  []corev1.Pod
}

var (
	pools = []string{"a", "b", "c"}
	zones = []string{"z1", "z2", "z3"}
	spot  = corev1.Taint{Key: "spot", Value: "true", Effect: corev1.TaintEffectNoExecute}
	soft  = corev1.Taint{Key: "busy", Effect: corev1.TaintEffectPreferNoSchedule}
)

func randomCluster(rng *rand.Rand) cluster {
	var c cluster
	c.spec = corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Resources: corev1.ResourceRequirements{Requests: randomRequests(rng, 4000, 8, 3)}}}}
	if rng.IntN(3) == 0 {
		c.spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: milli(rng.IntN(4) * 100)}
	}
	if rng.IntN(3) == 0 {
		c.spec.NodeSelector = map[string]string{"pool": pools[rng.IntN(len(pools))]}
	}
	if rng.IntN(3) == 0 {
		zs := []string{zones[rng.IntN(len(zones))], zones[rng.IntN(len(zones))]}
		c.spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: zs}}}},
		}}}
	}
	if rng.IntN(2) == 0 {
		c.spec.Tolerations = append(c.spec.Tolerations, corev1.Toleration{Key: gpuTaint.Key, Operator: corev1.TolerationOpExists})
	}
	if rng.IntN(4) == 0 {
		c.spec.Tolerations = append(c.spec.Tolerations, corev1.Toleration{Key: spot.Key, Value: spot.Value, Effect: corev1.TaintEffectNoExecute})
	}

	for i := range rng.IntN(7) {
		c.nodes = append(c.nodes, randomNode(rng, fmt.Sprintf("n%d", i)))
	}
	for range rng.IntN(3*len(c.nodes) + 2) {
		p := corev1.Pod{}
		switch r := rng.IntN(10); {
		case r == 0:
			p.Spec.NodeName = "elsewhere"
		case r == 1 || len(c.nodes) == 0:
			p.Spec.NodeName = ""
		default:
			p.Spec.NodeName = c.nodes[rng.IntN(len(c.nodes))].Name
		}
		for range 1 + rng.IntN(2) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Resources: corev1.ResourceRequirements{Requests: randomRequests(rng, 3000, 8, 2)}})
		}
		if rng.IntN(4) == 0 {
			p.Spec.Overhead = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
		}
		p.Status.Phase = []corev1.PodPhase{corev1.PodRunning, corev1.PodRunning, corev1.PodRunning, corev1.PodPending, corev1.PodSucceeded, corev1.PodFailed}[rng.IntN(6)]
		if rng.IntN(3) == 0 {
			ownPod(&p)
		}
		c.pods = append(c.pods, p)
	}
	return c
}

func randomNode(rng *rand.Rand, name string) corev1.Node {
	n := corev1.Node{}
	n.Name = name
	n.Labels = map[string]string{"zone": zones[rng.IntN(len(zones))]}
	if rng.IntN(4) > 0 {
		n.Labels["pool"] = pools[rng.IntN(len(pools))]
	}
	n.Status.Allocatable = randomRequests(rng, 16000, 64, 8)
	n.Status.Allocatable[corev1.ResourcePods] = *resource.NewQuantity(int64(rng.IntN(11)), resource.DecimalSI)
	status := corev1.ConditionTrue
	if rng.IntN(8) == 0 {
		status = []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionUnknown}[rng.IntN(2)]
	}
	if rng.IntN(10) > 0 {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}
	}
	n.Spec.Unschedulable = rng.IntN(10) == 0
	for _, taint := range []corev1.Taint{gpuTaint, spot, soft} {
		if rng.IntN(4) == 0 {
			n.Spec.Taints = append(n.Spec.Taints, taint)
		}
	}
	return n
}

// randomRequests asks for cpu in steps of 250m up to maxMilli, memory in
// GiB up to maxGi and GPUs up to maxGPU, each resource present or not.
func randomRequests(rng *rand.Rand, maxMilli, maxGi, maxGPU int) corev1.ResourceList {
	l := corev1.ResourceList{}
	if rng.IntN(4) > 0 {
		l[corev1.ResourceCPU] = milli(rng.IntN(maxMilli/250+1) * 250)
	}
	if rng.IntN(4) > 0 {
		l[corev1.ResourceMemory] = *resource.NewQuantity(int64(rng.IntN(maxGi+1))<<30, resource.BinarySI)
	}
	if rng.IntN(2) > 0 {
		l[gpu] = *resource.NewQuantity(int64(rng.IntN(maxGPU+1)), resource.DecimalSI)
	}
	return l
}

func milli(m int) resource.Quantity { return *resource.NewMilliQuantity(int64(m), resource.DecimalSI) }

// referenceCount places replicas of c's template one at a time on every
// node the template may go to, while each of its requests still fits what
// is left, comparing quantities rather than integer amounts.
func referenceCount(c cluster) int64 {
	replica := sumRequests(c.spec)
	replica[corev1.ResourcePods] = resource.MustParse("1")
	var total int64
	for i := range c.nodes {
		n := &c.nodes[i]
		if !referenceEligible(c.spec, n) {
			continue
		}
		used := corev1.ResourceList{}
		for j := range c.pods {
			p := &c.pods[j]
			if p.Spec.NodeName != n.Name || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.Labels["geofed.io/workload"] == "trainer" {
				continue
			}
			add(used, sumRequests(p.Spec))
			add(used, corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")})
		}
		for fits(replica, used, n.Status.Allocatable) {
			add(used, replica)
			total++
		}
	}
	return total
}

func referenceEligible(s corev1.PodSpec, n *corev1.Node) bool {
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	if !ready || n.Spec.Unschedulable {
		return false
	}
	for _, taint := range n.Spec.Taints {
		if taint.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		tolerated := false
		for _, tol := range s.Tolerations {
			tolerated = tolerated || (tol.Key == taint.Key && (tol.Operator == corev1.TolerationOpExists || tol.Value == taint.Value) && (tol.Effect == "" || tol.Effect == taint.Effect))
		}
		if !tolerated {
			return false
		}
	}
	for k, v := range s.NodeSelector {
		if got, ok := n.Labels[k]; !ok || got != v {
			return false
		}
	}
	if s.Affinity != nil {
		zone, in := n.Labels["zone"], false
		for _, v := range s.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values {
			in = in || v == zone
		}
		if !in {
			return false
		}
	}
	return true
}

func sumRequests(s corev1.PodSpec) corev1.ResourceList {
	l := corev1.ResourceList{}
	for _, c := range s.Containers {
		add(l, c.Resources.Requests)
	}
	add(l, s.Overhead)
	return l
}

func add(l, more corev1.ResourceList) {
	for k, v := range more {
		q := l[k]
		q.Add(v)
		l[k] = q
	}
}

// fits: one more replica fits when, for every resource it asks a positive
// amount of, used plus that amount is within allocatable.
func fits(replica, used, alloc corev1.ResourceList) bool {
	for k, v := range replica {
		if v.Sign() <= 0 {
			continue
		}
		need := used[k].DeepCopy()
		need.Add(v)
		if need.Cmp(alloc[k]) > 0 {
			return false
		}
	}
	return true
}

func (c cluster) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "template: requests %v overhead %v selector %v tolerations %v", c.spec.Containers[0].Resources.Requests, c.spec.Overhead, c.spec.NodeSelector, c.spec.Tolerations)
	if c.spec.Affinity != nil {
		fmt.Fprintf(&b, " zone in %v", c.spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values)
	}
	for i := range c.nodes {
		fmt.Fprintf(&b, "\n  node %s", describeNode(&c.nodes[i]))
	}
	for i := range c.pods {
		fmt.Fprintf(&b, "\n  pod %s", describePod(&c.pods[i]))
	}
	return b.String()
}

func describeNode(n *corev1.Node) string {
	return fmt.Sprintf("%s labels %v alloc %v conditions %v unschedulable %v taints %v", n.Name, n.Labels, n.Status.Allocatable, n.Status.Conditions, n.Spec.Unschedulable, n.Spec.Taints)
}

func describePod(p *corev1.Pod) string {
	var reqs []string
	for _, c := range p.Spec.Containers {
		reqs = append(reqs, fmt.Sprint(c.Resources.Requests))
	}
	return fmt.Sprintf("on %q %s labels %v requests %v overhead %v", p.Spec.NodeName, p.Status.Phase, p.Labels, reqs, p.Spec.Overhead)
}
