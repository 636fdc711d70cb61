package capacity

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
)

const gpu corev1.ResourceName = "nvidia.com/gpu"

// res builds a ResourceList from name, quantity pairs.
func res(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

// node is a Ready node with alloc and 110 pod slots unless alloc says.
func node(name string, alloc corev1.ResourceList, opts ...func(*corev1.Node)) corev1.Node {
	n := corev1.Node{}
	n.Name = name
	n.Status.Allocatable = res("pods", "110")
	for k, v := range alloc {
		n.Status.Allocatable[k] = v
	}
	n.Status.Conditions = []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue},
	}
	for _, o := range opts {
		o(&n)
	}
	return n
}

func labelled(kv ...string) func(*corev1.Node) {
	return func(n *corev1.Node) {
		n.Labels = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func tainted(taints ...corev1.Taint) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Spec.Taints = taints }
}

func readyStatus(s corev1.ConditionStatus) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Status.Conditions[1].Status = s }
}

func noConditions(n *corev1.Node) { n.Status.Conditions = nil }

func cordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

// pod is a running pod bound to nodeName with one container requesting reqs.
func pod(nodeName string, reqs corev1.ResourceList, opts ...func(*corev1.Pod)) corev1.Pod {
	p := corev1.Pod{}
	p.Name = "p"
	p.Spec.NodeName = nodeName
	p.Spec.Containers = []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: reqs}}}
	p.Status.Phase = corev1.PodRunning
	for _, o := range opts {
		o(&p)
	}
	return p
}

func ownPod(p *corev1.Pod) { p.Labels = map[string]string{"geofed.io/workload": "trainer"} }

func phase(ph corev1.PodPhase) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}

var ownSelector = labels.SelectorFromSet(labels.Set{"geofed.io/workload": "trainer"})

func own(p *corev1.Pod) bool { return ownSelector.Matches(labels.Set(p.Labels)) }

// spec is a pod spec with one container requesting reqs.
func spec(reqs corev1.ResourceList, opts ...func(*corev1.PodSpec)) corev1.PodSpec {
	s := corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Resources: corev1.ResourceRequirements{Requests: reqs}}}}
	for _, o := range opts {
		o(&s)
	}
	return s
}

func tolerating(ts ...corev1.Toleration) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) { s.Tolerations = ts }
}

func selecting(kv ...string) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		s.NodeSelector = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			s.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

// requiring sets a required node affinity with terms (ORed).
func requiring(terms ...corev1.NodeSelectorTerm) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
		}}
	}
}

