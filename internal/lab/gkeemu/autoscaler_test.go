package gkeemu

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/geofed-io/kubectl-geofed/pkg/gke/nodeshape"
)

const (
	testDelay = 2 * time.Second
	testIdle  = 30 * time.Second
)

var testNow = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// testPool is a pool of a cluster in us-west1 made by the emulator's own
// functions, at size nodes with the given autoscaling bounds.
// testPool is a pool of a cluster that also has a pool without GPUs, so a
// GPU pool gets GKE's GPU taint (nodeshape.Made).
func testPool(t *testing.T, name, machine string, accs []*containerpb.AcceleratorConfig, nodes, minN, maxN int32, taints ...*containerpb.NodeTaint) *nodePool {
	t.Helper()
	cpu := &containerpb.NodePool{Name: "cpu", Config: &containerpb.NodeConfig{MachineType: "e2-standard-4"}}
	return poolBeside(t, []*containerpb.NodePool{cpu}, name, machine, accs, nodes, minN, maxN, taints...)
}

// poolBeside is a pool created in a cluster whose other pools are others.
func poolBeside(t *testing.T, others []*containerpb.NodePool, name, machine string, accs []*containerpb.AcceleratorConfig, nodes, minN, maxN int32, taints ...*containerpb.NodeTaint) *nodePool {
	t.Helper()
	pl, err := resolveLocation("us-west1")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{ref: clusterRef{parentRef{"p", "us-west1"}, "c"}, place: pl}
	if c.zones, err = nodeZones(pl, nil); err != nil {
		t.Fatal(err)
	}
	p, err := newNodePool(&containerpb.NodePool{
		Name:             name,
		InitialNodeCount: nodes,
		Config:           &containerpb.NodeConfig{MachineType: machine, Accelerators: accs, Taints: taints},
		Autoscaling:      &containerpb.NodePoolAutoscaling{Enabled: true, MinNodeCount: minN, MaxNodeCount: maxN},
	}, c, "node_pool", others)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func a100Pool(t *testing.T, nodes, minN, maxN int32, taints ...*containerpb.NodeTaint) *nodePool {
	return testPool(t, "a100", "a2-highgpu-1g",
		[]*containerpb.AcceleratorConfig{{AcceleratorType: "nvidia-tesla-a100", AcceleratorCount: 1}}, nodes, minN, maxN, taints...)
}

// nodesOf are the pool's nodes as the lab makes them: the template, named
// and Ready.
func nodesOf(p *nodePool) []corev1.Node {
	var out []corev1.Node
	for _, np := range p.nodes() {
		letter := np.Zone[len(np.Zone)-1:]
		for _, i := range allIndexes(p, np.Zone) {
			n := template(np).DeepCopy()
			n.Name = fmt.Sprintf("gke-c-%s-%s-%d", p.pb.Name, letter, i)
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
			out = append(out, *n)
		}
	}
	return out
}

type podOpt func(*corev1.Pod)

func onNode(n string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = n } }

func selecting(k, v string) podOpt {
	return func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{k: v} }
}

func tolerating(key string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists})
	}
}

func ofDaemonSet(p *corev1.Pod) {
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "ds", UID: "ds", Controller: ptr.To(true)}}
}

// pod requests cpu and GPUs; unbound, it is Unschedulable.
func pod(name string, cpu string, gpus int64, opts ...podOpt) corev1.Pod {
	req := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	if gpus > 0 {
		req[nodeshape.GPUResource] = *resource.NewQuantity(gpus, resource.DecimalSI)
	}
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: req}}}},
		Status:     corev1.PodStatus{Phase: corev1.PodPending},
	}
	for _, o := range opts {
		o(&p)
	}
	if p.Spec.NodeName == "" {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
	} else {
		p.Status.Phase = corev1.PodRunning
	}
	return p
}

// waited is a memory where every unbound pod has waited longer than the
// scale-up delay and every node been idle longer than the idle time.
func waited(pods []corev1.Pod, nodes []corev1.Node) memory {
	m := memory{pendingSince: map[types.UID]time.Time{}, idleSince: map[string]time.Time{}}
	for _, p := range pods {
		m.pendingSince[p.UID] = testNow.Add(-testDelay)
	}
	for _, n := range nodes {
		m.idleSince[n.Name] = testNow.Add(-testIdle)
	}
	return m
}

