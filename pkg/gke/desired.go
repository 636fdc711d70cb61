package gke

import (
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// GKE resource labels that mark a cluster as geofed's. GKE label keys allow
// only lowercase letters, digits, '_' and '-', hence no geofed.io/ prefix.
const (
	LabelTopology  = "geofed-topology"
	LabelManagedBy = "managed-by"
	ManagedBy      = "kubectl-geofed"
)

// Desired returns the cluster geofed would create for ref: name, location,
// release channel, node pools and the ownership labels. It returns nil for a
// joined (kubeconfig) cluster, which geofed never provisions.
//
// Defaults are applied here as well as by topology loading, so Desired is
// total over any topology value: the project falls back to spec.gke.project,
// the location to the region, the release channel to spec.gke.releaseChannel
// and then topology.DefaultReleaseChannel. A release channel GKE does not
// know maps to UNSPECIFIED; topology validation is where such a name is
// rejected.
//
// GKE has no project field on a Cluster, so Desired records the project in
// SelfLink (the full resource name GKE itself reports there); Project reads
// it back. SelfLink is output-only, so GKE ignores it on create.
func Desired(t *topology.Topology, ref topology.ClusterRef) *containerpb.Cluster {
	g := ref.Cluster.GKE
	if g == nil {
		return nil
	}
	project := g.Project
	channel := g.ReleaseChannel
	if t.Spec.GKE != nil {
		if project == "" {
			project = t.Spec.GKE.Project
		}
		if channel == "" {
			channel = t.Spec.GKE.ReleaseChannel
		}
	}
	location := g.Location
	if location == "" {
		location = ref.Region
	}

	c := &containerpb.Cluster{
		Name:     ref.Cluster.Name,
		Location: location,
		SelfLink: selfLinkPrefix + ResourceName(project, location, ref.Cluster.Name),
		ResourceLabels: map[string]string{
			LabelTopology:  t.Metadata.Name,
			LabelManagedBy: ManagedBy,
		},
		ReleaseChannel: &containerpb.ReleaseChannel{Channel: releaseChannel(channel)},
	}
	for _, p := range g.NodePools {
		c.NodePools = append(c.NodePools, desiredNodePool(p))
	}
	return c
}

func desiredNodePool(p topology.NodePool) *containerpb.NodePool {
	np := &containerpb.NodePool{
		Name: p.Name,
		Config: &containerpb.NodeConfig{
			MachineType: p.MachineType,
			Spot:        p.Spot,
		},
	}
	for _, a := range p.Accelerators {
		np.Config.Accelerators = append(np.Config.Accelerators, &containerpb.AcceleratorConfig{
			AcceleratorType:  a.Type,
			AcceleratorCount: a.Count,
		})
	}
	// Without an explicit size, a pool starts at its autoscaling floor, or
	// with one node: GKE rejects a fixed-size pool of zero nodes at create.
	switch {
	case p.NodeCount != nil:
		np.InitialNodeCount = *p.NodeCount
	case p.Autoscaling != nil:
		np.InitialNodeCount = p.Autoscaling.MinNodes
	default:
		np.InitialNodeCount = 1
	}
	if p.Autoscaling != nil {
		np.Autoscaling = &containerpb.NodePoolAutoscaling{
			Enabled:      true,
			MinNodeCount: p.Autoscaling.MinNodes,
			MaxNodeCount: p.Autoscaling.MaxNodes,
		}
	}
	return np
}

func releaseChannel(name string) containerpb.ReleaseChannel_Channel {
	if name == "" {
		name = topology.DefaultReleaseChannel
	}
	return containerpb.ReleaseChannel_Channel(containerpb.ReleaseChannel_Channel_value[strings.ToUpper(name)])
}

// selfLinkPrefix is what GKE puts before the resource name in SelfLink.
const selfLinkPrefix = "https://container.googleapis.com/v1/"

// ResourceName is a cluster's full name in the GKE API,
// projects/P/locations/L/clusters/N.
func ResourceName(project, location, name string) string {
	return "projects/" + project + "/locations/" + location + "/clusters/" + name
}

// Project returns the project a cluster lives in, read from its SelfLink
// (set by GKE on live clusters, by Desired on desired ones), or "" when the
// SelfLink names none.
func Project(c *containerpb.Cluster) string {
	parts := strings.Split(c.GetSelfLink(), "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "projects" {
			return parts[i+1]
		}
	}
	return ""
}