func expr(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

func term(exprs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{MatchExpressions: exprs}
}

var gpuTaint = corev1.Taint{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}

func TestCount(t *testing.T) {
	oneGPU := res("cpu", "8", "memory", "32Gi", "nvidia.com/gpu", "1")
	fourGPU := res("cpu", "32", "memory", "128Gi", "nvidia.com/gpu", "4")
	twoGPUPod := spec(res("cpu", "1", "nvidia.com/gpu", "2"))
	oneGPUPod := spec(res("cpu", "1", "nvidia.com/gpu", "1"))
	sidecar := corev1.ContainerRestartPolicyAlways

	tests := []struct {
		name  string
		spec  corev1.PodSpec
		nodes []corev1.Node
		pods  []corev1.Pod
		want  Fit
	}{
		{
			name:  "multi-GPU pods do not fit on single-GPU nodes, however many",
			spec:  twoGPUPod,
			nodes: []corev1.Node{node("a", oneGPU), node("b", oneGPU), node("c", oneGPU)},
			want:  Fit{Considered: 3, NoRoom: 3, Insufficient: map[corev1.ResourceName]int{gpu: 3}},
		},
		{
			name:  "multi-GPU pods fit where a node has the GPUs",
			spec:  twoGPUPod,
			nodes: []corev1.Node{node("a", oneGPU), node("big", fourGPU), node("b", oneGPU)},
			want:  Fit{Replicas: 2, Considered: 3, NoRoom: 2, Insufficient: map[corev1.ResourceName]int{gpu: 2}},
		},
		{
			name:  "an odd GPU left on a node is not half a replica",
			spec:  twoGPUPod,
			nodes: []corev1.Node{node("a", res("cpu", "8", "nvidia.com/gpu", "3"))},
			want:  Fit{Replicas: 1, Considered: 1},
		},
		{
			name:  "the scarcest resource decides: cpu in millicores",
			spec:  spec(res("cpu", "1500m", "memory", "1Gi", "nvidia.com/gpu", "1")),
			nodes: []corev1.Node{node("a", res("cpu", "4", "memory", "64Gi", "nvidia.com/gpu", "8"))},
			want:  Fit{Replicas: 2, Considered: 1},
		},
		{
			name:  "memory decides",
			spec:  spec(res("cpu", "1", "memory", "10Gi")),
			nodes: []corev1.Node{node("a", res("cpu", "8", "memory", "32Gi"))},
			want:  Fit{Replicas: 3, Considered: 1},
		},
		{
			name:  "a resource the node does not have holds none",
			spec:  oneGPUPod,
			nodes: []corev1.Node{node("cpu-only", res("cpu", "8", "memory", "32Gi")), node("g", oneGPU)},
			want:  Fit{Replicas: 1, Considered: 2, NoRoom: 1, Insufficient: map[corev1.ResourceName]int{gpu: 1}},
		},
		{
			name:  "a template that requests nothing fits by pod slots",
			spec:  spec(nil),
			nodes: []corev1.Node{node("a", res("pods", "5")), node("b", res("pods", "3"))},
			pods:  []corev1.Pod{pod("a", nil), pod("a", nil)},
			want:  Fit{Replicas: 6, Considered: 2},
		},
		{
			name:  "a node without pod slots holds none",
			spec:  spec(nil),
			nodes: []corev1.Node{node("a", res("pods", "0"))},
			want:  Fit{Considered: 1, NoRoom: 1, Insufficient: map[corev1.ResourceName]int{corev1.ResourcePods: 1}},
		},
		{
			name:  "pod slots bound GPU replicas too",
			spec:  oneGPUPod,
			nodes: []corev1.Node{node("a", res("cpu", "32", "nvidia.com/gpu", "8", "pods", "4"))},
			pods:  []corev1.Pod{pod("a", nil), pod("a", res("cpu", "100m"))},
			want:  Fit{Replicas: 2, Considered: 1},
		},
		{
			name:  "an explicit zero request constrains nothing",
			spec:  spec(res("cpu", "0", "nvidia.com/gpu", "1")),
			nodes: []corev1.Node{node("a", res("cpu", "0", "nvidia.com/gpu", "2"))},
			want:  Fit{Replicas: 2, Considered: 1},
		},

		// Other pods.
		{
			name:  "other pods' requests are taken",
			spec:  oneGPUPod,
			nodes: []corev1.Node{node("a", fourGPU)},
			pods:  []corev1.Pod{pod("a", res("nvidia.com/gpu", "3"))},
			want:  Fit{Replicas: 1, Considered: 1},
		},
		{
			name:  "own pods' requests are available to the workload",
			spec:  oneGPUPod,
			nodes: []corev1.Node{node("a", fourGPU)},
			pods:  []corev1.Pod{pod("a", res("cpu", "1", "nvidia.com/gpu", "1"), ownPod), pod("a", res("cpu", "1", "nvidia.com/gpu", "1"), ownPod), pod("a", res("nvidia.com/gpu", "1"))},
			want:  Fit{Replicas: 3, Considered: 1},
		},
		{
			name:  "own pods holding a whole node still leave it the workload's",
			spec:  twoGPUPod,
			nodes: []corev1.Node{node("a", fourGPU), node("b", oneGPU)},
			pods:  []corev1.Pod{pod("a", res("nvidia.com/gpu", "2"), ownPod), pod("a", res("nvidia.com/gpu", "2"), ownPod)},
			want:  Fit{Replicas: 2, Considered: 2, NoRoom: 1, Insufficient: map[corev1.ResourceName]int{gpu: 1}},
		},
		{
			name: "an overcommitted node holds none and takes nothing from the others",
			spec: spec(res("cpu", "1")),
			nodes: []corev1.Node{
				node("over", res("cpu", "2", "memory", "8Gi")),
				node("ok", res("cpu", "2", "memory", "8Gi")),
			},
			// Static pods bypass the scheduler's fit check.
			pods: []corev1.Pod{pod("over", res("cpu", "3")), pod("over", res("memory", "16Gi"))},
			want: Fit{Replicas: 2, Considered: 2, NoRoom: 1, Insufficient: map[corev1.ResourceName]int{corev1.ResourceCPU: 1}},
		},
		{
			name:  "pods on other nodes, unknown nodes or no node take nothing here",
			spec:  oneGPUPod,
			nodes: []corev1.Node{node("a", oneGPU), node("b", oneGPU, readyStatus(corev1.ConditionFalse))},
			pods:  []corev1.Pod{pod("b", res("nvidia.com/gpu", "1")), pod("gone", res("nvidia.com/gpu", "1")), pod("", res("nvidia.com/gpu", "1"))},
			want:  Fit{Replicas: 1, Considered: 1, LeftOut: map[string]int{ReasonNotReady: 1}},
		},
		{
			name:  "terminated pods hold nothing; Pending and Unknown bound pods do",
			spec:  oneGPUPod,
			nodes: []corev1.Node{node("a", fourGPU)},
			pods: []corev1.Pod{
				pod("a", res("nvidia.com/gpu", "1"), phase(corev1.PodSucceeded)),
				pod("a", res("nvidia.com/gpu", "1"), phase(corev1.PodFailed)),
				pod("a", res("nvidia.com/gpu", "1"), phase(corev1.PodPending)),
				pod("a", res("nvidia.com/gpu", "1"), phase(corev1.PodUnknown)),
			},
			want: Fit{Replicas: 2, Considered: 1},
		},
		{
			name:  "other pods' init containers and overhead count as the scheduler counts them",
			spec:  spec(res("cpu", "1")),
			nodes: []corev1.Node{node("a", res("cpu", "8"))},
			pods: []corev1.Pod{pod("a", res("cpu", "1"), func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{Requests: res("cpu", "3")}}}
				p.Spec.Overhead = res("cpu", "1")
			})},
			want: Fit{Replicas: 4, Considered: 1},
		},

		// Nodes left out.
		{
			name: "not Ready and cordoned nodes are left out",
			spec: oneGPUPod,
			nodes: []corev1.Node{
				node("ok", oneGPU),
				node("down", oneGPU, readyStatus(corev1.ConditionFalse)),
				node("unknown", oneGPU, readyStatus(corev1.ConditionUnknown)),
				node("new", oneGPU, noConditions),
				node("drained", oneGPU, cordoned),
				node("down-and-drained", oneGPU, cordoned, readyStatus(corev1.ConditionFalse)),
			},
			want: Fit{Replicas: 1, Considered: 1, LeftOut: map[string]int{ReasonNotReady: 4, ReasonCordoned: 1}},
		},
		{
			name:  "a template that tolerates the unschedulable taint goes to cordoned nodes, as the scheduler lets it",
			spec:  spec(res("cpu", "1"), tolerating(corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})),
			nodes: []corev1.Node{node("drained", res("cpu", "2"), cordoned)},
			want:  Fit{Replicas: 2, Considered: 1},
		},
		{
			name: "untolerated NoSchedule and NoExecute taints leave a node out, PreferNoSchedule does not",
			spec: oneGPUPod,
			nodes: []corev1.Node{
				node("gpu1", oneGPU, tainted(gpuTaint)),
				node("gpu2", oneGPU, tainted(gpuTaint)),
				node("evicting", oneGPU, tainted(corev1.Taint{Key: "maintenance", Effect: corev1.TaintEffectNoExecute})),
				node("soft", oneGPU, tainted(corev1.Taint{Key: "spot", Value: "true", Effect: corev1.TaintEffectPreferNoSchedule})),
			},
			want: Fit{Replicas: 1, Considered: 1, LeftOut: map[string]int{
				"taint nvidia.com/gpu=present:NoSchedule not tolerated": 2,
				"taint maintenance:NoExecute not tolerated":             1,
			}},
		},
		{
			name: "tolerations: Exists, Equal with the value, any effect",
			spec: spec(res("nvidia.com/gpu", "1"), tolerating(
				corev1.Toleration{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
				corev1.Toleration{Key: "pool", Operator: corev1.TolerationOpEqual, Value: "a100"},
			)),
			nodes: []corev1.Node{
				node("a", oneGPU, tainted(gpuTaint)),
				node("b", oneGPU, tainted(gpuTaint, corev1.Taint{Key: "pool", Value: "a100", Effect: corev1.TaintEffectNoExecute})),
				node("c", oneGPU, tainted(corev1.Taint{Key: "pool", Value: "h100", Effect: corev1.TaintEffectNoSchedule})),
				node("d", oneGPU, tainted(corev1.Taint{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoExecute})),
			},
			want: Fit{Replicas: 2, Considered: 2, LeftOut: map[string]int{
				"taint pool=h100:NoSchedule not tolerated":             1,
				"taint nvidia.com/gpu=present:NoExecute not tolerated": 1,
			}},
		},
		{
			name: "an empty-key Exists toleration tolerates every taint",
			spec: spec(res("nvidia.com/gpu", "1"), tolerating(corev1.Toleration{Operator: corev1.TolerationOpExists})),
			nodes: []corev1.Node{
				node("a", oneGPU, tainted(gpuTaint, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoExecute})),
			},
			want: Fit{Replicas: 1, Considered: 1},
		},
		{
			name: "Gt and Lt tolerations tolerate nothing while the feature is off by default",
			spec: spec(res("nvidia.com/gpu", "1"), tolerating(corev1.Toleration{Key: "tier", Operator: corev1.TolerationOpGt, Value: "1", Effect: corev1.TaintEffectNoSchedule})),
			nodes: []corev1.Node{
				node("a", oneGPU, tainted(corev1.Taint{Key: "tier", Value: "5", Effect: corev1.TaintEffectNoSchedule})),
			},
			want: Fit{LeftOut: map[string]int{"taint tier=5:NoSchedule not tolerated": 1}},
		},
		{
			name: "nodeSelector must match every label",
			spec: spec(res("nvidia.com/gpu", "1"), selecting("cloud.google.com/gke-accelerator", "nvidia-tesla-a100", "pool", "a")),
			nodes: []corev1.Node{
				node("a", fourGPU, labelled("cloud.google.com/gke-accelerator", "nvidia-tesla-a100", "pool", "a", "extra", "x")),
				node("b", fourGPU, labelled("cloud.google.com/gke-accelerator", "nvidia-tesla-a100")),
				node("c", fourGPU, labelled("cloud.google.com/gke-accelerator", "nvidia-l4", "pool", "a")),
				node("d", fourGPU),
			},
			want: Fit{Replicas: 4, Considered: 1, LeftOut: map[string]int{ReasonNodeSelector: 3}},
		},
		{
			name: "a taint is reported before a selector mismatch, as the scheduler filters",
			spec: spec(res("nvidia.com/gpu", "1"), selecting("pool", "a")),
			nodes: []corev1.Node{
				node("b", fourGPU, labelled("pool", "b"), tainted(gpuTaint)),
			},
			want: Fit{LeftOut: map[string]int{TaintReason(gpuTaint): 1}},
		},
		{
			name: "required node affinity: In, NotIn, Exists, DoesNotExist, Gt, Lt ANDed in a term",
			spec: spec(res("nvidia.com/gpu", "1"), requiring(term(
				expr("zone", corev1.NodeSelectorOpIn, "us-west1-a", "us-west1-b"),
				expr("spot", corev1.NodeSelectorOpNotIn, "true"),
				expr("gpu", corev1.NodeSelectorOpExists),
				expr("draining", corev1.NodeSelectorOpDoesNotExist),
				expr("gpu-mem-gb", corev1.NodeSelectorOpGt, "40"),
				expr("gen", corev1.NodeSelectorOpLt, "5"),
			))),
			nodes: []corev1.Node{
				node("match", fourGPU, labelled("zone", "us-west1-b", "gpu", "a100", "gpu-mem-gb", "80", "gen", "4")),
				node("zone", fourGPU, labelled("zone", "us-east1-b", "gpu", "a100", "gpu-mem-gb", "80", "gen", "4")),
				node("spot", fourGPU, labelled("zone", "us-west1-a", "spot", "true", "gpu", "a100", "gpu-mem-gb", "80", "gen", "4")),
				node("nogpu", fourGPU, labelled("zone", "us-west1-a", "gpu-mem-gb", "80", "gen", "4")),
				node("draining", fourGPU, labelled("zone", "us-west1-a", "draining", "", "gpu", "a100", "gpu-mem-gb", "80", "gen", "4")),
				node("small", fourGPU, labelled("zone", "us-west1-a", "gpu", "a100", "gpu-mem-gb", "40", "gen", "4")),
				node("new", fourGPU, labelled("zone", "us-west1-a", "gpu", "a100", "gpu-mem-gb", "80", "gen", "5")),
				node("nan", fourGPU, labelled("zone", "us-west1-a", "gpu", "a100", "gpu-mem-gb", "lots", "gen", "4")),
			},
			want: Fit{Replicas: 4, Considered: 1, LeftOut: map[string]int{ReasonNodeAffinity: 7}},
		},
		{
			name: "required node affinity: terms are ORed; matchFields selects by node name",
			spec: spec(res("nvidia.com/gpu", "1"), requiring(
				term(expr("pool", corev1.NodeSelectorOpIn, "a")),
				corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{expr("metadata.name", corev1.NodeSelectorOpIn, "chosen")}},
			)),
			nodes: []corev1.Node{
				node("a1", oneGPU, labelled("pool", "a")),
				node("chosen", oneGPU, labelled("pool", "c")),
				node("other", oneGPU, labelled("pool", "c")),
			},
			want: Fit{Replicas: 2, Considered: 2, LeftOut: map[string]int{ReasonNodeAffinity: 1}},
		},
		{
			name: "nodeSelector and affinity both apply; an empty term list matches no node",
			spec: spec(res("nvidia.com/gpu", "1"), selecting("pool", "a"), requiring()),
			nodes: []corev1.Node{
				node("a1", oneGPU, labelled("pool", "a")),
				node("b1", oneGPU, labelled("pool", "b")),
			},
			want: Fit{LeftOut: map[string]int{ReasonNodeAffinity: 1, ReasonNodeSelector: 1}},
		},
		{
			name: "a term that does not parse matches nothing, the others still do",
			spec: spec(res("nvidia.com/gpu", "1"), requiring(
				term(expr("gen", corev1.NodeSelectorOpGt, "not-a-number")),
				term(expr("pool", corev1.NodeSelectorOpIn, "a")),
			)),
			nodes: []corev1.Node{
				node("a1", oneGPU, labelled("pool", "a", "gen", "9")),
				node("b1", oneGPU, labelled("pool", "b", "gen", "9")),
			},
			want: Fit{Replicas: 1, Considered: 1, LeftOut: map[string]int{ReasonNodeAffinity: 1}},
		},
		{
			name: "preferred affinity and pod anti-affinity do not change what fits",
			spec: spec(res("nvidia.com/gpu", "1"), func(s *corev1.PodSpec) {
				s.Affinity = &corev1.Affinity{
					NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
						{Weight: 1, Preference: term(expr("pool", corev1.NodeSelectorOpIn, "z"))},
					}},
					PodAntiAffinity: &corev1.PodAntiAffinity{},
				}
			}),
			nodes: []corev1.Node{node("a1", fourGPU, labelled("pool", "a"))},
			want:  Fit{Replicas: 4, Considered: 1},
		},

		// The template's own requests.
		{
			name: "an init container asking more than the containers sets the request",
			spec: spec(res("nvidia.com/gpu", "1"), func(s *corev1.PodSpec) {
				s.InitContainers = []corev1.Container{{Name: "warmup", Resources: corev1.ResourceRequirements{Requests: res("nvidia.com/gpu", "2")}}}
			}),
			nodes: []corev1.Node{node("a", fourGPU)},
			want:  Fit{Replicas: 2, Considered: 1},
		},
		{
			name:  "a GPU asked for only as a limit is requested",
			spec:  corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Resources: corev1.ResourceRequirements{Limits: res("nvidia.com/gpu", "2")}}}},
			nodes: []corev1.Node{node("a", fourGPU), node("b", oneGPU)},
			want:  Fit{Replicas: 2, Considered: 2, NoRoom: 1, Insufficient: map[corev1.ResourceName]int{gpu: 1}},
		},
		{
			name:  "pod overhead is charged on top",
			spec:  spec(res("cpu", "3"), func(s *corev1.PodSpec) { s.Overhead = res("cpu", "1") }),
			nodes: []corev1.Node{node("a", res("cpu", "8"))},
			want:  Fit{Replicas: 2, Considered: 1},
		},
		{
			name: "a sidecar init container adds to the containers",
			spec: spec(res("cpu", "1"), func(s *corev1.PodSpec) {
				s.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: &sidecar, Resources: corev1.ResourceRequirements{Requests: res("cpu", "1")}}}
			}),
			nodes: []corev1.Node{node("a", res("cpu", "8"))},
			want:  Fit{Replicas: 4, Considered: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Count(TemplateOf(tc.spec), tc.nodes, tc.pods, own)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Count (-want +got):\n%s", diff)
			}
			if n := got.Nodes(); n != len(tc.nodes) {
				t.Errorf("Nodes() = %d, want %d", n, len(tc.nodes))
			}
		})
	}
}

