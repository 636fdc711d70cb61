package gke

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/geofed-io/kubectl-geofed/pkg/gke/nodeshape"
)

// Node labels GKE sets on every node of a node pool.
const (
	LabelNodePool = nodeshape.LabelNodePool
	LabelZone     = corev1.LabelTopologyZone
)

// NodeCounts is how many nodes each node pool has in each zone:
// pool name → zone → nodes.
//
// GKE's API does not report a pool's current size: NodePool.InitialNodeCount
// keeps its creation value after a resize, and the deprecated
// Cluster.CurrentNodeCount is one total for the whole cluster. GKE's advice
// is to ask Kubernetes, so CountNodes reads the cluster's Node objects.
type NodeCounts map[string]map[string]int32

// NodeLister lists Node objects; a clientset's CoreV1().Nodes() is one.
type NodeLister interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.NodeList, error)
}

// CountNodes counts a GKE cluster's nodes per pool and zone from the node
// labels GKE sets. Nodes being deleted are not counted: their instances are
// already leaving the pool.
func CountNodes(ctx context.Context, nodes NodeLister) (NodeCounts, error) {
	counts := NodeCounts{}
	opts := metav1.ListOptions{LabelSelector: LabelNodePool, Limit: 500}
	for {
		list, err := nodes.List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("listing nodes to count node pool sizes: %w", err)
		}
		counts.add(list.Items)
		if list.Continue == "" {
			return counts, nil
		}
		opts.Continue = list.Continue
	}
}

// CountNodesIn is CountNodes over nodes already listed (plan lists every
// node once to count capacity, and counts pool sizes from the same list).
func CountNodesIn(nodes []corev1.Node) NodeCounts {
	counts := NodeCounts{}
	counts.add(nodes)
	return counts
}

func (counts NodeCounts) add(nodes []corev1.Node) {
	for i := range nodes {
		n := &nodes[i]
		pool, ok := n.Labels[LabelNodePool]
		if !ok || n.DeletionTimestamp != nil {
			continue
		}
		if counts[pool] == nil {
			counts[pool] = map[string]int32{}
		}
		counts[pool][n.Labels[LabelZone]]++
	}
}
