package lab

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
)

// GPUResource is the extended resource lab nodes offer GPUs as, the name
// NVIDIA's device plugin uses on GKE.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

const (
	// kwokAnnotation marks the nodes this lab's KWOK manages.
	kwokAnnotation = "kwok.x-k8s.io/node"
	// nodeLabel marks the nodes SetNodes owns, so that it never deletes
	// a node somebody else created.
	nodeLabel = "lab.geofed.io/node"
)

// Defaults of a NodeSpec's resources: a mid-sized VM.
var (
	defaultCPU    = resource.MustParse("4")
	defaultMemory = resource.MustParse("16Gi")
)

// NodeSpec describes a group of identical KWOK nodes.
type NodeSpec struct {
	// Name prefixes the nodes' names: Count nodes named Name-0, Name-1, ...
	Name string
	// Count is the number of nodes; 0 is none.
	Count int
	// Indexes, when not nil, number the nodes instead of 0 to Count-1: Count
	// distinct, non-negative indexes. A group loses a node from its middle
	// this way, as a node pool does when its autoscaler removes an idle node
	// while the ones around it run pods.
	Indexes []int
	// CPU and Memory are each node's capacity; zero values mean 4 CPUs and
	// 16Gi.
	CPU, Memory resource.Quantity
	// GPUs is each node's nvidia.com/gpu capacity.
	GPUs int64
	// Allocatable, when not nil, is each node's allocatable in full, as a
	// cloud registers its nodes (gke.NodeShape): CPU and memory less what
	// the provider reserves, and every other resource the node offers,
	// which its capacity then has too. Nil makes allocatable the capacity:
	// CPU, Memory, GPUs, 110 pods and 100Gi of ephemeral storage.
	Allocatable corev1.ResourceList
	// Labels are added to each node's labels, e.g.
	// topology.kubernetes.io/region and zone,
	// node.kubernetes.io/instance-type, cloud.google.com/gke-nodepool.
	Labels map[string]string
	// Taints are each node's taints, e.g. GKE's nvidia.com/gpu=present on
	// GPU nodes. SetNodes owns all of a node's taints but Kubernetes' own
	// (see systemTaint), which its controllers set and clear.
	Taints []corev1.Taint
}

func validateNodes(specs []NodeSpec) error {
	// Node names are unique when prefixes are: the part after the last
	// dash of a name is its index, so the prefix is the rest.
	names := map[string]bool{}
	for i, s := range specs {
		if s.Name == "" {
			return fmt.Errorf("nodes[%d]: no name prefix", i)
		}
		if err := checkIndexes(s); err != nil {
			return fmt.Errorf("nodes[%d] (%s): %w", i, s.Name, err)
		}
		last := max(s.Count-1, 0)
		if len(s.Indexes) > 0 {
			last = slices.Max(s.Indexes)
		}
		if errs := validation.IsDNS1123Subdomain(nodeName(s.Name, last)); len(errs) > 0 {
			return fmt.Errorf("nodes[%d]: name prefix %q: not usable in node names: %s", i, s.Name, strings.Join(errs, "; "))
		}
		if names[s.Name] {
			return fmt.Errorf("nodes[%d]: name prefix %q used twice", i, s.Name)
		}
		names[s.Name] = true
		if s.Count < 0 || s.GPUs < 0 || s.CPU.Sign() < 0 || s.Memory.Sign() < 0 {
			return fmt.Errorf("nodes[%d] (%s): count and resources must not be negative", i, s.Name)
		}
		capacity, alloc := s.resources()
		for name, q := range alloc {
			if c := capacity[name]; q.Sign() < 0 || q.Cmp(c) > 0 {
				return fmt.Errorf("nodes[%d] (%s): allocatable %s %s is negative or above the capacity, %s",
					i, s.Name, name, q.String(), c.String())
			}
		}
	}
	return nil
}

func checkIndexes(s NodeSpec) error {
	if s.Indexes == nil {
		return nil
	}
	if len(s.Indexes) != s.Count {
		return fmt.Errorf("%d indexes for %d nodes", len(s.Indexes), s.Count)
	}
	seen := make(map[int]bool, len(s.Indexes))
	for _, x := range s.Indexes {
		if x < 0 || seen[x] {
			return fmt.Errorf("indexes must be distinct and not negative, got %v", s.Indexes)
		}
		seen[x] = true
	}
	return nil
}

func countNodes(specs []NodeSpec) int {
	n := 0
	for _, s := range specs {
		n += s.Count
	}
	return n
}

func nodeName(prefix string, i int) string { return prefix + "-" + strconv.Itoa(i) }

// indexes number the group's nodes.
func (s NodeSpec) indexes() []int {
	if s.Indexes != nil {
		return s.Indexes
	}
	out := make([]int, max(s.Count, 0))
	for i := range out {
		out[i] = i
	}
	return out
}

