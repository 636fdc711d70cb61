package placement

import (
	"errors"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// ClustersOf lists a topology's member clusters as placement sees them, with
// their implicit labels. Reachability and capacity are the caller's to
// fill in: only it talks to clusters.
func ClustersOf(t *topology.Topology) []Cluster {
	refs := t.Clusters()
	out := make([]Cluster, 0, len(refs))
	for _, r := range refs {
		out = append(out, Cluster{Name: r.Cluster.Name, Region: r.Region, Labels: r.Labels()})
	}
	return out
}

// Select returns the clusters a placement selects, sorted by region then
// name: those matching clusterSelector, or those named in clusters, or every
// cluster when the placement has neither. Selecting nothing is an error.
// Unreachable clusters are selected like any other; dividing is what
// excludes them.
func Select(p topology.Placement, clusters []Cluster) ([]Cluster, error) {
	all, err := sortedClusters(clusters)
	if err != nil {
		return nil, err
	}
	switch {
	case p.ClusterSelector != nil && len(p.Clusters) > 0:
		return nil, errors.New("placement has both clusterSelector and clusters; use one")

	case p.ClusterSelector != nil:
		sel, err := metav1.LabelSelectorAsSelector(p.ClusterSelector)
		if err != nil {
			return nil, fmt.Errorf("placement.clusterSelector: %w", err)
		}
		var out []Cluster
		for _, c := range all {
			if sel.Matches(labels.Set(labelsOf(c))) {
				out = append(out, c)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("placement selects no cluster: clusterSelector %s matches none of the %d clusters",
				metav1.FormatLabelSelector(p.ClusterSelector), len(all))
		}
		return out, nil

	case len(p.Clusters) > 0:
		byName := make(map[string]int, len(all))
		for i, c := range all {
			byName[c.Name] = i
		}
		picked := make(map[string]bool, len(p.Clusters))
		for _, name := range p.Clusters {
			if _, ok := byName[name]; !ok {
				return nil, fmt.Errorf("placement.clusters: no cluster named %q", name)
			}
			if picked[name] {
				return nil, fmt.Errorf("placement.clusters: %q listed twice", name)
			}
			picked[name] = true
		}
		var out []Cluster
		for _, c := range all {
			if picked[c.Name] {
				out = append(out, c)
			}
		}
		return out, nil

	default:
		if len(all) == 0 {
			return nil, errors.New("placement selects no cluster: there are no clusters")
		}
		return all, nil
	}
}

// labelsOf returns the labels a selector sees: the cluster's own plus the
// implicit ones, which win, as in topology.ClusterRef.Labels.
func labelsOf(c Cluster) map[string]string {
	out := make(map[string]string, len(c.Labels)+2)
	for k, v := range c.Labels {
		out[k] = v
	}
	out[topology.LabelRegion] = c.Region
	out[topology.LabelCluster] = c.Name
	return out
}

// sortedClusters copies clusters sorted by region then name, the order of
// every Result, so that nothing downstream depends on the caller's order.
// Names must be unique: they are what shares, ties and explanations go by.
func sortedClusters(clusters []Cluster) ([]Cluster, error) {
	out := append([]Cluster(nil), clusters...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Region != out[j].Region {
			return out[i].Region < out[j].Region
		}
		return out[i].Name < out[j].Name
	})
	seen := make(map[string]bool, len(out))
	for _, c := range out {
		if seen[c.Name] {
			return nil, fmt.Errorf("cluster %q appears twice", c.Name)
		}
		seen[c.Name] = true
	}
	return out, nil
}
