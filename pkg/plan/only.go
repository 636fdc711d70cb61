package plan

import (
	"slices"
	"strings"

	"github.com/geofed-io/kubectl-geofed/pkg/placement"
)

// Only is the plan narrowed to one cluster: its region holding only it, the
// placements that include it (they show how its share was divided among
// the others), the warnings about those workloads and about it, and the
// summary of its own changes, counted as the whole plan's are. join prints
// it for the cluster it adds.
func (p *Plan) Only(cluster string) *Plan {
	out := *p
	out.Regions, out.Placements, out.Warnings, out.Orphans = nil, nil, nil, nil
	for _, r := range p.Regions {
		for _, c := range r.Clusters {
			if c.Name == cluster {
				out.Regions = []Region{{Name: r.Name, Clusters: []Cluster{c}}}
			}
		}
	}
	var workloads []string
	for _, pl := range p.Placements {
		if slices.ContainsFunc(pl.Shares, func(s placement.Share) bool { return s.Cluster == cluster }) {
			out.Placements = append(out.Placements, pl)
			workloads = append(workloads, pl.Workload)
		}
	}
	// Warnings are plain lines, prefixed with what they are about.
	for _, w := range p.Warnings {
		keep := strings.HasPrefix(w, "cluster "+cluster+":")
		for _, wl := range workloads {
			keep = keep || strings.HasPrefix(w, "workload "+wl+":")
		}
		if keep {
			out.Warnings = append(out.Warnings, w)
		}
	}
	out.Summary = summarize(&out)
	return &out
}
