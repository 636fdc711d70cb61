// Package topology holds the geofed.io/v1alpha1 Topology API: the types, and
// loading them from a file with defaulting and validation whose errors name
// the file, line and field.
package topology

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// APIVersion is the only apiVersion this package reads.
	APIVersion = "geofed.io/v1alpha1"
	// Kind is the only kind this package reads.
	Kind = "Topology"

	// LabelRegion and LabelCluster are the implicit labels every member
	// cluster carries, so selectors can name them.
	LabelRegion  = "geofed.io/region"
	LabelCluster = "geofed.io/cluster"
)

// Topology is the whole file: regions, their member clusters and workloads.
type Topology struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       Spec       `json:"spec"`

	// Path is the file the topology was loaded from (absolute or as given);
	// sources are relative to its directory. Not part of the file.
	Path string `json:"-"`

	// lines is where each field was written, kept from loading so checks
	// after it (two contexts reaching one API server) can point at the
	// file; nil when the topology was not loaded from one.
	lines positions `json:"-"`
}

// ObjectMeta is the subset of Kubernetes metadata a topology has.
type ObjectMeta struct {
	Name string `json:"name"`
}

// Spec is the body of a topology.
type Spec struct {
	GKE       *GKEDefaults `json:"gke,omitempty"`
	Regions   []Region     `json:"regions"`
	Workloads []Workload   `json:"workloads,omitempty"`
}

// GKEDefaults apply to every GKE cluster in the file.
type GKEDefaults struct {
	Project        string `json:"project,omitempty"`
	ReleaseChannel string `json:"releaseChannel,omitempty"`
}

// Region is a GCP region and the member clusters in it.
type Region struct {
	Name     string    `json:"name"`
	Clusters []Cluster `json:"clusters,omitempty"`
}

// Cluster is one member cluster: exactly one of GKE (managed: created by
// apply when missing) or Kubeconfig (joined: never created or deleted).
type Cluster struct {
	Name       string            `json:"name"`
	Labels     map[string]string `json:"labels,omitempty"`
	GKE        *GKECluster       `json:"gke,omitempty"`
	Kubeconfig *KubeconfigRef    `json:"kubeconfig,omitempty"`
}

// GKECluster is the desired state of a managed GKE cluster.
type GKECluster struct {
	// Project defaults to spec.gke.project.
	Project string `json:"project,omitempty"`
	// Location is the region (regional cluster) or one of its zones; defaults
	// to the region.
	Location string `json:"location,omitempty"`
	// ReleaseChannel defaults to spec.gke.releaseChannel, then REGULAR.
	ReleaseChannel string     `json:"releaseChannel,omitempty"`
	NodePools      []NodePool `json:"nodePools,omitempty"`
}

// NodePool is one GKE node pool.
type NodePool struct {
	Name         string        `json:"name"`
	MachineType  string        `json:"machineType"`
	NodeCount    *int32        `json:"nodeCount,omitempty"`
	Accelerators []Accelerator `json:"accelerators,omitempty"`
	Autoscaling  *Autoscaling  `json:"autoscaling,omitempty"`
	Spot         bool          `json:"spot,omitempty"`
}

// Accelerator is a GPU type and how many per node.
type Accelerator struct {
	Type  string `json:"type"`
	Count int64  `json:"count"`
}

// Autoscaling bounds a node pool's size per zone, as GKE does.
type Autoscaling struct {
	MinNodes int32 `json:"minNodes"`
	MaxNodes int32 `json:"maxNodes"`
}

// KubeconfigRef names an existing cluster by kubeconfig context.
type KubeconfigRef struct {
	Context string `json:"context"`
	// Path is a kubeconfig file, relative to the topology file; default is the
	// usual resolution (--kubeconfig, $KUBECONFIG, ~/.kube/config).
	Path string `json:"path,omitempty"`
}

// Workload is a kustomize app and where it goes.
type Workload struct {
	Name string `json:"name"`
	// Source is a kustomize root relative to the topology file.
	Source    string    `json:"source"`
	Placement Placement `json:"placement,omitempty"`
}

