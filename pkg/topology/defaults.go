package topology

const (
	// DefaultReleaseChannel is the GKE release channel when neither the
	// cluster nor spec.gke names one; GKE's own default.
	DefaultReleaseChannel = "REGULAR"
	// DefaultResource is what divideBy: capacity measures.
	DefaultResource = "nvidia.com/gpu"
)

// Default fills in what the file may leave out, so later stages read one
// explicit value instead of repeating the rules. Load and Parse call it on
// valid topologies; it is idempotent. Replica min and max stay nil: absent
// means unbounded (and a min of 0).
func Default(t *Topology) {
	var project, channel string
	if t.Spec.GKE != nil {
		project, channel = t.Spec.GKE.Project, t.Spec.GKE.ReleaseChannel
	}
	if channel == "" {
		channel = DefaultReleaseChannel
	}
	for i := range t.Spec.Regions {
		r := &t.Spec.Regions[i]
		for j := range r.Clusters {
			if g := r.Clusters[j].GKE; g != nil {
				defaultGKE(g, r.Name, project, channel)
			}
		}
	}
	for i := range t.Spec.Workloads {
		if rep := t.Spec.Workloads[i].Placement.Replicas; rep != nil {
			if rep.DivideBy == "" {
				rep.DivideBy = DivideByWeight
			}
			if rep.Resource == "" {
				rep.Resource = DefaultResource
			}
			if rep.Capacity == "" && rep.DivideBy == DivideByCapacity {
				rep.Capacity = CapacityScaleUp
			}
			if rep.Spill == "" && rep.DivideBy == DivideByLocality {
				rep.Spill = SpillMax
			}
		}
	}
}

func defaultGKE(g *GKECluster, region, project, channel string) {
	if g.Location == "" {
		g.Location = region
	}
	if g.Project == "" {
		g.Project = project
	}
	if g.ReleaseChannel == "" {
		g.ReleaseChannel = channel
	}
	for k := range g.NodePools {
		np := &g.NodePools[k]
		// An autoscaled pool's size belongs to the autoscaler; a count
		// there would only be the initial one, left to the gke package.
		if np.NodeCount == nil && np.Autoscaling == nil {
			np.NodeCount = new(int32(1))
		}
	}
}
