package status

import (
	"sort"
	"strings"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// nodeCounts counts the nodes and those whose Ready condition is True.
func nodeCounts(nodes []corev1.Node) *Nodes {
	n := &Nodes{Total: len(nodes)}
	for i := range nodes {
		if nodeReady(&nodes[i]) {
			n.Ready++
		}
	}
	return n
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// extendedResources sums, per extended resource (nvidia.com/gpu and the
// like), what Ready nodes offer and what the pods bound to nodes request,
// charged as the scheduler charges them.
func extendedResources(nodes []corev1.Node, pods []corev1.Pod) []Resource {
	allocatable := map[corev1.ResourceName]*resource.Quantity{}
	requested := map[corev1.ResourceName]*resource.Quantity{}
	add := func(m map[corev1.ResourceName]*resource.Quantity, name corev1.ResourceName, q resource.Quantity) {
		if !isExtended(name) {
			return
		}
		if m[name] == nil {
			m[name] = resource.NewQuantity(0, q.Format)
		}
		m[name].Add(q)
	}
	for i := range nodes {
		if !nodeReady(&nodes[i]) {
			continue
		}
		for name, q := range nodes[i].Status.Allocatable {
			add(allocatable, name, q)
		}
	}
	for i := range pods {
		p := &pods[i]
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for name, q := range capacity.PodRequests(p) {
			add(requested, name, q)
		}
	}
	names := map[corev1.ResourceName]bool{}
	for name := range allocatable {
		names[name] = true
	}
	for name := range requested {
		names[name] = true
	}
	out := make([]Resource, 0, len(names))
	for name := range names {
		out = append(out, Resource{Name: string(name), Allocatable: quantity(allocatable[name]), Requested: quantity(requested[name])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func quantity(q *resource.Quantity) string {
	if q == nil {
		return "0"
	}
	return q.String()
}

// isExtended reports whether a resource is an extended resource, as
// Kubernetes defines it: a name with a domain outside kubernetes.io (cpu,
// memory, hugepages-* and pods are native), and not a quota's requests.*.
func isExtended(name corev1.ResourceName) bool {
	s := string(name)
	if !strings.Contains(s, "/") || strings.Contains(s, "kubernetes.io/") {
		return false
	}
	return !strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix)
}
