package gkeemu

import (
	"context"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
)

// Provisioner starts and stops the real control plane behind an emulated
// cluster. The emulator calls it from operation goroutines, never for two
// operations on the same cluster at once; name is the cluster's short name,
// unique across the emulator.
type Provisioner interface {
	// Provision starts a control plane with the given nodes and returns once
	// it serves and its nodes are Ready, as a GKE create operation does.
	Provision(ctx context.Context, name string, pools []NodePoolNodes) (ControlPlane, error)
	// Resize makes the cluster's nodes match pools, the complete desired set
	// (node pools absent from it are removed).
	Resize(ctx context.Context, name string, pools []NodePoolNodes) error
	// Deprovision stops the control plane and forgets the cluster.
	Deprovision(ctx context.Context, name string) error
	// SetDark stops (dark) or restarts the cluster's apiserver.
	SetDark(ctx context.Context, name string, dark bool) error
}

// ControlPlane is how to reach a provisioned cluster's apiserver.
type ControlPlane struct {
	// Endpoint is "host:port" or an https URL.
	Endpoint string
	// CAData, ClientCertData and ClientKeyData are PEM.
	CAData, ClientCertData, ClientKeyData []byte
}

// NodePoolNodes is the nodes of one node pool in one zone, all alike.
type NodePoolNodes struct {
	Pool  string
	Zone  string
	Count int
	// Indexes, when not nil, number the nodes instead of 0 to Count-1 (a
	// provisioner ends each node's name in "-INDEX"): the autoscaler removes
	// idle nodes, not the last ones.
	Indexes []int
	// MilliCPU and MemoryMiB are each node's CPU and memory capacity: its
	// machine type's.
	MilliCPU  int64
	MemoryMiB int64
	// Node is each node as GKE registers it (nodeshape.Of, which plan
	// uses as gke.NodeShape): allocatable (GPUs included, CPU and memory
	// less GKE's reservations), the labels GKE sets plus the pool's
	// configured ones, and taints. A node must be exactly this for plan's
	// prediction of a pool's nodes to be what it counts once they exist.
	Node capacity.NodeShape
}
