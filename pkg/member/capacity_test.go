package member

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const gpu corev1.ResourceName = "nvidia.com/gpu"

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func ctr(name string, requests corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: requests}}
}

func sidecar(name string, requests corev1.ResourceList) corev1.Container {
	c := ctr(name, requests)
	always := corev1.ContainerRestartPolicyAlways
	c.RestartPolicy = &always
	return c
}

func TestPodRequest(t *testing.T) {
	tests := []struct {
		name string
		res  corev1.ResourceName
		pod  corev1.Pod
		want int64
	}{{
		name: "no requests",
		res:  gpu,
		pod:  corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{ctr("a", nil)}}},
		want: 0,
	}, {
		name: "containers add up",
		res:  gpu,
		pod: corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
			ctr("a", rl("nvidia.com/gpu", "1")), ctr("b", rl("nvidia.com/gpu", "2", "cpu", "1")),
		}}},
		want: 3,
	}, {
		name: "an init container larger than the containers sets the request",
		res:  gpu,
		pod: corev1.Pod{Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{ctr("i1", rl("nvidia.com/gpu", "1")), ctr("i2", rl("nvidia.com/gpu", "4"))},
			Containers:     []corev1.Container{ctr("a", rl("nvidia.com/gpu", "1")), ctr("b", rl("nvidia.com/gpu", "1"))},
		}},
		want: 4,
	}, {
		name: "init containers smaller than the containers do not add",
		res:  gpu,
		pod: corev1.Pod{Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{ctr("i", rl("nvidia.com/gpu", "1"))},
			Containers:     []corev1.Container{ctr("a", rl("nvidia.com/gpu", "2"))},
		}},
		want: 2,
	}, {
		// The sidecar runs beside the later init container and the
		// containers: max(1+2, 1+1).
		name: "a sidecar adds to init containers after it and to the containers",
		res:  gpu,
		pod: corev1.Pod{Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{sidecar("s", rl("nvidia.com/gpu", "1")), ctr("i", rl("nvidia.com/gpu", "2"))},
			Containers:     []corev1.Container{ctr("a", rl("nvidia.com/gpu", "1"))},
		}},
		want: 3,
	}, {
		name: "overhead is added",
		res:  corev1.ResourceCPU,
		pod: corev1.Pod{Spec: corev1.PodSpec{
			Containers: []corev1.Container{ctr("a", rl("cpu", "200m"))},
			Overhead:   rl("cpu", "100m"),
		}},
		want: 300,
	}, {
		name: "cpu counts in millicores",
		res:  corev1.ResourceCPU,
		pod:  corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{ctr("a", rl("cpu", "1500m"))}}},
		want: 1500,
	}, {
		name: "pod-level requests replace the containers' for cpu",
		res:  corev1.ResourceCPU,
		pod: corev1.Pod{Spec: corev1.PodSpec{
			Resources:  &corev1.ResourceRequirements{Requests: rl("cpu", "2")},
			Containers: []corev1.Container{ctr("a", rl("cpu", "250m"))},
		}},
		want: 2000,
	}, {
		name: "pod-level requests do not apply to extended resources",
		res:  gpu,
		pod: corev1.Pod{Spec: corev1.PodSpec{
			Resources:  &corev1.ResourceRequirements{Requests: rl("cpu", "2")},
			Containers: []corev1.Container{ctr("a", rl("nvidia.com/gpu", "1"))},
		}},
		want: 1,
	}, {
		// While a downsize is in flight the node still holds the larger
		// allocation.
		name: "an allocation larger than the spec wins",
		res:  corev1.ResourceCPU,
		pod: corev1.Pod{
			Spec: corev1.PodSpec{Containers: []corev1.Container{ctr("a", rl("cpu", "500m"))}},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
				Name: "a", AllocatedResources: rl("cpu", "1"),
			}}},
		},
		want: 1000,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := podRequest(&tt.pod, tt.res)
			if got := amount(tt.res, q); got != tt.want {
				t.Errorf("podRequest = %s (%d), want %d", q.String(), got, tt.want)
			}
		})
	}
}

func node(name string, ready corev1.ConditionStatus, unschedulable bool, allocatable corev1.ResourceList) corev1.Node {
	n := corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.NodeSpec{Unschedulable: unschedulable},
		Status:     corev1.NodeStatus{Allocatable: allocatable},
	}
	if ready != "" {
		n.Status.Conditions = []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
			{Type: corev1.NodeReady, Status: ready},
		}
	}
	return n
}

