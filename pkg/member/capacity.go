package member

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
)

// ReadCapacity reads what package capacity counts replicas on, with two
// requests: one LIST of nodes and one LIST of the pods bound to a node and
// not terminated. The result has no node pools; a GKE cluster's are the
// caller's to add.
func (c *Conn) ReadCapacity(ctx context.Context) (capacity.Cluster, error) {
	if c.Err != nil {
		return capacity.Cluster{}, c.Err
	}
	nodes, err := c.core.Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return capacity.Cluster{}, fmt.Errorf("reading the capacity of cluster %s: listing nodes: %w", c.Name, err)
	}
	pods, err := c.core.Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: boundLivePods.String()})
	if err != nil {
		return capacity.Cluster{}, fmt.Errorf("reading the capacity of cluster %s: listing pods: %w", c.Name, err)
	}
	return capacity.Cluster{Nodes: nodes.Items, Pods: pods.Items}, nil
}

// boundLivePods selects the pods that hold node resources, as the
// scheduler's own pod informer does, so the server sends nothing we drop.
var boundLivePods = fields.AndSelectors(
	fields.OneTermNotEqualSelector("spec.nodeName", ""),
	fields.OneTermNotEqualSelector("status.phase", string(corev1.PodSucceeded)),
	fields.OneTermNotEqualSelector("status.phase", string(corev1.PodFailed)),
)
