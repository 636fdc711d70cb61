package capacity

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const poolLabel = "cloud.google.com/gke-nodepool"

// a100 is one node of a pool of a2-highgpu-2g-like nodes, GPU-tainted as
// GKE taints them.
var a100 = NodeShape{
	Allocatable: res("nvidia.com/gpu", "2", "cpu", "23", "memory", "150Gi", "pods", "110"),
	Labels:      map[string]string{poolLabel: "a100"},
	Taints:      []corev1.Taint{{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}},
}

func poolNode(name string, opts ...func(*corev1.Node)) corev1.Node {
	n := node(name, a100.Allocatable, labelled(poolLabel, "a100"), tainted(a100.Taints...))
	for _, o := range opts {
		o(&n)
	}
	return n
}

func a100Pool(planned, maxNodes int) Pool {
	return Pool{Name: "a100", Label: poolLabel, Value: "a100", Shape: a100, Planned: planned, MaxNodes: maxNodes}
}

func TestEstimateOf(t *testing.T) {
	twoGPUs := Template{Requests: res("nvidia.com/gpu", "2", "cpu", "4", "pods", "1")}
	tests := []struct {
		name        string
		cluster     Cluster
		tmpl        Template
		now         int64
		scaleUp     int64 // -1: no scale-up figure
		nodes       int   // ScaleUpNodes
		figures     string
		overfill5   string // Overfill(5, gpu)
		wantPerNode int64
	}{
		{
			name:      "a pool that does not autoscale",
			cluster:   Cluster{Nodes: []corev1.Node{poolNode("a"), poolNode("b")}, Pools: []Pool{a100Pool(0, 0)}, ExtendedResourceToleration: true},
			tmpl:      twoGPUs,
			now:       2,
			scaleUp:   -1,
			nodes:     2,
			figures:   "now: 2 fit",
			overfill5: "5 replicas × 2 nvidia.com/gpu placed, 2 fit (pool a100: 2 nodes × 2 nvidia.com/gpu, no autoscaling) — 3 would stay Pending",
		},
		{
			name:      "without GKE's admission the GPU taint keeps them off",
			cluster:   Cluster{Nodes: []corev1.Node{poolNode("a"), poolNode("b")}},
			tmpl:      twoGPUs,
			now:       0,
			scaleUp:   -1,
			nodes:     2,
			figures:   "now: 0 fit",
			overfill5: "5 replicas × 2 nvidia.com/gpu placed, 0 fit (0 nodes considered, 2 left out (2 taint nvidia.com/gpu=present:NoSchedule not tolerated)) — 5 would stay Pending",
		},
		{
			name:      "an autoscaling pool counts what it can grow to",
			cluster:   Cluster{Nodes: []corev1.Node{poolNode("a")}, Pools: []Pool{a100Pool(0, 10)}, ExtendedResourceToleration: true},
			tmpl:      twoGPUs,
			now:       1,
			scaleUp:   10,
			nodes:     10,
			figures:   "now: 1 fits · after scale-up to 10 nodes: 10 fit",
			overfill5: "",
		},
		{
			name: "a node still registering is part of the scale-up, not counted twice",
			cluster: Cluster{
				Nodes: []corev1.Node{poolNode("a"), poolNode("b", readyStatus(corev1.ConditionFalse))},
				Pools: []Pool{a100Pool(0, 3)}, ExtendedResourceToleration: true,
			},
			tmpl:      twoGPUs,
			now:       1,
			scaleUp:   3,
			nodes:     3,
			figures:   "now: 1 fits · after scale-up to 3 nodes: 3 fit",
			overfill5: "5 replicas × 2 nvidia.com/gpu placed, 3 fit (pool a100: 2 nodes × 2 nvidia.com/gpu, autoscaling to 3) — 2 would stay Pending",
		},
		{
			name:      "a cluster not created yet offers its pools' first nodes",
			cluster:   Cluster{Pools: []Pool{a100Pool(3, 0)}, ExtendedResourceToleration: true},
			tmpl:      twoGPUs,
			now:       3,
			scaleUp:   -1,
			nodes:     3,
			figures:   "now: 3 fit",
			overfill5: "5 replicas × 2 nvidia.com/gpu placed, 3 fit (pool a100: 3 nodes × 2 nvidia.com/gpu, no autoscaling) — 2 would stay Pending",
		},
		{
			name:    "a pool scaling from zero: none now, all after scale-up",
			cluster: Cluster{Pools: []Pool{a100Pool(0, 4)}, ExtendedResourceToleration: true},
			tmpl:    Template{Requests: res("nvidia.com/gpu", "1")},
			now:     0,
			scaleUp: 8,
			nodes:   4,
			figures: "now: 0 fit · after scale-up to 4 nodes: 8 fit",
		},
		{
			name:      "a template without GPUs is described by cpu and memory",
			cluster:   Cluster{Nodes: []corev1.Node{node("x", res("cpu", "2", "memory", "4Gi"))}},
			tmpl:      Template{Requests: res("cpu", "1", "memory", "1Gi")},
			now:       2,
			scaleUp:   -1,
			nodes:     1,
			figures:   "now: 2 fit",
			overfill5: "5 replicas × 1 cpu, 1Gi memory placed, 2 fit (1 node considered) — 3 would stay Pending",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := EstimateOf(tt.tmpl, tt.cluster, nil)
			if e.Now.Replicas != tt.now {
				t.Errorf("now: %d fit (%s), want %d", e.Now.Replicas, e.Now, tt.now)
			}
			switch {
			case tt.scaleUp < 0 && e.ScaleUp != nil:
				t.Errorf("scale-up figure %d, want none", e.ScaleUp.Replicas)
			case tt.scaleUp >= 0 && (e.ScaleUp == nil || e.ScaleUp.Replicas != tt.scaleUp):
				t.Errorf("scale-up figure %v, want %d", e.ScaleUp, tt.scaleUp)
			}
			if e.ScaleUpNodes != tt.nodes {
				t.Errorf("ScaleUpNodes = %d, want %d", e.ScaleUpNodes, tt.nodes)
			}
			if got := e.Figures(); got != tt.figures {
				t.Errorf("Figures() = %q, want %q", got, tt.figures)
			}
			if got := e.Overfill(5, gpu); got != tt.overfill5 {
				t.Errorf("Overfill(5) =\n%q\nwant\n%q", got, tt.overfill5)
			}
			if up := e.ScaleUp; up != nil && up.Nodes() != e.ScaleUpNodes {
				t.Errorf("the scale-up figure counts %d nodes, want %d: a node counted twice or lost (%s)", up.Nodes(), e.ScaleUpNodes, up)
			}
		})
	}
}