func pod(nodeName string, phase corev1.PodPhase, requests corev1.ResourceList) corev1.Pod {
	return corev1.Pod{
		Spec:   corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{ctr("a", requests)}},
		Status: corev1.PodStatus{Phase: phase},
	}
}

func TestCapacity(t *testing.T) {
	gpus := func(n string) corev1.ResourceList { return rl("nvidia.com/gpu", n, "cpu", "8") }
	tests := []struct {
		name  string
		res   corev1.ResourceName
		nodes []corev1.Node
		pods  []corev1.Pod
		want  CapacityInfo
	}{{
		name: "no nodes",
		res:  gpu,
		want: CapacityInfo{},
	}, {
		name: "only Ready, schedulable nodes count",
		res:  gpu,
		nodes: []corev1.Node{
			node("ready", corev1.ConditionTrue, false, gpus("4")),
			node("not-ready", corev1.ConditionFalse, false, gpus("4")),
			node("unknown", corev1.ConditionUnknown, false, gpus("4")),
			node("no-conditions", "", false, gpus("4")),
			node("cordoned", corev1.ConditionTrue, true, gpus("4")),
		},
		want: CapacityInfo{Nodes: 5, ReadyNodes: 2, SchedulableNodes: 1, Allocatable: 4, Spare: 4},
	}, {
		name: "non-terminated pods on counted nodes are subtracted",
		res:  gpu,
		nodes: []corev1.Node{
			node("a", corev1.ConditionTrue, false, gpus("4")),
			node("b", corev1.ConditionTrue, false, gpus("8")),
			node("down", corev1.ConditionFalse, false, gpus("8")),
		},
		pods: []corev1.Pod{
			pod("a", corev1.PodRunning, rl("nvidia.com/gpu", "1")),
			pod("a", corev1.PodPending, rl("nvidia.com/gpu", "2")),
			pod("b", corev1.PodUnknown, rl("nvidia.com/gpu", "1")),
			pod("b", corev1.PodSucceeded, rl("nvidia.com/gpu", "4")),
			pod("b", corev1.PodFailed, rl("nvidia.com/gpu", "4")),
			pod("down", corev1.PodRunning, rl("nvidia.com/gpu", "8")),
			pod("", corev1.PodPending, rl("nvidia.com/gpu", "8")),
			pod("b", corev1.PodRunning, rl("cpu", "2")),
		},
		want: CapacityInfo{Nodes: 3, ReadyNodes: 2, SchedulableNodes: 2, Allocatable: 12, Requested: 4, Spare: 8},
	}, {
		name: "an overcommitted node lends nothing to the others",
		res:  gpu,
		nodes: []corev1.Node{
			node("over", corev1.ConditionTrue, false, gpus("1")),
			node("free", corev1.ConditionTrue, false, gpus("2")),
		},
		pods: []corev1.Pod{pod("over", corev1.PodRunning, rl("nvidia.com/gpu", "3"))},
		want: CapacityInfo{Nodes: 2, ReadyNodes: 2, SchedulableNodes: 2, Allocatable: 3, Requested: 3, Spare: 2},
	}, {
		name:  "nodes without the resource have none",
		res:   gpu,
		nodes: []corev1.Node{node("cpu-only", corev1.ConditionTrue, false, rl("cpu", "8"))},
		want:  CapacityInfo{Nodes: 1, ReadyNodes: 1, SchedulableNodes: 1},
	}, {
		name:  "cpu in millicores",
		res:   corev1.ResourceCPU,
		nodes: []corev1.Node{node("a", corev1.ConditionTrue, false, rl("cpu", "7910m"))},
		pods:  []corev1.Pod{pod("a", corev1.PodRunning, rl("cpu", "250m"))},
		want:  CapacityInfo{Nodes: 1, ReadyNodes: 1, SchedulableNodes: 1, Allocatable: 7910, Requested: 250, Spare: 7660},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := capacity(tt.nodes, tt.pods, tt.res); got != tt.want {
				t.Errorf("capacity =\n%+v, want\n%+v", got, tt.want)
			}
		})
	}
}
