package lab

import (
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestValidateNodes(t *testing.T) {
	tests := []struct {
		name  string
		specs []NodeSpec
		err   string // substring; "" = valid
	}{
		{name: "none"},
		{name: "two pools", specs: []NodeSpec{{Name: "cpu", Count: 2}, {Name: "gpu", Count: 0}}},
		{name: "no prefix", specs: []NodeSpec{{Count: 1}}, err: "no name prefix"},
		{name: "bad prefix", specs: []NodeSpec{{Name: "GPU_pool", Count: 1}}, err: `name prefix "GPU_pool"`},
		{name: "prefix twice", specs: []NodeSpec{{Name: "a", Count: 1}, {Name: "a", Count: 2}}, err: "used twice"},
		{name: "negative count", specs: []NodeSpec{{Name: "a", Count: -1}}, err: "must not be negative"},
		{name: "negative cpu", specs: []NodeSpec{{Name: "a", Count: 1, CPU: resource.MustParse("-1")}}, err: "must not be negative"},
		{name: "prefix of a prefix", specs: []NodeSpec{{Name: "gpu", Count: 11}, {Name: "gpu-1", Count: 1}}},
		{name: "indexes", specs: []NodeSpec{{Name: "gpu", Count: 2, Indexes: []int{2, 0}}, {Name: "cpu", Count: 0, Indexes: []int{}}}},
		{name: "indexes for fewer nodes", specs: []NodeSpec{{Name: "gpu", Count: 2, Indexes: []int{2}}}, err: "1 indexes for 2 nodes"},
		{name: "an index twice", specs: []NodeSpec{{Name: "gpu", Count: 2, Indexes: []int{1, 1}}}, err: "distinct and not negative"},
		{name: "negative index", specs: []NodeSpec{{Name: "gpu", Count: 1, Indexes: []int{-1}}}, err: "distinct and not negative"},
		{name: "allocatable", specs: []NodeSpec{{Name: "a", Count: 1, CPU: resource.MustParse("4"),
			Allocatable: corev1.ResourceList{"cpu": resource.MustParse("3920m"), "pods": resource.MustParse("32")}}}},
		{name: "allocatable above capacity", specs: []NodeSpec{{Name: "a", Count: 1, CPU: resource.MustParse("4"),
			Allocatable: corev1.ResourceList{"cpu": resource.MustParse("5")}}}, err: "allocatable cpu 5 is negative or above the capacity, 4"},
		{name: "negative allocatable", specs: []NodeSpec{{Name: "a", Count: 1,
			Allocatable: corev1.ResourceList{"pods": resource.MustParse("-1")}}}, err: "allocatable pods -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateNodes(tt.specs)
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("err = %v, want one containing %q", err, tt.err)
			}
		})
	}
}

func TestDesiredNodes(t *testing.T) {
	nodes := desiredNodes([]NodeSpec{
		{Name: "cpu", Count: 1},
		{Name: "l4", Count: 2, CPU: resource.MustParse("8"), Memory: resource.MustParse("32Gi"), GPUs: 1,
			Labels: map[string]string{"cloud.google.com/gke-nodepool": "l4", "type": "overridden"}},
	}, "v1.37.2")
	if len(nodes) != 3 || nodes["cpu-0"] == nil || nodes["l4-0"] == nil || nodes["l4-1"] == nil {
		t.Fatalf("nodes %v, want cpu-0, l4-0, l4-1", nodes)
	}
	cpu := nodes["cpu-0"]
	for res, want := range map[corev1.ResourceName]string{"cpu": "4", "memory": "16Gi", "pods": "110"} {
		if got := cpu.Status.Allocatable[res]; got.String() != want {
			t.Errorf("cpu-0 allocatable %s = %s, want %s (the default)", res, got.String(), want)
		}
	}
	if _, ok := cpu.Status.Capacity[GPUResource]; ok {
		t.Error("cpu-0 has a GPU capacity, want none")
	}
	if cpu.Annotations[kwokAnnotation] != "fake" || cpu.Labels[nodeLabel] != "true" {
		t.Errorf("cpu-0 lacks the KWOK annotation or lab label: %v %v", cpu.Annotations, cpu.Labels)
	}
	l4 := nodes["l4-1"]
	if g := l4.Status.Allocatable[GPUResource]; g.Value() != 1 {
		t.Errorf("l4-1 allocatable GPUs %s, want 1", g.String())
	}
	if m := l4.Status.Capacity[corev1.ResourceMemory]; m.String() != "32Gi" {
		t.Errorf("l4-1 memory %s, want 32Gi", m.String())
	}
	if l4.Labels["cloud.google.com/gke-nodepool"] != "l4" || l4.Labels["type"] != "overridden" || l4.Labels["kubernetes.io/hostname"] != "l4-1" {
		t.Errorf("l4-1 labels %v", l4.Labels)
	}
	if v := l4.Status.NodeInfo.KubeletVersion; v != "v1.37.2" {
		t.Errorf("l4-1 kubelet version %q, want v1.37.2", v)
	}
	if len(l4.Spec.Taints) != 0 {
		t.Errorf("l4-1 taints %v, want none", l4.Spec.Taints)
	}
}