// Placement selects clusters and optionally divides replicas among them.
type Placement struct {
	ClusterSelector *metav1.LabelSelector `json:"clusterSelector,omitempty"`
	// Clusters names clusters explicitly, instead of a selector.
	Clusters []string  `json:"clusters,omitempty"`
	Replicas *Replicas `json:"replicas,omitempty"`
	// Data names where the workload's data is, as gs://bucket/prefix
	// URLs, for a workload placed without replicas.near: the plan shows
	// what reading it costs from each cluster, and warns when a cluster
	// would read it from another continent.
	Data []string `json:"data,omitempty"`
}

// CapacityFigure is which capacity divideBy: capacity divides by.
type CapacityFigure string

const (
	// CapacityCurrent divides by the replicas that fit on the nodes the
	// clusters have now.
	CapacityCurrent CapacityFigure = "current"
	// CapacityScaleUp divides by the replicas that fit once every
	// autoscaling node pool has grown to its maxNodes, as GKE's cluster
	// autoscaler grows a pool for Pending pods: the default, because GPU
	// pools commonly scale from 0 and would otherwise never get a replica.
	CapacityScaleUp CapacityFigure = "scaleUp"
)

// DivideBy is how replicas are divided among the selected clusters.
type DivideBy string

const (
	DivideByWeight   DivideBy = "weight"
	DivideByCapacity DivideBy = "capacity"
	DivideByLocality DivideBy = "locality"
	DivideByCost     DivideBy = "cost"
)

// Spill is what divideBy: locality does with the replicas the nearest
// cluster cannot hold.
type Spill string

const (
	// SpillMax fills each cluster, nearest first, up to max whether or not
	// the replicas fit there: the default, because a job that reads its
	// data where it is would rather wait for GPUs there than run far from
	// it; the plan warns how many would stay Pending.
	SpillMax Spill = "max"
	// SpillFit fills each cluster up to what fits after scale-up (and to
	// max), then the next nearest.
	SpillFit Spill = "fit"
)

// Replicas is a total divided among the selected clusters.
type Replicas struct {
	Total    int32    `json:"total"`
	DivideBy DivideBy `json:"divideBy,omitempty"`
	// Resource is what capacity is measured in (default nvidia.com/gpu).
	Resource string `json:"resource,omitempty"`
	// Capacity says which figure divideBy capacity divides by: the
	// replicas that fit now, or after the clusters' autoscaling node pools
	// have grown to their maximum (the default).
	Capacity CapacityFigure `json:"capacity,omitempty"`
	// Near is where locality fills from: a region, or a gs://bucket/prefix
	// URL, whose bucket's location (read from Cloud Storage) is the
	// region or regions (and cost breaks ties by it).
	Near string `json:"near,omitempty"`
	// Spill says when divideBy: locality moves on to the next nearest
	// cluster: at max (the default) or once no more replicas fit.
	Spill Spill `json:"spill,omitempty"`
	// MaxCostPerHour caps what divideBy: cost places, in US dollars per
	// hour for all the workload's replicas.
	MaxCostPerHour *float64 `json:"maxCostPerHour,omitempty"`
	// Weights keys are region or cluster names; others weigh 1.
	Weights map[string]int32 `json:"weights,omitempty"`
	Min     *int32           `json:"min,omitempty"`
	Max     *int32           `json:"max,omitempty"`
}

// Managed reports whether geofed provisions this cluster in GKE.
func (c *Cluster) Managed() bool { return c.GKE != nil }

// ClusterRef is a member cluster with the region it sits in.
type ClusterRef struct {
	Region  string
	Cluster *Cluster
}

// Clusters lists every member cluster in file order.
func (t *Topology) Clusters() []ClusterRef {
	var out []ClusterRef
	for i := range t.Spec.Regions {
		r := &t.Spec.Regions[i]
		for j := range r.Clusters {
			out = append(out, ClusterRef{Region: r.Name, Cluster: &r.Clusters[j]})
		}
	}
	return out
}

// Labels returns the cluster's labels plus the implicit geofed.io/region and
// geofed.io/cluster labels, which win over user labels of the same key.
func (r ClusterRef) Labels() map[string]string {
	out := make(map[string]string, len(r.Cluster.Labels)+2)
	for k, v := range r.Cluster.Labels {
		out[k] = v
	}
	out[LabelRegion] = r.Region
	out[LabelCluster] = r.Cluster.Name
	return out
}