func TestCountNoOwnSelector(t *testing.T) {
	nodes := []corev1.Node{node("a", res("nvidia.com/gpu", "2"))}
	pods := []corev1.Pod{pod("a", res("nvidia.com/gpu", "1"), ownPod)}
	tmpl := TemplateOf(spec(res("nvidia.com/gpu", "1")))
	if got := Count(tmpl, nodes, pods, nil).Replicas; got != 1 {
		t.Errorf("with no own selector: %d replicas, want 1 (every pod is another's)", got)
	}
	if got := Count(tmpl, nodes, pods, func(*corev1.Pod) bool { return true }).Replicas; got != 2 {
		t.Errorf("with every pod own: %d replicas, want 2", got)
	}
}

func TestCountNodeListedTwice(t *testing.T) {
	n := node("a", res("nvidia.com/gpu", "2"))
	got := Count(TemplateOf(spec(res("nvidia.com/gpu", "1"))), []corev1.Node{n, n}, nil, nil)
	if got.Replicas != 2 || got.Considered != 1 {
		t.Errorf("got %+v, want the node counted once", got)
	}
}

func TestTemplateOf(t *testing.T) {
	sidecar := corev1.ContainerRestartPolicyAlways
	tests := []struct {
		name string
		spec corev1.PodSpec
		want corev1.ResourceList
	}{
		{
			name: "nothing requested: the pod slot",
			spec: spec(nil),
			want: res("pods", "1"),
		},
		{
			name: "containers sum",
			spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "a", Resources: corev1.ResourceRequirements{Requests: res("cpu", "500m", "memory", "1Gi", "nvidia.com/gpu", "1")}},
				{Name: "b", Resources: corev1.ResourceRequirements{Requests: res("cpu", "250m", "nvidia.com/gpu", "1")}},
			}},
			want: res("cpu", "750m", "memory", "1Gi", "nvidia.com/gpu", "2", "pods", "1"),
		},
		{
			name: "a limit without a request is the request, as the apiserver defaults a pod made from the template",
			spec: corev1.PodSpec{
				InitContainers: []corev1.Container{
					{Name: "warm", Resources: corev1.ResourceRequirements{Limits: res("nvidia.com/gpu", "4")}},
				},
				Containers: []corev1.Container{
					{Name: "a", Resources: corev1.ResourceRequirements{Requests: res("cpu", "500m"), Limits: res("cpu", "2", "memory", "1Gi", "nvidia.com/gpu", "2")}},
					{Name: "b", Resources: corev1.ResourceRequirements{Limits: res("nvidia.com/gpu", "1")}},
				},
			},
			want: res("cpu", "500m", "memory", "1Gi", "nvidia.com/gpu", "4", "pods", "1"),
		},
		{
			name: "pod-level limits default pod-level requests: the containers' where they request, else the limit",
			spec: corev1.PodSpec{
				Resources: &corev1.ResourceRequirements{Limits: res("cpu", "8", "memory", "16Gi")},
				Containers: []corev1.Container{
					{Name: "main", Resources: corev1.ResourceRequirements{Requests: res("cpu", "1", "nvidia.com/gpu", "1")}},
					{Name: "side", Resources: corev1.ResourceRequirements{Requests: res("cpu", "500m")}},
				},
			},
			want: res("cpu", "1500m", "memory", "16Gi", "nvidia.com/gpu", "1", "pods", "1"),
		},
		{
			name: "per resource, the larger of the containers and each init container, plus overhead",
			spec: corev1.PodSpec{
				InitContainers: []corev1.Container{
					{Name: "fetch", Resources: corev1.ResourceRequirements{Requests: res("cpu", "2", "memory", "512Mi")}},
					{Name: "warm", Resources: corev1.ResourceRequirements{Requests: res("cpu", "1", "nvidia.com/gpu", "4")}},
				},
				Containers: []corev1.Container{
					{Name: "main", Resources: corev1.ResourceRequirements{Requests: res("cpu", "1", "memory", "4Gi", "nvidia.com/gpu", "2")}},
				},
				Overhead: res("cpu", "250m", "memory", "128Mi"),
			},
			want: res("cpu", "2250m", "memory", "4224Mi", "nvidia.com/gpu", "4", "pods", "1"),
		},
		{
			name: "sidecars run alongside the containers and the init containers after them",
			spec: corev1.PodSpec{
				InitContainers: []corev1.Container{
					{Name: "proxy", RestartPolicy: &sidecar, Resources: corev1.ResourceRequirements{Requests: res("cpu", "500m")}},
					{Name: "migrate", Resources: corev1.ResourceRequirements{Requests: res("cpu", "2")}},
				},
				Containers: []corev1.Container{
					{Name: "main", Resources: corev1.ResourceRequirements{Requests: res("cpu", "1")}},
				},
			},
			// max(main 1 + proxy 0.5, migrate 2 + proxy 0.5)
			want: res("cpu", "2500m", "pods", "1"),
		},
		{
			name: "pod-level requests replace the containers' cpu and memory",
			spec: corev1.PodSpec{
				Resources: &corev1.ResourceRequirements{Requests: res("cpu", "4", "memory", "8Gi")},
				Containers: []corev1.Container{
					{Name: "main", Resources: corev1.ResourceRequirements{Requests: res("cpu", "1", "nvidia.com/gpu", "1")}},
				},
			},
			want: res("cpu", "4", "memory", "8Gi", "nvidia.com/gpu", "1", "pods", "1"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := TemplateOf(tc.spec).Requests
			if !sameResources(got, tc.want) {
				t.Errorf("Requests = %v, want %v", got, tc.want)
			}
		})
	}

	limitsOnly := corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Resources: corev1.ResourceRequirements{Limits: res("nvidia.com/gpu", "1")}}}}
	TemplateOf(limitsOnly)
	if r := limitsOnly.Containers[0].Resources.Requests; r != nil {
		t.Errorf("TemplateOf wrote requests %v into the caller's spec", r)
	}

	s := spec(nil, selecting("pool", "a"), tolerating(corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists}), requiring(term(expr("z", corev1.NodeSelectorOpExists))))
	tmpl := TemplateOf(s)
	if !cmp.Equal(tmpl.NodeSelector, s.NodeSelector) || !cmp.Equal(tmpl.Tolerations, s.Tolerations) || tmpl.Affinity != s.Affinity {
		t.Errorf("TemplateOf did not carry the scheduling constraints: %+v", tmpl)
	}
}