// TestDesiredNodesShaped checks a node made as a cloud registers it: its
// allocatable in full, capacity the machine's CPU and memory with the rest
// as allocatable, and its taints.
func TestDesiredNodesShaped(t *testing.T) {
	gpuTaint := corev1.Taint{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}
	alloc := corev1.ResourceList{
		"cpu": resource.MustParse("11900m"), "memory": resource.MustParse("80038Mi"),
		"pods": resource.MustParse("32"), "ephemeral-storage": resource.MustParse("50Gi"), GPUResource: resource.MustParse("1"),
	}
	nodes := desiredNodes([]NodeSpec{{
		Name: "a100", Count: 1, CPU: resource.MustParse("12"), Memory: resource.MustParse("85Gi"), GPUs: 1,
		Allocatable: alloc, Taints: []corev1.Taint{gpuTaint},
	}}, "v1.37.2")
	n := nodes["a100-0"]
	if n == nil {
		t.Fatalf("nodes %v, want a100-0", slices.Sorted(maps.Keys(nodes)))
	}
	if !sameResources(n.Status.Allocatable, alloc) {
		t.Errorf("allocatable %v, want %v", n.Status.Allocatable, alloc)
	}
	wantCapacity := alloc.DeepCopy()
	wantCapacity["cpu"], wantCapacity["memory"] = resource.MustParse("12"), resource.MustParse("85Gi")
	if !sameResources(n.Status.Capacity, wantCapacity) {
		t.Errorf("capacity %v, want %v", n.Status.Capacity, wantCapacity)
	}
	if !slices.Equal(n.Spec.Taints, []corev1.Taint{gpuTaint}) {
		t.Errorf("taints %v, want %v", n.Spec.Taints, gpuTaint)
	}
	n.Status.Allocatable["cpu"] = resource.MustParse("1")
	if q := alloc["cpu"]; q.String() != "11900m" {
		t.Error("the node shares its allocatable with the spec")
	}
}

func TestSystemTaint(t *testing.T) {
	for key, want := range map[string]bool{
		"node.kubernetes.io/not-ready":                   true,
		"node.kubernetes.io/unschedulable":               true,
		"node.cloudprovider.kubernetes.io/uninitialized": true,
		"nvidia.com/gpu":                                 false,
		"cloud.google.com/gke-spot":                      false,
	} {
		if got := systemTaint(corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule}); got != want {
			t.Errorf("systemTaint(%s) = %t, want %t", key, got, want)
		}
	}
}

func TestDesiredNodesIndexes(t *testing.T) {
	nodes := desiredNodes([]NodeSpec{{Name: "gpu", Count: 2, Indexes: []int{0, 2}}}, "v1.37.2")
	if len(nodes) != 2 || nodes["gpu-0"] == nil || nodes["gpu-2"] == nil {
		t.Errorf("nodes %v, want gpu-0 and gpu-2", slices.Sorted(maps.Keys(nodes)))
	}
}
