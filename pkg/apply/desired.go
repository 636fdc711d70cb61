package apply

import (
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// excludedPrefix starts a placement.Share's Excluded reason.
const excludedPrefix = "unreachable: "

// desiredOf renders what every cluster should hold with the placement the
// plan showed. A plan saves no manifests (it never holds a Secret's value),
// so apply renders again; the placement inputs — which clusters were
// excluded as unreachable and, for capacity divisions, their spare capacity
// — are read back from the plan's placement results rather than observed
// anew, so the replicas are the ones the person approved. The result is
// checked against the plan: the same shares, the same objects, the same
// manifests.
func desiredOf(t *topology.Topology, fs filesys.FileSystem, p *plan.Plan) (*plan.Desired, error) {
	d, err := plan.ComputeDesired(plan.DesiredOptions{Topology: t, FS: fs, Clusters: placementInputs(t, p)})
	if err != nil {
		return nil, fmt.Errorf("rendering the workloads: %w", err)
	}
	if err := samePlacements(p.Placements, d.Placements); err != nil {
		return nil, err
	}
	for _, r := range p.Regions {
		for _, c := range r.Clusters {
			if c.Unreachable != "" || c.Error != "" {
				continue
			}
			dc, ok := d.Cluster(c.Name)
			if !ok {
				return nil, fmt.Errorf("cluster %s is in the plan but not in the topology %s: the topology changed since the plan was made; plan again", c.Name, t.Path)
			}
			if err := sameObjects(c, dc); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// placementInputs rebuilds the clusters as placement saw them when p was
// computed.
func placementInputs(t *topology.Topology, p *plan.Plan) []placement.Cluster {
	clusters := placement.ClustersOf(t)
	byName := make(map[string]*placement.Cluster, len(clusters))
	for i := range clusters {
		byName[clusters[i].Name] = &clusters[i]
	}
	for _, pr := range p.Placements {
		for _, s := range pr.Shares {
			c := byName[s.Cluster]
			if c == nil {
				continue
			}
			if s.Excluded != "" {
				c.Unreachable = strings.TrimPrefix(s.Excluded, excludedPrefix)
			}
			if pr.Mode == placement.ModeCapacity && s.Weight != nil {
				if c.Spare == nil {
					c.Spare = map[string]int64{}
				}
				c.Spare[pr.Resource] = int64(*s.Weight)
			}
		}
	}
	return clusters
}

// samePlacements checks that every workload lands where the plan said, with
// the same replicas.
func samePlacements(planned, got []placement.Result) error {
	shares := func(rs []placement.Result) map[string]string {
		out := map[string]string{}
		for _, r := range rs {
			var parts []string
			for _, s := range r.Shares {
				part := s.Cluster
				switch {
				case s.Excluded != "":
					part += " excluded"
				case s.Replicas != nil:
					part += fmt.Sprintf(" %d", *s.Replicas)
				}
				parts = append(parts, part)
			}
			out[r.Workload] = strings.Join(parts, ", ")
		}
		return out
	}
	want, have := shares(planned), shares(got)
	for _, w := range unionKeys(want, have) {
		if want[w] != have[w] {
			return fmt.Errorf("workload %s: the plan places it on [%s], the topology now on [%s]: plan again", w, want[w], have[w])
		}
	}
	return nil
}

// sameObjects checks that a cluster's rendered objects are the plan's: the
// same set (prunes aside) and, where the plan recorded one, the same hash.
func sameObjects(c plan.Cluster, dc *plan.DesiredCluster) error {
	planned := map[string]plan.Object{}
	for _, o := range c.Objects {
		if o.Action != plan.ActionDelete {
			planned[inventory.Key(o.Group, o.Kind, o.Namespace, o.Name)] = o
		}
	}
	for _, d := range dc.Objects {
		key := inventory.ObjectKey(d.Object)
		o, ok := planned[key]
		if !ok {
			return fmt.Errorf("cluster %s: %s is rendered now but not in the plan: the sources changed since the plan was made; plan again", c.Name, describe(d.Object))
		}
		if o.DesiredHash != "" && o.DesiredHash != d.Hash {
			return fmt.Errorf("cluster %s: %s renders differently from the plan: the sources changed since the plan was made; plan again", c.Name, describe(d.Object))
		}
		delete(planned, key)
	}
	if len(planned) > 0 {
		keys := make([]string, 0, len(planned))
		for k := range planned {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return fmt.Errorf("cluster %s: %s is in the plan but no longer rendered: the sources changed since the plan was made; plan again", c.Name, objectName(planned[keys[0]]))
	}
	return nil
}

// objectName names a plan object the way plans print it: [group/]Kind ns/name.
func objectName(o plan.Object) string {
	kind := o.Kind
	if o.Group != "" {
		kind = o.Group + "/" + o.Kind
	}
	return kind + " " + nsName(o.Namespace, o.Name)
}
