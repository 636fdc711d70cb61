package gkeemu

import "context"

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
	Indexes     []int
	MachineType string
	MilliCPU    int64
	MemoryMiB   int64
	// GPUs is the nvidia.com/gpu count of each node, GPUType its accelerator
	// type ("" when GPUs is 0).
	GPUs    int64
	GPUType string
	// Labels are the node labels GKE would set (node pool, zone, instance
	// type, accelerator, spot) plus the pool's configured labels.
	Labels map[string]string
}