// The acceptance property in small: after the workload's replicas run on
// the nodes they were given, they count as the workload's own, so the
// figures do not move, now or after scale-up, and neither while the
// autoscaler adds nodes for them.
func TestEstimateStableAsTheWorkloadRuns(t *testing.T) {
	tmpl := Template{Requests: res("nvidia.com/gpu", "2")}
	owned := func(p *corev1.Pod) bool { return p.Labels["app"] == "trainer" }
	mine := func(p *corev1.Pod) { p.Labels = map[string]string{"app": "trainer"} }
	other := func(p *corev1.Pod) { p.Labels = map[string]string{"app": "other"} }
	before := EstimateOf(tmpl, Cluster{Nodes: []corev1.Node{poolNode("a")}, Pools: []Pool{a100Pool(0, 3)}, ExtendedResourceToleration: true}, owned)

	// Three replicas placed: one runs on a; the autoscaler adds b (Ready,
	// running one) and c (still registering).
	after := Cluster{
		Nodes: []corev1.Node{poolNode("a"), poolNode("b"), poolNode("c", readyStatus(corev1.ConditionFalse))},
		Pods:  []corev1.Pod{pod("a", res("nvidia.com/gpu", "2"), mine), pod("b", res("nvidia.com/gpu", "2"), mine)},
		Pools: []Pool{a100Pool(0, 3)}, ExtendedResourceToleration: true,
	}
	got := EstimateOf(tmpl, after, owned)
	if got.Most() != before.Most() || got.Most() != 3 {
		t.Errorf("after scale-up the workload's own figure is %d, before %d; want 3 both times", got.Most(), before.Most())
	}

	// Someone else's pod on b takes its GPUs: the figure drops.
	after.Pods[1] = pod("b", res("nvidia.com/gpu", "2"), other)
	if e := EstimateOf(tmpl, after, owned); e.Most() != 2 {
		got := e.Most()
		t.Errorf("with another workload's pod on b: %d fit, want 2", got)
	}
}

func TestOwnedBy(t *testing.T) {
	yes := true
	ctl := func(kind, name string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{Kind: kind, Name: name, Controller: &yes}}
	}
	owned := OwnedBy([]Owner{
		{Kind: "Deployment", Namespace: "ml", Name: "trainer"},
		{Kind: "StatefulSet", Namespace: "ml", Name: "db"},
		{Kind: "Job", Namespace: "ml", Name: "train"},
	})
	tests := []struct {
		name string
		pod  corev1.Pod
		want bool
	}{
		{"a Deployment's pod, through its ReplicaSet", podOf("ml", ctl("ReplicaSet", "trainer-7d9f8c"), "7d9f8c"), true},
		{"a ReplicaSet named like it but for another hash", podOf("ml", ctl("ReplicaSet", "trainer-7d9f8c"), "other"), false},
		{"a Deployment whose name only begins the same", podOf("ml", ctl("ReplicaSet", "trainer-gpu-7d9f8c"), "7d9f8c"), false},
		{"a StatefulSet's pod", podOf("ml", ctl("StatefulSet", "db"), ""), true},
		{"a Job's pod", podOf("ml", ctl("Job", "train"), ""), true},
		{"same name, another namespace", podOf("web", ctl("StatefulSet", "db"), ""), false},
		{"not the controller", podOf("ml", []metav1.OwnerReference{{Kind: "StatefulSet", Name: "db"}}, ""), false},
		{"no owner", podOf("ml", nil, ""), false},
	}
	for _, tt := range tests {
		if got := owned(&tt.pod); got != tt.want {
			t.Errorf("%s: owned = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func podOf(ns string, refs []metav1.OwnerReference, hash string) corev1.Pod {
	p := corev1.Pod{}
	p.Namespace, p.OwnerReferences = ns, refs
	if hash != "" {
		p.Labels = map[string]string{"pod-template-hash": hash}
	}
	return p
}

func TestExtendedResourceTolerations(t *testing.T) {
	tmpl := withExtendedResourceTolerations(Template{Requests: res("nvidia.com/gpu", "1", "cpu", "1", "hugepages-2Mi", "2Mi", "example.com/fpga", "0")})
	if len(tmpl.Tolerations) != 1 || tmpl.Tolerations[0].Key != "nvidia.com/gpu" || tmpl.Tolerations[0].Operator != corev1.TolerationOpExists {
		t.Errorf("tolerations = %+v, want one of nvidia.com/gpu (Exists, NoSchedule): requested extended resources only", tmpl.Tolerations)
	}
}