// resources are each node's capacity and allocatable.
func (s NodeSpec) resources() (capacity, allocatable corev1.ResourceList) {
	cpu, mem := s.CPU, s.Memory
	if cpu.IsZero() {
		cpu = defaultCPU
	}
	if mem.IsZero() {
		mem = defaultMemory
	}
	capacity = corev1.ResourceList{
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	if s.GPUs > 0 {
		capacity[GPUResource] = *resource.NewQuantity(s.GPUs, resource.DecimalSI)
	}
	maps.Copy(capacity, s.Allocatable)
	capacity[corev1.ResourceCPU], capacity[corev1.ResourceMemory] = cpu, mem
	if s.Allocatable == nil {
		return capacity, capacity.DeepCopy()
	}
	return capacity, s.Allocatable.DeepCopy()
}

// desiredNodes returns the nodes the specs describe, by name, with kubelets
// of the given version.
func desiredNodes(specs []NodeSpec, kubeletVersion string) map[string]*corev1.Node {
	out := map[string]*corev1.Node{}
	for _, s := range specs {
		capacity, alloc := s.resources()
		for _, i := range s.indexes() {
			name := nodeName(s.Name, i)
			labels := map[string]string{
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
				nodeLabel:                "true",
			}
			maps.Copy(labels, s.Labels)
			out[name] = &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{
					Name:        name,
					Labels:      labels,
					Annotations: map[string]string{kwokAnnotation: "fake"},
				},
				Spec: corev1.NodeSpec{Taints: slices.Clone(s.Taints)},
				Status: corev1.NodeStatus{
					Capacity:    capacity.DeepCopy(),
					Allocatable: alloc.DeepCopy(),
					NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: kubeletVersion},
				},
			}
		}
	}
	return out
}

// SetNodes makes the cluster's lab nodes match specs: it creates the missing
// ones, updates the labels, taints and resources of changed ones and deletes
// the rest (as a node pool resize does), and returns once every node is
// Ready and carries no taint but its spec's, so that Pods can be scheduled
// on it.
func (c *Cluster) SetNodes(ctx context.Context, specs []NodeSpec) error {
	if err := validateNodes(specs); err != nil {
		return fmt.Errorf("setting nodes of cluster %s: %w", c.Name, err)
	}
	if c.apiserverOnly && len(specs) > 0 {
		return fmt.Errorf("setting nodes of cluster %s: it runs its apiserver only, with no KWOK to run nodes", c.Name)
	}
	c.nodesMu.Lock()
	defer c.nodesMu.Unlock()
	cs, err := c.client()
	if err != nil {
		return err
	}
	if err := reconcileNodes(ctx, cs, desiredNodes(specs, c.version)); err != nil {
		return fmt.Errorf("setting nodes of cluster %s: %w", c.Name, err)
	}
	c.mu.Lock()
	kwok := c.kwok
	c.mu.Unlock()
	if err := waitFor(ctx, kwok, nodesTimeout, func(ctx context.Context) error {
		return nodesReady(ctx, cs)
	}); err != nil {
		return kwok.failure(fmt.Sprintf("nodes of cluster %s did not become Ready", c.Name), err)
	}
	return nil
}

func reconcileNodes(ctx context.Context, cs kubernetes.Interface, want map[string]*corev1.Node) error {
	have, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: nodeLabel + "=true"})
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	for i := range have.Items {
		n := &have.Items[i]
		w, ok := want[n.Name]
		if !ok {
			err := cs.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting node %s: %w", n.Name, err)
			}
			continue
		}
		delete(want, n.Name)
		var system, own []corev1.Taint
		for _, t := range n.Spec.Taints {
			if systemTaint(t) {
				system = append(system, t)
			} else {
				own = append(own, t)
			}
		}
		if !maps.Equal(n.Labels, w.Labels) || !slices.EqualFunc(own, w.Spec.Taints, sameTaint) {
			name := n.Name
			n.Labels, n.Spec.Taints = w.Labels, append(system, w.Spec.Taints...)
			if n, err = cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("updating labels and taints of node %s: %w", name, err)
			}
		}
		if !sameResources(n.Status.Capacity, w.Status.Capacity) || !sameResources(n.Status.Allocatable, w.Status.Allocatable) {
			n.Status.Capacity, n.Status.Allocatable = w.Status.Capacity, w.Status.Allocatable
			if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("updating resources of node %s: %w", n.Name, err)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, err := cs.CoreV1().Nodes().Create(ctx, want[name], metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating node %s: %w", name, err)
		}
	}
	return nil
}

func sameResources(a, b corev1.ResourceList) bool {
	return maps.EqualFunc(a, b, func(x, y resource.Quantity) bool { return x.Cmp(y) == 0 })
}

func sameTaint(a, b corev1.Taint) bool {
	return a.Key == b.Key && a.Value == b.Value && a.Effect == b.Effect
}

// systemTaint reports whether t is one of Kubernetes' own taints (not-ready,
// unreachable, unschedulable, uninitialized and the like), which its
// controllers put on nodes and take off again, rather than a taint a node
// is made with.
func systemTaint(t corev1.Taint) bool {
	return strings.HasPrefix(t.Key, "node.kubernetes.io/") || strings.HasPrefix(t.Key, "node.cloudprovider.kubernetes.io/")
}

// nodesReady returns nil when every lab node is Ready and carries none of
// Kubernetes' own taints. The node lifecycle controller taints a new node
// not-ready until KWOK reports it Ready, and the scheduler does not place
// Pods there until the taint is gone.
func nodesReady(ctx context.Context, cs kubernetes.Interface) error {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: nodeLabel + "=true"})
	if err != nil {
		return err
	}
	var notReady []string
	for _, n := range nodes.Items {
		if !nodeReady(&n) || slices.ContainsFunc(n.Spec.Taints, systemTaint) {
			notReady = append(notReady, n.Name)
		}
	}
	if len(notReady) > 0 {
		sort.Strings(notReady)
		return errors.New("nodes not Ready or still tainted: " + strings.Join(notReady, ", "))
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
