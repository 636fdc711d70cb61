package gke

import (
	"slices"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/gke/nodeshape"
)

// GPUResource is the resource GKE's GPU nodes offer their GPUs as.
const GPUResource = nodeshape.GPUResource

// NodeShape is one node of pool as GKE registers it, in zone of region: its
// allocatable (the machine's vCPUs and memory less GKE's reservations, pod
// slots, boot disk, GPUs), the labels GKE sets beside the pool's own, and
// the pool's taints, GKE's GPU taint among them where GKE gave it one.
// Plan counts on it the replicas that fit on nodes not there yet: a pool
// that can still grow, a cluster not created. pool is as GKE records it
// (MadePools for what apply will make). See package nodeshape, where the
// rule lives so that the lab's emulator makes its nodes by it too.
func NodeShape(pool *containerpb.NodePool, region, zone string) (capacity.NodeShape, error) {
	return nodeshape.Of(pool, region, zone)
}

// MadePools are desired's node pools (desired from Desired) as GKE records
// them once apply has made live (nil: not created yet) into desired, keyed
// by the topology's pool name: each is nodeshape.Made beside the pools the
// cluster has at the moment apply creates or changes it, which decides
// GKE's GPU taint. Apply's order is followed: a new cluster is created
// with all its pools in one request; an existing one gets its new pools
// first (by name), then the in-place changes, then the replacements, each
// created beside the pools it replaces (drained and deleted right after),
// deletions last. A pool that stays keeps what GKE recorded for it.
func MadePools(desired, live *containerpb.Cluster) map[string]*containerpb.NodePool {
	want := sortedPools(desired.GetNodePools())
	out := make(map[string]*containerpb.NodePool, len(want))
	if live == nil {
		for i, dp := range want {
			out[dp.GetName()] = nodeshape.Made(dp, nil, slices.Delete(slices.Clone(want), i, i+1))
		}
		return out
	}
	present := slices.Clone(live.GetNodePools())
	without := func(drop ...*containerpb.NodePool) []*containerpb.NodePool {
		return slices.DeleteFunc(slices.Clone(present), func(p *containerpb.NodePool) bool { return slices.Contains(drop, p) })
	}
	cands := candidates(live.GetNodePools())
	// New pools.
	for _, dp := range want {
		if len(cands[dp.GetName()]) == 0 {
			out[dp.GetName()] = nodeshape.Made(dp, nil, present)
			present = append(present, out[dp.GetName()])
		}
	}
	// Pools that stay, changed in place or not.
	for _, dp := range want {
		if keep := LivePool(dp, live); keep != nil {
			out[dp.GetName()] = nodeshape.Made(dp, keep, without(keep))
			present[slices.Index(present, keep)] = out[dp.GetName()]
		}
	}
	// Replacements.
	for _, dp := range want {
		if _, done := out[dp.GetName()]; done {
			continue
		}
		_, old := pairPool(dp, cands[dp.GetName()])
		out[dp.GetName()] = nodeshape.Made(dp, nil, present)
		present = append(without(old...), out[dp.GetName()])
	}
	return out
}