func fresh() memory {
	return memory{pendingSince: map[types.UID]time.Time{}, idleSince: map[string]time.Time{}}
}

// describe renders a step: "grow a100 +2 (2 pods); remove a100 gke-c-a100-a-1".
func describe(st step) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(st.grow)) {
		parts = append(parts, fmt.Sprintf("grow %s +%d (%d pods)", name, st.grow[name], st.pods[name]))
	}
	for _, name := range slices.Sorted(maps.Keys(st.removed)) {
		parts = append(parts, fmt.Sprintf("remove %s %s", name, strings.Join(st.removed[name], " ")))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

func TestDecide(t *testing.T) {
	noSchedule := &containerpb.NodeTaint{Key: "dedicated", Value: "ml", Effect: containerpb.NodeTaint_NO_SCHEDULE}
	tests := []struct {
		name  string
		pools func(t *testing.T) []*nodePool
		// pods builds the pods given the pools' nodes.
		pods   func(nodes []corev1.Node) []corev1.Pod
		memory func(pods []corev1.Pod, nodes []corev1.Node) memory
		want   string
	}{{
		name:  "GPU pods that wait long enough grow the GPU pool by the nodes they need",
		pools: func(t *testing.T) []*nodePool { return []*nodePool{a100Pool(t, 1, 1, 3)} },
		pods: func(n []corev1.Node) []corev1.Pod {
			return []corev1.Pod{pod("p0", "1", 1, onNode(n[0].Name)), pod("p1", "1", 1), pod("p2", "1", 1)}
		},
		want: "grow a100 +2 (2 pods)",
	}, {
		name:  "not before the scale-up delay",
		pools: func(t *testing.T) []*nodePool { return []*nodePool{a100Pool(t, 1, 1, 3)} },
		pods: func(n []corev1.Node) []corev1.Pod {
			return []corev1.Pod{pod("p0", "1", 1, onNode(n[0].Name)), pod("p1", "1", 1)}
		},
		memory: func([]corev1.Pod, []corev1.Node) memory { return fresh() },
		want:   "none",
	}, {
		name:  "up to the pool's maximum",
		pools: func(t *testing.T) []*nodePool { return []*nodePool{a100Pool(t, 1, 1, 3)} },
		pods: func(n []corev1.Node) []corev1.Pod {
			return []corev1.Pod{pod("p0", "1", 1, onNode(n[0].Name)), pod("p1", "1", 1), pod("p2", "1", 1), pod("p3", "1", 1), pod("p4", "1", 1)}
		},
		want: "grow a100 +2 (2 pods)",
	}, {
		name:  "none at the maximum",
		pools: func(t *testing.T) []*nodePool { return []*nodePool{a100Pool(t, 3, 1, 3)} },
		pods: func(n []corev1.Node) []corev1.Pod {
			return []corev1.Pod{pod("p0", "1", 1, onNode(n[0].Name)), pod("p1", "1", 1, onNode(n[1].Name)), pod("p2", "1", 1, onNode(n[2].Name)), pod("p3", "1", 1)}
		},
		want: "none",
	}, {
		name:  "a pod that asks for no GPU does not grow a GPU pool (GKE's GPU taint)",
		pools: func(t *testing.T) []*nodePool { return []*nodePool{a100Pool(t, 0, 0, 3)} },
		pods:  func([]corev1.Node) []corev1.Pod { return []corev1.Pod{pod("cpu-only", "8", 0)} },
		want:  "none",
	}, {
		// GKE taints no GPU pool of a cluster whose pools all have GPUs.
		name: "in a cluster of GPU pools only, a pod that asks for no GPU grows a GPU pool",
		pools: func(t *testing.T) []*nodePool {
			return []*nodePool{poolBeside(t, nil, "a100", "a2-highgpu-1g", nil, 0, 0, 3)}
		},
		pods: func([]corev1.Node) []corev1.Pod { return []corev1.Pod{pod("cpu-only", "8", 0)} },
		want: "grow a100 +1 (1 pods)",
	}, {
		name:  "a GPU pod needs no toleration of its own (GKE adds it)",
		pools: func(t *testing.T) []*nodePool { return []*nodePool{a100Pool(t, 0, 0, 3)} },
		pods:  func([]corev1.Node) []corev1.Pod { return []corev1.Pod{pod("gpu", "1", 1)} },
		want:  "grow a100 +1 (1 pods)",
	}, {
		name:  "a pod that needs two GPUs does not fit nodes of one",
		pools: func(t *testing.T) []*nodePool { return []*nodePool{a100Pool(t, 1, 1, 3)} },
		pods:  func([]corev1.Node) []corev1.Pod { return []corev1.Pod{pod("two", "1", 2)} },
		want:  "none",
	}, {
		name: "pods are packed onto new nodes: three 1-GPU pods on 2-GPU nodes",
		pools: func(t *testing.T) []*nodePool {
			return []*nodePool{testPool(t, "a100x2", "a2-highgpu-2g", nil, 0, 0, 4)}
		},
		pods: func([]corev1.Node) []corev1.Pod {
			return []corev1.Pod{pod("p0", "1", 1), pod("p1", "1", 1), pod("p2", "1", 1)}
		},
		want: "grow a100x2 +2 (3 pods)",
	}, {
		name:  "the pool's taints need the pod's toleration",
		pools: func(t *testing.T) []*nodePool { return []*nodePool{a100Pool(t, 0, 0, 3, noSchedule)} },
		pods: func([]corev1.Node) []corev1.Pod {
			return []corev1.Pod{pod("untolerated", "1", 1), pod("tolerated", "1", 1, tolerating("dedicated"))}
		},
		want: "grow a100 +1 (1 pods)",
	}, {
		name: "nodeSelector against the pool's labels",
		pools: func(t *testing.T) []*nodePool {
			return []*nodePool{a100Pool(t, 0, 0, 3), testPool(t, "l4", "g2-standard-8", nil, 0, 0, 3)}
		},
		pods: func([]corev1.Node) []corev1.Pod {
			return []corev1.Pod{
				pod("wants-l4", "1", 1, selecting("cloud.google.com/gke-accelerator", "nvidia-l4")),
				pod("wants-h100", "1", 1, selecting("cloud.google.com/gke-accelerator", "nvidia-h100-80gb")),
			}
		},
		want: "grow l4 +1 (1 pods)",
	}, {
		name: "the first pool that fits, in pool order",
		pools: func(t *testing.T) []*nodePool {
			return []*nodePool{testPool(t, "cpu", "e2-standard-4", nil, 0, 0, 3), testPool(t, "big", "e2-standard-16", nil, 0, 0, 3)}
		},
		pods: func([]corev1.Node) []corev1.Pod { return []corev1.Pod{pod("small", "1", 0), pod("large", "8", 0)} },
		want: "grow big +1 (1 pods); grow cpu +1 (1 pods)",
	}, {
		name:  "a pod that fits an existing node's free room waits for the scheduler",
		pools: func(t *testing.T) []*nodePool { return []*nodePool{testPool(t, "big", "e2-standard-16", nil, 1, 1, 3)} },
		pods: func(n []corev1.Node) []corev1.Pod {
			return []corev1.Pod{pod("running", "8", 0, onNode(n[0].Name)), pod("fits", "4", 0), pod("does-not", "6", 0)}
		},
		want: "grow big +1 (1 pods)",
	}, {
		name:  "pods Pending for another reason than Unschedulable wait for it",
		pools: func(t *testing.T) []*nodePool { return []*nodePool{a100Pool(t, 0, 0, 3)} },
		pods: func([]corev1.Node) []corev1.Pod {
			gated := pod("gated", "1", 1)
			gated.Status.Conditions[0].Reason = corev1.PodReasonSchedulingGated
			return []corev1.Pod{gated}
		},
		want: "none",
	}, {
		name:  "idle nodes go down to the minimum, the highest first",
		pools: func(t *testing.T) []*nodePool { return []*nodePool{a100Pool(t, 3, 1, 3)} },
		pods:  func([]corev1.Node) []corev1.Pod { return nil },
		want:  "remove a100 gke-c-a100-a-1 gke-c-a100-a-2",
	}, {
		name:  "the idle nodes go, not the busy one",
		pools: func(t *testing.T) []*nodePool { return []*nodePool{a100Pool(t, 3, 0, 3)} },
		pods: func(n []corev1.Node) []corev1.Pod {
			return []corev1.Pod{pod("busy", "1", 1, onNode(n[1].Name)), pod("daemon", "100m", 0, onNode(n[0].Name), ofDaemonSet)}
		},
		want: "remove a100 gke-c-a100-a-0 gke-c-a100-a-2",
	}, {
		name:  "not before they are idle long enough",
		pools: func(t *testing.T) []*nodePool { return []*nodePool{a100Pool(t, 3, 1, 3)} },
		pods:  func([]corev1.Node) []corev1.Pod { return nil },
		memory: func([]corev1.Pod, []corev1.Node) memory {
			return fresh()
		},
		want: "none",
	}, {
		name:  "not a node that an unschedulable pod fits on",
		pools: func(t *testing.T) []*nodePool { return []*nodePool{a100Pool(t, 3, 1, 3)} },
		pods: func(n []corev1.Node) []corev1.Pod {
			return []corev1.Pod{pod("p0", "1", 1, onNode(n[0].Name)), pod("two-cpus-short", "11900m", 1, onNode(n[1].Name)), pod("waits", "11900m", 1)}
		},
		want: "none",
	}, {
		name: "a pod that fits no pool keeps none from shrinking",
		pools: func(t *testing.T) []*nodePool {
			return []*nodePool{a100Pool(t, 2, 1, 3)}
		},
		pods: func([]corev1.Node) []corev1.Pod { return []corev1.Pod{pod("too-big", "64", 0)} },
		want: "remove a100 gke-c-a100-a-1",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pools := tt.pools(t)
			var sps []scaledPool
			var nodes []corev1.Node
			for _, p := range pools {
				sps = append(sps, scaledPoolOf(p))
				nodes = append(nodes, nodesOf(p)...)
			}
			pods := tt.pods(nodes)
			m := waited(pods, nodes)
			if tt.memory != nil {
				m = tt.memory(pods, nodes)
			}
			got := describe(decide(sps, nodes, pods, &m, testNow, testDelay, testIdle))
			if got != tt.want {
				t.Errorf("step: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// TestDecideRemembers checks the timers across looks: a pod's wait and a
// node's idleness start when first seen and end when they end.
func TestDecideRemembers(t *testing.T) {
	p := a100Pool(t, 2, 1, 3)
	sps := []scaledPool{scaledPoolOf(p)}
	nodes := nodesOf(p)
	m := fresh()
	look := func(at time.Duration, pods ...corev1.Pod) string {
		return describe(decide(sps, nodes, pods, &m, testNow.Add(at), testDelay, testIdle))
	}
	busy := pod("busy", "1", 1, onNode(nodes[0].Name))
	waiting := pod("waiting", "11900m", 1) // a whole a2-highgpu-1g: 12 vCPUs less 100m
	blocker := pod("blocker", "11900m", 1, onNode(nodes[1].Name))
	for _, step := range []struct {
		at   time.Duration
		pods []corev1.Pod
		want string
	}{
		{0, []corev1.Pod{busy, blocker, waiting}, "none"},
		{testDelay - time.Millisecond, []corev1.Pod{busy, blocker, waiting}, "none"},
		{testDelay, []corev1.Pod{busy, blocker, waiting}, "grow a100 +1 (1 pods)"},
		// waiting is gone (placed elsewhere), blocker too: node 1 idles from now.
		{testDelay + time.Second, []corev1.Pod{busy}, "none"},
		{testDelay + time.Second + testIdle - time.Millisecond, []corev1.Pod{busy}, "none"},
		{testDelay + time.Second + testIdle, []corev1.Pod{busy}, "remove a100 gke-c-a100-a-1"},
	} {
		if got := look(step.at, step.pods...); got != step.want {
			t.Errorf("at +%s: %s, want %s", step.at, got, step.want)
		}
	}
	if len(m.pendingSince) != 0 {
		t.Errorf("remembers pods that no longer wait: %v", m.pendingSince)
	}
}

func TestZoneIndexes(t *testing.T) {
	tests := []struct {
		kept    []int
		perZone int32
		want    []int
	}{
		{nil, 3, nil},
		{[]int{0, 1, 2}, 3, nil},
		{[]int{2}, 1, []int{2}},
		{[]int{2}, 2, []int{0, 2}},
		{[]int{2}, 3, nil},
		{[]int{0, 2, 5}, 2, []int{0, 2}},
		{[]int{3, 1}, 4, nil},
		{[]int{4}, 3, []int{0, 1, 4}},
		{[]int{4}, 0, nil},
	}
	for _, tt := range tests {
		p := &nodePool{perZone: tt.perZone, kept: map[string][]int{"z": tt.kept}}
		if got := p.zoneIndexes("z"); !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("kept %v, %d nodes: %v, want %v", tt.kept, tt.perZone, got, tt.want)
		}
	}
}
