package member

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	resourcehelper "k8s.io/component-helpers/resource"
)

// CapacityInfo is a cluster's capacity in one resource. Amounts are in the
// resource's unit: millicores for cpu, bytes for memory and storage, whole
// devices for extended resources such as nvidia.com/gpu.
type CapacityInfo struct {
	Nodes int
	// ReadyNodes have the Ready condition True.
	ReadyNodes int
	// SchedulableNodes are Ready and not cordoned: the nodes the amounts
	// below are summed over.
	SchedulableNodes int
	Allocatable      int64
	// Requested is what the non-terminated pods bound to those nodes
	// request, computed as the scheduler does.
	Requested int64
	// Spare is the sum over those nodes of allocatable minus requested, each
	// node counting at least 0 (an overcommitted node lends nothing to the
	// others), so it can exceed Allocatable-Requested.
	Spare int64
}

// SpareCapacity is Capacity(ctx, res).Spare.
func (c *Conn) SpareCapacity(ctx context.Context, res corev1.ResourceName) (int64, error) {
	info, err := c.Capacity(ctx, res)
	return info.Spare, err
}

// Capacity reads the cluster's capacity in res with two requests: one LIST of
// nodes and one LIST of the pods bound to a node and not terminated.
func (c *Conn) Capacity(ctx context.Context, res corev1.ResourceName) (CapacityInfo, error) {
	if c.Err != nil {
		return CapacityInfo{}, c.Err
	}
	nodes, err := c.core.Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return CapacityInfo{}, fmt.Errorf("reading the capacity of cluster %s: listing nodes: %w", c.Name, err)
	}
	pods, err := c.core.Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: boundLivePods.String()})
	if err != nil {
		return CapacityInfo{}, fmt.Errorf("reading the capacity of cluster %s: listing pods: %w", c.Name, err)
	}
	return capacity(nodes.Items, pods.Items, res), nil
}

// boundLivePods selects the pods that hold node resources, as the
// scheduler's own pod informer does, so the server sends nothing we drop.
var boundLivePods = fields.AndSelectors(
	fields.OneTermNotEqualSelector("spec.nodeName", ""),
	fields.OneTermNotEqualSelector("status.phase", string(corev1.PodSucceeded)),
	fields.OneTermNotEqualSelector("status.phase", string(corev1.PodFailed)),
)

// capacity sums res over the Ready, schedulable nodes, less what the
// non-terminated pods bound to them request.
func capacity(nodes []corev1.Node, pods []corev1.Pod, res corev1.ResourceName) CapacityInfo {
	info := CapacityInfo{Nodes: len(nodes)}
	requested := map[string]int64{} // by node name; present = node counted
	for i := range nodes {
		n := &nodes[i]
		if !nodeReady(n) {
			continue
		}
		info.ReadyNodes++
		if n.Spec.Unschedulable {
			continue
		}
		info.SchedulableNodes++
		requested[n.Name] = 0
	}
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if _, ok := requested[p.Spec.NodeName]; ok {
			requested[p.Spec.NodeName] += amount(res, podRequest(p, res))
		}
	}
	for i := range nodes {
		n := &nodes[i]
		req, ok := requested[n.Name]
		if !ok {
			continue
		}
		alloc := amount(res, n.Status.Allocatable[res])
		info.Allocatable += alloc
		info.Requested += req
		info.Spare += max(0, alloc-req)
	}
	return info
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podRequest is what the scheduler charges a node for pod in res: the larger
// of the containers' sum and any init container (sidecars counted as the
// sidecar KEP says), pod-level requests where set, resized requests while a
// resize is in flight, plus the pod overhead. The options are those
// kube-scheduler runs with under the default feature gates.
func podRequest(pod *corev1.Pod, res corev1.ResourceName) resource.Quantity {
	reqs := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{
		UseStatusResources: true,
		InPlacePodLevelResourcesVerticalScalingEnabled: true,
	})
	return reqs[res]
}

// amount is q as an integer in res's unit; cpu in millicores so that
// fractional cores still count.
func amount(res corev1.ResourceName, q resource.Quantity) int64 {
	if res == corev1.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}
