package plan

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// guard puts the prune guard on the plan: its settings and fleet totals on
// the plan, each held cluster's guard on the cluster. Clusters that could
// not be planned in full are left out: apply touches nothing on them.
func guard(p *Plan, t *topology.Topology, want *desired.State, o GuardOptions) {
	var counts []PruneCount
	for _, r := range p.Regions {
		for _, c := range r.Clusters {
			if c.Unreachable != "" || c.Error != "" {
				continue
			}
			pc := PruneCount{Cluster: c.Name, Owned: c.Owned, Deleting: map[string]int{}, Keeping: map[string]int{}}
			for _, obj := range c.Objects {
				if obj.Action == object.ActionDelete {
					pc.Deleting[obj.Workload]++
				}
			}
			if dc, ok := want.Cluster(c.Name); ok {
				for _, d := range dc.Objects {
					pc.Keeping[d.Workload]++
				}
			}
			pc.Workloads = absences(t, want.Placements, c.Name)
			counts = append(counts, pc)
		}
	}
	held, fleet := GuardPrunes(counts, o)
	p.PruneGuard = fleet
	for ri := range p.Regions {
		for ci := range p.Regions[ri].Clusters {
			c := &p.Regions[ri].Clusters[ci]
			c.PruneGuard = held[c.Name]
		}
	}
}

// absences says, for each workload of the topology, why none of it would
// land on the cluster: its placement no longer selects it (naming the
// selector and the cluster's labels it reads), excludes it, or places it
// there and renders nothing.
func absences(t *topology.Topology, placements []placement.Result, cluster string) map[string]string {
	ref, _ := t.Cluster(cluster)
	out := map[string]string{}
	for _, w := range t.Spec.Workloads {
		var share *placement.Share
		for _, pr := range placements {
			if pr.Workload != w.Name {
				continue
			}
			for i := range pr.Shares {
				if pr.Shares[i].Cluster == cluster {
					share = &pr.Shares[i]
				}
			}
		}
		switch {
		case share != nil && share.Excluded != "":
			out[w.Name] = "excludes it: " + share.Excluded
		case share != nil:
			out[w.Name] = "is placed on it but renders no object for it (its kustomize source or overlay for this cluster)"
		case w.Placement.ClusterSelector != nil && ref.Cluster != nil:
			out[w.Name] = fmt.Sprintf("no longer selects it: clusterSelector %s, %s",
				metav1.FormatLabelSelector(w.Placement.ClusterSelector), labelsRead(w.Placement.ClusterSelector, ref))
		case len(w.Placement.Clusters) > 0:
			out[w.Name] = "no longer selects it: placement.clusters lists " + strings.Join(w.Placement.Clusters, ", ")
		default:
			out[w.Name] = "no longer selects it"
		}
	}
	return out
}

// labelsRead shows the cluster's labels a selector reads: "the cluster's
// labels role=servign", "the cluster has no label tier".
func labelsRead(sel *metav1.LabelSelector, ref topology.ClusterRef) string {
	var keys []string
	for k := range sel.MatchLabels {
		keys = append(keys, k)
	}
	for _, e := range sel.MatchExpressions {
		keys = append(keys, e.Key)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	labels := ref.Labels()
	var have, lack []string
	for _, k := range keys {
		if v, ok := labels[k]; ok {
			have = append(have, k+"="+v)
		} else {
			lack = append(lack, k)
		}
	}
	var parts []string
	if len(have) > 0 {
		parts = append(parts, "the cluster's labels "+strings.Join(have, ","))
	}
	if len(lack) > 0 {
		parts = append(parts, "the cluster has no label "+strings.Join(lack, ", "))
	}
	return strings.Join(parts, "; ")
}

func clusterNames(t *topology.Topology) []string {
	var out []string
	for _, ref := range t.Clusters() {
		out = append(out, ref.Cluster.Name)
	}
	return out
}