func sameResources(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}

func TestTemplateWithoutPodSlotStillTakesOne(t *testing.T) {
	tmpl := Template{} // built by hand, no requests at all
	got := Count(tmpl, []corev1.Node{node("a", res("pods", "3"))}, []corev1.Pod{pod("a", nil)}, nil)
	if got.Replicas != 2 {
		t.Errorf("got %d replicas, want 2: a replica is a pod", got.Replicas)
	}
}

func TestCountShape(t *testing.T) {
	a2 := NodeShape{
		Allocatable: res("cpu", "11", "memory", "76Gi", "nvidia.com/gpu", "1", "pods", "110"),
		Labels:      map[string]string{"cloud.google.com/gke-nodepool": "a100", "cloud.google.com/gke-accelerator": "nvidia-tesla-a100"},
		Taints:      []corev1.Taint{gpuTaint},
	}
	tolerant := tolerating(corev1.Toleration{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists})
	tests := []struct {
		name  string
		spec  corev1.PodSpec
		shape NodeShape
		nodes int
		want  Fit
	}{
		{
			name:  "one replica per single-GPU node, times the nodes",
			spec:  spec(res("cpu", "4", "nvidia.com/gpu", "1"), tolerant),
			shape: a2, nodes: 8,
			want: Fit{Replicas: 8, Considered: 8},
		},
		{
			name:  "two-GPU replicas fit no single-GPU node",
			spec:  spec(res("nvidia.com/gpu", "2"), tolerant),
			shape: a2, nodes: 8,
			want: Fit{Considered: 8, NoRoom: 8, Insufficient: map[corev1.ResourceName]int{gpu: 8}},
		},
		{
			name:  "cpu bounds a node",
			spec:  spec(res("cpu", "5")),
			shape: NodeShape{Allocatable: res("cpu", "11", "memory", "76Gi", "pods", "110")}, nodes: 3,
			want: Fit{Replicas: 6, Considered: 3},
		},
		{
			name:  "the pool's taint, untolerated, leaves all its nodes out",
			spec:  spec(res("nvidia.com/gpu", "1")),
			shape: a2, nodes: 4,
			want: Fit{LeftOut: map[string]int{TaintReason(gpuTaint): 4}},
		},
		{
			name:  "the selector is matched against the pool's labels",
			spec:  spec(res("nvidia.com/gpu", "1"), tolerant, selecting("cloud.google.com/gke-accelerator", "nvidia-l4")),
			shape: a2, nodes: 2,
			want: Fit{LeftOut: map[string]int{ReasonNodeSelector: 2}},
		},
		{
			name:  "no nodes, no replicas",
			spec:  spec(res("nvidia.com/gpu", "1"), tolerant),
			shape: a2, nodes: 0,
			want: Fit{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CountShape(TemplateOf(tc.spec), tc.shape, tc.nodes)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("CountShape (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFitString(t *testing.T) {
	tests := []struct {
		fit  Fit
		want string
	}{
		{Fit{}, "0 nodes considered · 0 replicas fit"},
		{Fit{Replicas: 1, Considered: 1}, "1 node considered · 1 replica fits"},
		{
			Fit{Replicas: 5, Considered: 3, LeftOut: map[string]int{ReasonNotReady: 1, TaintReason(gpuTaint): 1}},
			"3 nodes considered, 2 left out (1 not Ready, 1 taint nvidia.com/gpu=present:NoSchedule not tolerated) · 5 replicas fit",
		},
		{
			Fit{Replicas: 2, Considered: 40, LeftOut: map[string]int{ReasonCordoned: 2, ReasonNodeSelector: 120}, NoRoom: 39, Insufficient: map[corev1.ResourceName]int{gpu: 39, corev1.ResourceCPU: 3}},
			"40 nodes considered, 122 left out (120 nodeSelector not matched, 2 cordoned) · 2 replicas fit · 39 nodes fit none (39 Insufficient nvidia.com/gpu, 3 Insufficient cpu)",
		},
		{
			Fit{Considered: 1, NoRoom: 1, Insufficient: map[corev1.ResourceName]int{gpu: 1, corev1.ResourceCPU: 1}},
			"1 node considered · 0 replicas fit · 1 node fits none (1 Insufficient cpu, 1 Insufficient nvidia.com/gpu)",
		},
	}
	for _, tc := range tests {
		if got := tc.fit.String(); got != tc.want {
			t.Errorf("String() =\n  %s\nwant\n  %s", got, tc.want)
		}
	}
}

// TestFitJSON pins the field names a saved plan would carry.
func TestFitJSON(t *testing.T) {
	f := Fit{Replicas: 2, Considered: 3, LeftOut: map[string]int{ReasonNotReady: 1}, NoRoom: 1, Insufficient: map[corev1.ResourceName]int{gpu: 1}}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"replicas":2,"considered":3,"leftOut":{"not Ready":1},"noRoom":1,"insufficient":{"nvidia.com/gpu":1}}`
	if string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
}
