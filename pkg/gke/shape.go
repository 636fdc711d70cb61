package gke

import (
	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/gke/nodeshape"
)

// GPUResource is the resource GKE's GPU nodes offer their GPUs as.
const GPUResource = nodeshape.GPUResource

// NodeShape is one node of pool as GKE registers it, in zone of region: its
// allocatable (the machine's vCPUs and memory less GKE's reservations, pod
// slots, boot disk, GPUs), the labels GKE sets beside the pool's own, and
// GKE's GPU taint and the pool's taints. Plan counts on it the replicas
// that fit on nodes not there yet: a pool that can still grow, a cluster
// not created. See package nodeshape, where the rule lives so that the
// lab's emulator makes its nodes by it too.
func NodeShape(pool *containerpb.NodePool, region, zone string) (capacity.NodeShape, error) {
	return nodeshape.Of(pool, region, zone)
}
